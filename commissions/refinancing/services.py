"""Writes of the refinancing work: requests, and the jefe's approval or rejection.

Who may do what (the "requester's limits"; DOMAIN.md 6 leaves them to us):

- **Asesores and external agency users request, never approve.** Their request is
  always `pending` for a jefe de agencia (or a jefe zonal or the gerente over it).
- **A jefe de agencia, a jefe zonal or the gerente** may request too: their request
  is within their own authority and is approved at once. They approve or reject the
  pending requests of clients in their scope (agency, zone, everything).
- **Core banking's service account** reads the approved ones; it neither requests
  nor approves.
- The product's own limits (term, down payment, minimum installment, maximum waivers,
  days past due) are checked by the simulation every request is made from, so an
  approval never goes beyond the product.

Every request and every decision is audited (django-simple-history: who, when,
before and after, and why). The approval's effect on the case (event 80, then the
BAS table) comes with the next cycle (`commissions.refinancing.events`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_field.engine.plan import action_mark_done
from collections_field.models import PlannedAction
from commissions.models import RefinancingRequest
from commissions.refinancing.selectors import credit_figures, request_for, simulation_for
from portfolio.exceptions import DomainError, InvalidInput, NotFound, PermissionDenied
from portfolio.models import Role
from portfolio.selectors import role_of
from strategy.models import StrategyVersion

REQUESTER_ROLES = (
    Role.ASESOR,
    Role.AGENCIA_EXTERNA,
    Role.JEFE_AGENCIA,
    Role.JEFE_ZONAL,
    Role.GERENTE,
)
APPROVER_ROLES = (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE)


class AlreadyDecided(DomainError):
    code = "already_decided"
    field = "status"


class StaleSimulation(DomainError):
    code = "stale"
    field = "credit_code"


@transaction.atomic
def refinancing_request_create(
    *,
    user: AbstractBaseUser,
    credit_code: str,
    product: str,
    term_months: int,
    down_payment: Decimal,
    first_due_date: date,
    reason: str,
    start_date: date | None = None,
    waived_pct: dict[str, Decimal] | None = None,
    at: datetime | None = None,
) -> RefinancingRequest:
    """Record a request with the simulation it comes from (simulated again here, so
    the numbers are the server's). Approved at once if the requester may approve,
    else pending. `at` is the moment of the request (default now)."""
    role = role_of(user)
    if role not in REQUESTER_ROLES:
        raise PermissionDenied(_("your role may not request a refinancing"))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("say why the client needs the refinancing"), "reason")
    simulation = simulation_for(
        user=user,
        credit_code=credit_code,
        product=product,
        term_months=term_months,
        down_payment=down_payment,
        first_due_date=first_due_date,
        start_date=start_date,
        waived_pct=waived_pct,
    )
    figures = credit_figures(user=user, credit_code=credit_code)
    open_requests = RefinancingRequest.objects.select_for_update().filter(credit=figures.credit)
    if open_requests.filter(status=RefinancingRequest.Status.PENDING).exists():
        raise InvalidInput(
            _("credit {code} already has a request waiting for approval").format(code=credit_code),
            "credit_code",
        )
    if open_requests.filter(
        status=RefinancingRequest.Status.APPROVED, business_date=figures.business_date
    ).exists():
        raise InvalidInput(
            _("credit {code} has an approved refinancing that core banking has not booked yet")
            .format(code=credit_code),
            "credit_code",
        )  # fmt: skip
    at = at or timezone.now()
    approve_now = role in APPROVER_ROLES
    request = RefinancingRequest(
        client=figures.credit.client,
        credit=figures.credit,
        strategy_version=StrategyVersion.objects.get(number=simulation.strategy_version),
        product_code=simulation.product,
        business_date=simulation.business_date,
        principal_balance=simulation.principal_balance,
        total_installments=simulation.total_installments,
        currency=simulation.currency,
        term_months=simulation.term_months,
        down_payment=simulation.down_payment,
        start_date=simulation.start_date,
        first_due_date=simulation.first_due_date,
        principal=simulation.principal,
        fee=simulation.fee,
        installment=simulation.installment,
        tea=simulation.tea,
        tcea=simulation.tcea,
        waived_total=simulation.waived_total,
        simulation=simulation.as_data(),
        reason=reason,
        status=(
            RefinancingRequest.Status.APPROVED if approve_now else RefinancingRequest.Status.PENDING
        ),
        requested_by=user,
        requested_at=at,
        decided_by=user if approve_now else None,
        decided_at=at if approve_now else None,
    )
    request._history_user = user
    request._change_reason = (
        "requested and approved within the requester's limits" if approve_now else "requested"
    )
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError as exc:  # another request for the credit raced in
        raise InvalidInput(
            _("credit {code} already has a request waiting for approval").format(code=credit_code),
            "credit_code",
        ) from exc
    _offer_done(client_id=figures.credit.client_id, at=at)
    return request


def _offer_done(*, client_id: int, at: datetime) -> None:
    """The refinancing offer of the case's action plan is done by the request."""
    offers = PlannedAction.objects.filter(
        case__client_id=client_id,
        channel="refinancing_offer",
        status=PlannedAction.Status.OPEN,
        window_from__lte=timezone.localtime(at).date(),
    ).order_by("window_from", "id")
    for action in offers:
        action_mark_done(action=action, at=at)


def _decide(
    *, user: AbstractBaseUser, request_id: int, approve: bool, note: str, at: datetime | None
) -> RefinancingRequest:
    if role_of(user) not in APPROVER_ROLES:
        raise PermissionDenied(_("only a jefe de agencia or above approves refinancings"))
    found = request_for(user=user, request_id=request_id)  # 404 outside the scope
    request = RefinancingRequest.objects.select_for_update().get(pk=found.pk)
    if request.status != RefinancingRequest.Status.PENDING:
        raise AlreadyDecided(
            _("request {id} is already {status}").format(
                id=request.pk, status=request.get_status_display().lower()
            )
        )
    note = (note or "").strip()
    if not approve and not note:
        raise InvalidInput(_("say why the request is rejected"), "note")
    if approve:
        try:
            current = credit_figures(user=user, credit_code=request.credit.code).position
        except NotFound:
            current = None  # the credit left the portfolio meanwhile
        if current is None or current.principal_balance != request.principal_balance:
            raise StaleSimulation(
                _(
                    "the credit's balance changed since the simulation; reject this request "
                    "and simulate again"
                )
            )
    request.status = (
        RefinancingRequest.Status.APPROVED if approve else RefinancingRequest.Status.REJECTED
    )
    request.decided_by = user
    request.decided_at = at or timezone.now()
    request.decision_note = note
    request._history_user = user
    request._change_reason = ("approved" if approve else "rejected") + (f": {note}" if note else "")
    request.save()
    return request


@transaction.atomic
def refinancing_request_approve(
    *, user: AbstractBaseUser, request_id: int, note: str = "", at: datetime | None = None
) -> RefinancingRequest:
    """A jefe (or above) approves a pending request in its scope; audited. The next
    cycle raises event 80 on the case and core banking books it."""
    return _decide(user=user, request_id=request_id, approve=True, note=note, at=at)


@transaction.atomic
def refinancing_request_reject(
    *, user: AbstractBaseUser, request_id: int, note: str, at: datetime | None = None
) -> RefinancingRequest:
    """A jefe (or above) rejects a pending request in its scope, saying why; audited."""
    return _decide(user=user, request_id=request_id, approve=False, note=note, at=at)
