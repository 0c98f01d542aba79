"""Reads of the refinancing work: the simulator (it writes nothing) and the requests,
always through the reader's scope (`portfolio.selectors.clients_visible_to`).

The simulator's rules where DOMAIN.md 6 leaves room:

- **Which credit, which figures.** The credit's position in the latest snapshot
  (the current business date): its principal balance, days past due, unpaid
  installments and late charges.
- **Qualifying.** A product is offered when the credit's days past due fall in its
  range (`min_dpd`..`max_dpd`).
- **Term.** 1 to `max_term_months`, plus one month per unpaid overdue installment of
  the credit, at most `extra_term_months` more (thesis: "plazo adicional sobre las
  cuotas vencidas no pagadas").
- **Down payment.** At least `min_down_payment_pct` of the principal balance (rounded
  up to the cent) and below the balance (something must be left to refinance).
- **Amounts of the product** (`fee`, `min_installment`) are soles; for a dollar
  credit they are converted at the strategy's `usd_rate`, rounded to the cent.
- **Waivers.** Each late charge (late interest, collection fees, commissions) is
  waived by the requested share, by default the product's maximum; more than the
  maximum is refused. What is not waived is `charges_due`, paid at signing together
  with the down payment (`due_at_signing`); it is not financed, since the new
  principal is the balance less the down payment plus the fee.
- **Dates.** `start_date` defaults to the business date and may not be before it (nor
  more than three months after: the figures are the business date's); the first due
  date falls after the start date and at most two months later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from commissions.models import RefinancingRequest
from commissions.refinancing.schedule import (
    CENT,
    Row,
    add_months,
    annual_rate_of,
    build_schedule,
    cents,
    due_dates,
)
from portfolio.exceptions import InvalidInput, NotFound
from portfolio.models import Credit, CreditPosition, Currency
from portfolio.selectors import clients_visible_to, latest_business_date
from portfolio.templatetags.money import format_money
from strategy.models import StrategyVersion
from strategy.schema import WAIVER_CONCEPTS, RefinancingProductRow
from strategy.selectors import active_strategy, refinancing_products_for

FIRST_PERIOD_MAX_MONTHS = 2
START_MAX_MONTHS = 3  # a refinancing is booked soon: its figures are today's


# --- The credit and its products ---------------------------------------------------------


@dataclass(frozen=True)
class CreditFigures:
    credit: Credit
    position: CreditPosition
    business_date: date


def credit_figures(*, user: AbstractBaseUser, credit_code: str) -> CreditFigures:
    """A credit in the portfolio that the user may see, with its latest position;
    otherwise the same 404 as a credit that does not exist."""
    credit = (
        Credit.objects.select_related("client")
        .filter(code=credit_code, left_on__isnull=True, client__in=clients_visible_to(user))
        .first()
    )
    day = latest_business_date()
    position = (
        CreditPosition.objects.filter(business_date=day, credit_id=credit.pk).first()
        if credit is not None and day is not None
        else None
    )
    if position is None:
        error = NotFound(_("credit {code} not found").format(code=credit_code))
        error.field = "credit_code"
        raise error
    return CreditFigures(credit=credit, position=position, business_date=day)


def client_credits(*, user: AbstractBaseUser, client_code: str) -> list[CreditFigures]:
    """The client's credits in the portfolio with their latest positions (scoped)."""
    day = latest_business_date()
    credits = list(
        Credit.objects.select_related("client")
        .filter(client__code=client_code, left_on__isnull=True, client__in=clients_visible_to(user))
        .order_by("code")
    )
    positions = {
        p.credit_id: p
        for p in CreditPosition.objects.filter(
            business_date=day, credit_id__in=[c.pk for c in credits]
        )
    }
    return [
        CreditFigures(credit=c, position=positions[c.pk], business_date=day)
        for c in credits
        if c.pk in positions
    ]


def products_offered(
    version: StrategyVersion | None, *, days_past_due: int
) -> list[RefinancingProductRow]:
    """The products a credit this many days past due qualifies for (only those are offered)."""
    if version is None:
        return []
    return [p for p in refinancing_products_for(version) if p.qualifies(days_past_due)]


def max_term_for(product: RefinancingProductRow, position: CreditPosition) -> int:
    return product.max_term_months + min(product.extra_term_months, position.overdue_installments)


def in_currency(amount_pen: Decimal, currency: str, version: StrategyVersion) -> Decimal:
    """A product amount (soles) in the credit's currency."""
    if currency == Currency.USD:
        return cents(amount_pen / version.usd_rate)
    return amount_pen


