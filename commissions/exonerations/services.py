"""Writes of exonerations (thesis 5.2.6): request, approve, reject.

Decisions (DOMAIN.md 6 left them open; README "Money rules"):
- The three percentages are fractions of the credit's late interest, collection fees
  and commissions in its latest position; the largest of them is what a limit caps.
- A request within the requester's own limit (`exoneration_limits`: role,
  classification, installments paid) is approved at once. The strategy approves it,
  not the requester: the decision has no `decided_by` and says "within the limit".
  So an asesor never approves anything, its own requests included, and never
  someone else's: approving and rejecting are for the chain above it.
- Above the requester's limit the request waits for the first role of the chain
  jefe de agencia → jefe zonal → gerente (above the requester's own) whose limit
  covers it; a role of that rank or higher, with the client in its scope, decides.
  Above every limit of the strategy it is refused, naming the percentage.
- One pending request per credit at a time.
Every write keeps its history with who and why (django-simple-history).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from commissions.exonerations.selectors import (
    APPROVER_CHAIN,
    RANK,
    exonerations_visible_to,
    role_limit,
    waiver_base,
)
from commissions.models import Exoneration
from commissions.scheme import exoneration_limits_for
from portfolio.exceptions import InvalidInput, NotFound, PermissionDenied
from portfolio.models import Credit, Role
from portfolio.selectors import role_of
from strategy.selectors import active_strategy

REQUESTER_ROLES = (Role.ASESOR, Role.AGENCIA_EXTERNA, *APPROVER_CHAIN)
CONCEPTS = ("late_interest", "collection_fees", "commissions")
CENT = Decimal("0.01")


def _pct(value, field: str) -> Decimal:
    try:
        pct = Decimal(str(value))
    except ArithmeticError as exc:
        raise InvalidInput(_("%(field)s must be a number") % {"field": field}, field) from exc
    if not pct.is_finite() or pct < 0 or pct > 1:
        raise InvalidInput(
            _("%(field)s must be a fraction between 0 and 1 (0.30 is 30 %%)") % {"field": field},
            field,
        )
    return pct.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _percent(fraction: Decimal) -> str:
    text = format((fraction * 100).normalize(), "f")
    return text


@transaction.atomic
def exoneration_request(
    *,
    user: AbstractBaseUser,
    client_code: str,
    credit_code: str,
    late_interest_pct,
    collection_fees_pct,
    commissions_pct,
    reason: str,
) -> Exoneration:
    role = role_of(user)
    if role not in REQUESTER_ROLES:
        raise PermissionDenied(_("your role may not request exonerations"))
    pcts = {
        "late_interest": _pct(late_interest_pct, "late_interest_pct"),
        "collection_fees": _pct(collection_fees_pct, "collection_fees_pct"),
        "commissions": _pct(commissions_pct, "commissions_pct"),
    }
    if not any(pcts.values()):
        raise InvalidInput(_("nothing to waive: every percentage is 0"), "late_interest_pct")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("an exoneration needs a reason"), "reason")
    base = waiver_base(user=user, client_code=client_code, credit_code=credit_code)
    Credit.objects.select_for_update().filter(pk=base.credit.pk).first()  # one at a time
    pending = Exoneration.objects.filter(credit=base.credit, status=Exoneration.Status.PENDING)
    if pending.exists():
        raise InvalidInput(
            _("a request for credit %(code)s is already pending (#%(id)s)")
            % {"code": credit_code, "id": pending.values_list("pk", flat=True).first()},
            "credit_code",
        )
    version = active_strategy()
    if version is None:
        raise InvalidInput(_("no strategy has been published"), "client_code")
    limits = exoneration_limits_for(version)
    classification = base.case.classification
    paid = base.installments_paid

    def limit(of: str) -> Decimal:
        return role_limit(limits, role=of, classification=classification, paid=paid)

    largest = max(pcts.values())
    own = limit(role)
    if own > 0 and largest <= own:
        status, required = Exoneration.Status.APPROVED, role
    else:
        status = Exoneration.Status.PENDING
        above = [r for r in APPROVER_CHAIN if RANK[r] > RANK[role]]
        required = next((r for r in above if limit(r) >= largest), None)
        if required is None:
            field = next(f"{c}_pct" for c in CONCEPTS if pcts[c] == largest)
            raise InvalidInput(
                _(
                    "%(pct)s %% is above every limit of the strategy for classification "
                    "%(class)s with %(paid)s installments paid"
                )
                % {"pct": _percent(largest), "class": classification, "paid": paid},
                field,
            )
    now = timezone.now()
    amounts = {c: getattr(base, c) for c in CONCEPTS}
    exoneration = Exoneration(
        client=base.client,
        credit=base.credit,
        business_date=base.business_date,
        classification=classification,
        installments_paid=paid,
        **{f"{c}_pct": pcts[c] for c in CONCEPTS},
        **amounts,
        **{
            f"{c}_waived": (amounts[c] * pcts[c]).quantize(CENT, rounding=ROUND_HALF_UP)
            for c in CONCEPTS
        },
        reason=reason,
        requested_by=user,
        requester_role=role,
        requested_at=now,
        requester_limit=own,
        required_role=required,
        status=status,
        decided_at=now if status == Exoneration.Status.APPROVED else None,
        decision_note=(
            _("within the %(role)s limit of the strategy (v%(v)s)")
            % {"role": role, "v": version.number}
            if status == Exoneration.Status.APPROVED
            else ""
        ),
        strategy_version=version.number,
    )
    exoneration._history_user = user
    exoneration._change_reason = "requested"
    exoneration.save()
    return exoneration


def _to_decide(user: AbstractBaseUser, exoneration_id: int) -> tuple[Exoneration, str]:
    role = role_of(user)
    if role in (Role.ASESOR, Role.AGENCIA_EXTERNA):
        raise PermissionDenied(_("an asesor never approves nor rejects an exoneration"))
    exoneration = (
        exonerations_visible_to(user).select_for_update().filter(pk=exoneration_id).first()
    )
    if exoneration is None:
        raise NotFound(_("exoneration %(id)s not found") % {"id": exoneration_id})
    if role not in APPROVER_CHAIN:
        raise PermissionDenied(_("your role may not decide exonerations"))
    if RANK[role] < RANK.get(exoneration.required_role, 99):
        raise PermissionDenied(
            _("this request is above your limit: it waits for the %(role)s")
            % {"role": Role(exoneration.required_role).label}
        )
    return exoneration, role


def _decide(exoneration: Exoneration, *, user, status: str, note: str) -> Exoneration:
    exoneration.status = status
    exoneration.decided_by = user
    exoneration.decided_at = timezone.now()
    exoneration.decision_note = note
    exoneration._history_user = user
    exoneration._change_reason = status
    exoneration.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return exoneration


@transaction.atomic
def exoneration_approve(
    *, user: AbstractBaseUser, exoneration_id: int, note: str = ""
) -> Exoneration:
    """Approve a pending request (a repeat answers with the approved one)."""
    exoneration, _role = _to_decide(user, exoneration_id)
    if exoneration.status == Exoneration.Status.APPROVED:
        return exoneration
    if exoneration.status != Exoneration.Status.PENDING:
        raise InvalidInput(_("the request was already rejected"), "status")
    return _decide(exoneration, user=user, status=Exoneration.Status.APPROVED, note=note.strip())


@transaction.atomic
def exoneration_reject(*, user: AbstractBaseUser, exoneration_id: int, note: str) -> Exoneration:
    """Reject a pending request, with a reason (a repeat answers with the rejected one)."""
    exoneration, _role = _to_decide(user, exoneration_id)
    if exoneration.status == Exoneration.Status.REJECTED:
        return exoneration
    if exoneration.status != Exoneration.Status.PENDING:
        raise InvalidInput(_("the request was already approved"), "status")
    if not (note or "").strip():
        raise InvalidInput(_("a rejection needs a reason"), "note")
    return _decide(exoneration, user=user, status=Exoneration.Status.REJECTED, note=note.strip())
