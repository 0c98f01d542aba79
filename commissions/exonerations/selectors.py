"""Reads of exonerations, always through the reader's scope (404 outside it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from collections_field.models import Case
from commissions.models import Exoneration
from commissions.scheme import ExonerationLimit
from portfolio.exceptions import InvalidInput, NotFound
from portfolio.models import Client, Credit, CreditPosition, Payment, Role
from portfolio.selectors import clients_visible_to, latest_business_date, role_of

# Who decides above the requester's limit, in order (DOMAIN.md 1: asesor → jefe de
# agencia → jefe zonal → gerente); the rank is the escalation level of the role.
APPROVER_CHAIN = (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE)
RANK = {Role.ASESOR: 1, Role.AGENCIA_EXTERNA: 1, Role.JEFE_AGENCIA: 2, Role.JEFE_ZONAL: 3,
        Role.GERENTE: 4}  # fmt: skip


def exonerations_visible_to(user: AbstractBaseUser) -> QuerySet[Exoneration]:
    return Exoneration.objects.filter(client__in=clients_visible_to(user))


def exoneration_for(*, user: AbstractBaseUser, exoneration_id: int) -> Exoneration:
    found = (
        exonerations_visible_to(user)
        .select_related("client", "credit", "requested_by", "decided_by")
        .filter(pk=exoneration_id)
        .first()
    )
    if found is None:
        raise NotFound(_("exoneration %(id)s not found") % {"id": exoneration_id})
    return found


def exonerations_list(
    *, user: AbstractBaseUser, status: str | None = None, client_code: str | None = None
) -> QuerySet[Exoneration]:
    rows = exonerations_visible_to(user).select_related(
        "client", "credit", "requested_by", "decided_by"
    )
    if status:
        rows = rows.filter(status=status)
    if client_code:
        rows = rows.filter(client__code=client_code)
    return rows.order_by("-requested_at", "-id")


def exonerations_to_decide(*, user: AbstractBaseUser) -> QuerySet[Exoneration]:
    """The pending requests this reader may approve: in its scope, waiting for its
    role or a lower one of the chain (an asesor decides nothing)."""
    rank = RANK.get(role_of(user), 0)
    allowed = [r for r in APPROVER_CHAIN if RANK[r] <= rank] if rank >= 2 else []
    return exonerations_list(user=user, status=Exoneration.Status.PENDING).filter(
        required_role__in=allowed
    )


def installments_paid(*, credit: Credit) -> int:
    """Cuotas pagadas (5.2.6), from the data core banking sends: the installments
    its payments on the credit covered (`Payment.installments`, summed). The
    snapshot holds no count of installments not yet due, so "total − overdue −
    remaining" cannot be computed; payments are records a dispute can point at."""
    total = Payment.objects.filter(credit=credit).aggregate(n=Sum("installments"))["n"]
    return int(total or 0)


def role_limit(
    limits: list[ExonerationLimit], *, role: str, classification: str, paid: int
) -> Decimal:
    """The largest waiver (fraction of each concept) a role may grant alone for this
    client: the best of its rows for the classification whose installments threshold
    the client reached; 0 when none applies (the role cannot grant it alone)."""
    pcts = [
        limit.max_pct
        for limit in limits
        if limit.role == role
        and limit.classification == classification
        and paid >= limit.min_installments_paid
    ]
    return max(pcts, default=Decimal("0"))


@dataclass(frozen=True)
class WaiverBase:
    """What a waiver of this credit applies to: its latest position's late charges."""

    client: Client
    credit: Credit
    case: Case
    business_date: date
    late_interest: Decimal
    collection_fees: Decimal
    commissions: Decimal
    installments_paid: int


def waiver_base(*, user: AbstractBaseUser, client_code: str, credit_code: str) -> WaiverBase:
    client = clients_visible_to(user).filter(code=client_code).first()
    if client is None:
        raise NotFound(_("client %(code)s not found") % {"code": client_code})
    credit = Credit.objects.filter(code=credit_code, client=client).first()
    if credit is None:
        raise InvalidInput(
            _("%(credit)s is not a credit of client %(client)s")
            % {"credit": credit_code, "client": client_code},
            "credit_code",
        )
    case = Case.objects.filter(client=client).first()
    if case is None:
        raise InvalidInput(_("the client has no collection case"), "client_code")
    day = latest_business_date()
    position = (
        CreditPosition.objects.filter(business_date=day, credit=credit).first() if day else None
    )
    if position is None:
        raise InvalidInput(
            _("credit %(code)s is not in the latest snapshot") % {"code": credit_code},
            "credit_code",
        )
    return WaiverBase(
        client=client,
        credit=credit,
        case=case,
        business_date=day,
        late_interest=position.late_interest,
        collection_fees=position.collection_fees,
        commissions=position.commissions,
        installments_paid=installments_paid(credit=credit),
    )