# --- The simulation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Simulation:
    """A refinancing simulated for one credit: what DOMAIN.md 7.4 answers, and more."""

    credit_code: str
    client_code: str
    currency: str
    business_date: date
    strategy_version: int
    product: str
    product_name: str
    days_past_due: int
    overdue_installments: int
    total_installments: int
    term_months: int
    max_term_months: int
    start_date: date
    first_due_date: date
    principal_balance: Decimal
    down_payment: Decimal
    fee: Decimal
    principal: Decimal  # the new one: balance − down payment + fee
    tea: Decimal
    tcea: Decimal
    installment: Decimal
    min_installment: Decimal
    charges: dict[str, Decimal]
    waived_pct: dict[str, Decimal]
    waived: dict[str, Decimal]
    charges_due: dict[str, Decimal]
    due_at_signing: Decimal
    schedule: list[Row]

    @property
    def waived_total(self) -> Decimal:
        return sum(self.waived.values(), Decimal(0))

    @property
    def total_paid(self) -> Decimal:
        return sum((row.installment for row in self.schedule), Decimal(0))

    @property
    def total_interest(self) -> Decimal:
        return sum((row.interest for row in self.schedule), Decimal(0))

    def as_data(self) -> dict[str, Any]:
        """Plain values (JSON: amounts as strings, dates ISO), as the API answers and a
        request keeps them."""
        return _plain(asdict(self))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Simulation:
        """The simulation a request kept (`as_data`), typed again."""
        values = dict(data)
        for name, kind in _FIELD_KINDS.items():
            if kind is date:
                values[name] = date.fromisoformat(values[name])
            elif kind is Decimal:
                values[name] = Decimal(values[name])
            elif kind is dict:
                values[name] = {k: Decimal(v) for k, v in values[name].items()}
        values["schedule"] = [
            Row(
                n=r["n"],
                due_date=date.fromisoformat(r["due_date"]),
                days=r["days"],
                installment=Decimal(r["installment"]),
                interest=Decimal(r["interest"]),
                principal=Decimal(r["principal"]),
                balance=Decimal(r["balance"]),
            )
            for r in values["schedule"]
        ]
        return cls(**values)


_FIELD_KINDS = {
    "business_date": date,
    "start_date": date,
    "first_due_date": date,
    "principal_balance": Decimal,
    "down_payment": Decimal,
    "fee": Decimal,
    "principal": Decimal,
    "tea": Decimal,
    "tcea": Decimal,
    "installment": Decimal,
    "min_installment": Decimal,
    "due_at_signing": Decimal,
    "charges": dict,
    "waived_pct": dict,
    "waived": dict,
    "charges_due": dict,
}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def simulation_for(
    *,
    user: AbstractBaseUser,
    credit_code: str,
    product: str,
    term_months: int,
    down_payment: Decimal,
    first_due_date: date,
    start_date: date | None = None,
    waived_pct: dict[str, Decimal] | None = None,
) -> Simulation:
    """Simulate a refinancing of one credit (DOMAIN.md 6); reads only, writes nothing.

    Raises NotFound (the credit is not in the user's scope) or InvalidInput naming
    the field that is outside the product: `product` (unknown, or the credit's days
    past due outside its range), `term_months` (too long, or an installment below
    the product's minimum), `down_payment`, `start_date`, `first_due_date` or
    `waived_pct.<charge>`.
    """
    figures = credit_figures(user=user, credit_code=credit_code)
    credit, position = figures.credit, figures.position
    version = active_strategy()
    chosen = next(
        (p for p in (refinancing_products_for(version) if version else []) if p.code == product),
        None,
    )
    dpd = position.days_past_due
    if chosen is None:
        offered = ", ".join(p.code for p in products_offered(version, days_past_due=dpd))
        raise InvalidInput(
            _("unknown product {code}; this credit qualifies for: {offered}").format(
                code=product, offered=offered or "-"
            ),
            "product",
        )
    if not chosen.qualifies(dpd):
        raise InvalidInput(
            _(
                "the credit is {dpd} days past due, outside product {code}'s {low}–{high} days"
            ).format(dpd=dpd, code=chosen.code, low=chosen.min_dpd, high=chosen.max_dpd or "…"),
            "product",
        )

    start = start_date or figures.business_date
    if start < figures.business_date:
        raise InvalidInput(
            _("the start date may not be before the business date {day}").format(
                day=figures.business_date.isoformat()
            ),
            "start_date",
        )
    if start > add_months(figures.business_date, START_MAX_MONTHS):
        raise InvalidInput(
            _("the start date may be at most {n} months after the business date").format(
                n=START_MAX_MONTHS
            ),
            "start_date",
        )
    max_term = max_term_for(chosen, position)
    if not 1 <= term_months <= max_term:
        raise InvalidInput(
            _("the term must be 1 to {n} months for product {code}").format(
                n=max_term, code=chosen.code
            ),
            "term_months",
        )
    latest_first = add_months(start, FIRST_PERIOD_MAX_MONTHS)
    if not start < first_due_date <= latest_first:
        raise InvalidInput(
            _("the first due date must fall after {start} and no later than {last}").format(
                start=start.isoformat(), last=latest_first.isoformat()
            ),
            "first_due_date",
        )

    currency = credit.currency
    balance = position.principal_balance
    minimum_down = (balance * chosen.min_down_payment_pct).quantize(CENT, rounding=ROUND_CEILING)
    if down_payment < minimum_down:
        raise InvalidInput(
            _("the down payment must be at least {amount} ({pct} of the balance)").format(
                amount=format_money(minimum_down, currency), pct=_pct(chosen.min_down_payment_pct)
            ),
            "down_payment",
        )
    if down_payment >= balance:
        raise InvalidInput(
            _("the down payment must be less than the principal balance {amount}").format(
                amount=format_money(balance, currency)
            ),
            "down_payment",
        )

    charges = {c: getattr(position, c) for c in WAIVER_CONCEPTS}
    pcts: dict[str, Decimal] = {}
    for concept in WAIVER_CONCEPTS:
        maximum = chosen.max_waiver(concept)
        pct = (waived_pct or {}).get(concept, maximum)
        if pct is None:
            pct = maximum
        if not 0 <= pct <= maximum:
            raise InvalidInput(
                _("product {code} waives at most {pct} of this charge").format(
                    code=chosen.code, pct=_pct(maximum)
                ),
                f"waived_pct.{concept}",
            )
        pcts[concept] = pct
    waived = {c: cents(charges[c] * pcts[c]) for c in WAIVER_CONCEPTS}
    due = {c: charges[c] - waived[c] for c in WAIVER_CONCEPTS}

    fee = in_currency(chosen.fee, currency, version)
    min_installment = in_currency(chosen.min_installment, currency, version)
    principal = balance - down_payment + fee
    schedule = build_schedule(
        principal=principal,
        tea=chosen.tea,
        start=start,
        dates=due_dates(first_due_date, term_months),
    )
    installment = schedule[0].installment
    if installment < min_installment:
        raise InvalidInput(
            _(
                "the installment {amount} is below product {code}'s minimum {minimum}; "
                "choose a shorter term"
            ).format(
                amount=format_money(installment, currency),
                code=chosen.code,
                minimum=format_money(min_installment, currency),
            ),
            "term_months",
        )
    tcea = annual_rate_of(
        received=principal - fee,
        start=start,
        flows=[(row.due_date, row.installment) for row in schedule],
        guess=chosen.tea,
    )
    return Simulation(
        credit_code=credit.code,
        client_code=credit.client.code,
        currency=currency,
        business_date=figures.business_date,
        strategy_version=version.number,
        product=chosen.code,
        product_name=chosen.name,
        days_past_due=dpd,
        overdue_installments=position.overdue_installments,
        total_installments=position.total_installments,
        term_months=term_months,
        max_term_months=max_term,
        start_date=start,
        first_due_date=first_due_date,
        principal_balance=balance,
        down_payment=down_payment,
        fee=fee,
        principal=principal,
        tea=chosen.tea,
        tcea=tcea,
        installment=installment,
        min_installment=min_installment,
        charges=charges,
        waived_pct=pcts,
        waived=waived,
        charges_due=due,
        due_at_signing=down_payment + sum(due.values(), Decimal(0)),
        schedule=schedule,
    )


