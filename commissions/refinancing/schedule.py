"""The arithmetic of a refinancing schedule, as Peruvian lenders compute it (DOMAIN.md 6).

Pure functions over `Decimal` and `date`: no database, no floats.

- **Days.** Interest accrues by actual days on a 360-day year: a period of d days
  multiplies the balance by g(d) = (1 + TEA)^(d/360).
- **Due dates** fall monthly on the day of the first due date; in a shorter month
  on its last day (31 Jan → 28/29 Feb → 31 Mar). The first period runs from the
  start date to the first due date, whatever its length.
- **The installment** is the level one that pays the principal off exactly on
  the last due date: P / Σ (1 + TEA)^(-t_k/360), t_k = days from the start to due
  date k; rounded to the cent.
- **Each row**: interest = balance × (g(d) − 1), rounded to the cent; principal =
  installment − interest; the last row pays whatever balance is left plus its
  interest, so it absorbs every cent of rounding.
- **TCEA** (SBS transparency rules): the annual effective rate r at which the
  installments, discounted by the same day count ((1 + r)^(-t_k/360)), equal the
  amount the client actually receives (the principal less the financed fee).
  Without a fee it is the TEA, up to the rounding of the cents.

Where the rounding happens, and only there: the installment, each row's interest
(hence its principal and balance), and the TCEA (to 0.0001, i.e. a percentage with
two decimals). The non-integer powers are computed as exp(ln(1 + rate) × t/360) in
`Decimal` at 34 significant digits (`PRECISION`), so no float is ever involved and
the intermediate error is far below a cent.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")
RATE_STEP = Decimal("0.0001")  # TCEA and TEA: a percentage with two decimals
PRECISION = 34
YEAR_DAYS = Decimal(360)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(day: date, months: int, on_day: int | None = None) -> date:
    """`day` moved by whole months, on `on_day` (default its own day) or the month's last."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(on_day or day.day, last))


def due_dates(first_due: date, count: int) -> list[date]:
    """`count` monthly due dates on the first one's day (the month's last when shorter)."""
    return [add_months(first_due, k, first_due.day) for k in range(count)]


def _power(rate: Decimal, days: int | Decimal) -> Decimal:
    """(1 + rate)^(days/360), at PRECISION digits."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return ((1 + rate).ln() * Decimal(days) / YEAR_DAYS).exp()


@dataclass(frozen=True)
class Row:
    n: int
    due_date: date
    days: int  # since the previous due date (the start date for the first)
    installment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal  # after this installment


def level_installment(
    *, principal: Decimal, tea: Decimal, start: date, dates: list[date]
) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        discount = sum((1 / _power(tea, (due - start).days) for due in dates), Decimal(0))
        return cents(principal / discount)


def build_schedule(
    *, principal: Decimal, tea: Decimal, start: date, dates: list[date]
) -> list[Row]:
    """The whole schedule; the last row absorbs the rounding and leaves a zero balance."""
    installment = level_installment(principal=principal, tea=tea, start=start, dates=dates)
    rows: list[Row] = []
    balance, previous = principal, start
    for n, due in enumerate(dates, start=1):
        days = (due - previous).days
        with localcontext() as ctx:
            ctx.prec = PRECISION
            interest = cents(balance * (_power(tea, days) - 1))
        if n == len(dates):
            paid_principal, pay = balance, balance + interest
        else:
            paid_principal, pay = installment - interest, installment
        balance -= paid_principal
        rows.append(Row(n, due, days, pay, interest, paid_principal, balance))
        previous = due
    return rows


def annual_rate_of(*, received: Decimal, start: date, flows: list[tuple[date, Decimal]]) -> Decimal:
    """The annual effective rate r with Σ amount × (1 + r)^(-days/360) = received
    (Newton's method from 10 %), rounded to 0.0001. Used for the TCEA."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        times = [(Decimal((due - start).days) / YEAR_DAYS, amount) for due, amount in flows]
        rate = Decimal("0.1")
        for _ in range(100):
            log = (1 + rate).ln()
            value = -received
            slope = Decimal(0)
            for t, amount in times:
                discounted = amount * (-t * log).exp()
                value += discounted
                slope -= t * discounted / (1 + rate)
            step = value / slope
            rate -= step
            if rate <= -1:  # flows below what was received: no positive rate; stay defined
                rate = Decimal("-0.999999")
            if abs(step) < Decimal("1e-20"):
                break
    return rate.quantize(RATE_STEP, rounding=ROUND_HALF_UP)
