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
two decimals). The powers are computed in `Decimal` at 34 significant digits
(`PRECISION`): the daily factor (1 + rate)^(1/360) = exp(ln(1 + rate)/360) once per
rate, then its whole-day integer powers. No float is ever involved and the
intermediate error is far below a cent.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")
RATE_STEP = Decimal("0.0001")  # TCEA and TEA: a percentage with two decimals
PRECISION = 34
YEAR_DAYS = Decimal(360)
STOP = Decimal("1e-15")  # Newton's last step: far below the TCEA's 0.0001


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


def _growth(rate: Decimal) -> Callable[[int], Decimal]:
    """days -> (1 + rate)^(days/360) at PRECISION digits: the daily factor
    z = exp(ln(1 + rate) / 360) once, then z^days (days are whole: an exact integer power)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        daily = ((1 + rate).ln() / YEAR_DAYS).exp()

    def power(days: int) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = PRECISION
            return daily**days

    return power


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
    power = _growth(tea)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        discount = sum((1 / power((due - start).days) for due in dates), Decimal(0))
        return cents(principal / discount)


def build_schedule(
    *, principal: Decimal, tea: Decimal, start: date, dates: list[date]
) -> list[Row]:
    """The whole schedule; the last row absorbs the rounding and leaves a zero balance."""
    installment = level_installment(principal=principal, tea=tea, start=start, dates=dates)
    power = _growth(tea)
    rows: list[Row] = []
    balance, previous = principal, start
    for n, due in enumerate(dates, start=1):
        days = (due - previous).days
        with localcontext() as ctx:
            ctx.prec = PRECISION
            interest = cents(balance * (power(days) - 1))
        if n == len(dates):
            paid_principal, pay = balance, balance + interest
        else:
            paid_principal, pay = installment - interest, installment
        balance -= paid_principal
        rows.append(Row(n, due, days, pay, interest, paid_principal, balance))
        previous = due
    return rows


def annual_rate_of(
    *,
    received: Decimal,
    start: date,
    flows: list[tuple[date, Decimal]],
    guess: Decimal | None = None,
) -> Decimal:
    """The annual effective rate r with Σ amount × (1 + r)^(-days/360) = received,
    by Newton's method from `guess` (the TEA is close), rounded to 0.0001. The TCEA."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        days = [((due - start).days, amount) for due, amount in flows]
        rate = guess if guess is not None else Decimal("0.1")
        for _ in range(100):
            # (1 + r)^(-t/360) = y^t with the daily discount y = (1 + r)^(-1/360).
            daily = (-(1 + rate).ln() / YEAR_DAYS).exp()
            value = -received
            slope = Decimal(0)
            for t, amount in days:
                discounted = amount * daily**t
                value += discounted
                slope -= t * discounted
            step = value / (slope / (YEAR_DAYS * (1 + rate)))
            rate -= step
            if rate <= -1:  # installments below what was received: stay defined
                rate = Decimal("-0.999999")
            if abs(step) < STOP:
                break
    return rate.quantize(RATE_STEP, rounding=ROUND_HALF_UP)