def _pct(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f} %"


# --- Requests ----------------------------------------------------------------------------------


def requests_visible_to(user: AbstractBaseUser) -> QuerySet[RefinancingRequest]:
    return RefinancingRequest.objects.filter(client__in=clients_visible_to(user))


def request_for(*, user: AbstractBaseUser, request_id: int) -> RefinancingRequest:
    """A request the user may see; otherwise the same 404 as a missing one."""
    found = (
        requests_visible_to(user)
        .select_related("client", "credit", "requested_by", "decided_by")
        .filter(pk=request_id)
        .first()
    )
    if found is None:
        raise NotFound(_("refinancing request {id} not found").format(id=request_id))
    return found


def approved_requests_since(
    *, user: AbstractBaseUser, since: datetime | None = None
) -> QuerySet[RefinancingRequest]:
    """What core banking books: approved requests in approval order, from `since` on."""
    found = requests_visible_to(user).filter(status=RefinancingRequest.Status.APPROVED)
    if since is not None:
        found = found.filter(decided_at__gte=since)
    return found.select_related("client", "credit", "requested_by", "decided_by")


def pending_requests_for(*, user: AbstractBaseUser) -> QuerySet[RefinancingRequest]:
    """The requests waiting for a decision in the user's scope, oldest first."""
    return (
        requests_visible_to(user)
        .filter(status=RefinancingRequest.Status.PENDING)
        .select_related("client", "credit", "requested_by")
        .order_by("requested_at", "id")
    )


def recent_requests_for(*, user: AbstractBaseUser, limit: int = 50) -> list[RefinancingRequest]:
    """The latest decided requests in the user's scope, newest first."""
    return list(
        requests_visible_to(user)
        .exclude(status=RefinancingRequest.Status.PENDING)
        .select_related("client", "credit", "requested_by", "decided_by")
        .order_by("-decided_at", "-id")[:limit]
    )


def client_requests(*, user: AbstractBaseUser, client_code: str) -> list[RefinancingRequest]:
    return list(
        requests_visible_to(user)
        .filter(client__code=client_code)
        .select_related("credit", "requested_by", "decided_by")
        .order_by("-requested_at", "-id")[:20]
    )
