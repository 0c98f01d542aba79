"""The schedule arithmetic (DOMAIN.md 6) against numbers computed by hand.

The hand computation below is the one a loan officer does with a calculator, step by
step, in plain floats (a different arithmetic from the simulator's Decimal one), and
then rounded to the cent at the same points: the installment, and each row's interest.
"""

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from commissions.refinancing.schedule import add_months, annual_rate_of, build_schedule, due_dates
from commissions.refinancing.selectors import simulation_for
from strategy.services import DEFAULT_STRATEGY_PATH, strategy_publish
from tests.support import person

D = Decimal
START = date(2026, 11, 2)  # the business date of the `refi` fixture


def to_cent(x: float) -> Decimal:
    return D(repr(x)).quantize(D("0.01"), rounding=ROUND_HALF_UP)


def by_hand(principal: float, tea: float, start: date, first_due: date, n: int) -> list[tuple]:
    """Step 1: the due dates, monthly on the first one's day (the month's last when
    shorter). Step 2: the days from the start to each due date, t_k. Step 3: the level
    installment I = P / Σ (1 + TEA)^(-t_k / 360), to the cent. Step 4: row by row,
    interest = balance × ((1 + TEA)^(d / 360) − 1) to the cent, with d the days since
    the previous due date; principal = I − interest; the last row pays the balance
    left plus its interest."""
    dues = []
    for k in range(n):
        index = first_due.year * 12 + first_due.month - 1 + k
        year, month = divmod(index, 12)
        last_day = calendar.monthrange(year, month + 1)[1]
        dues.append(date(year, month + 1, min(first_due.day, last_day)))
    t = [(due - start).days for due in dues]
    installment = to_cent(principal / sum((1 + tea) ** (-tk / 360) for tk in t))
    rows, balance, previous = [], D(repr(principal)), start
    for k, due in enumerate(dues, start=1):
        days = (due - previous).days
        interest = to_cent(float(balance) * ((1 + tea) ** (days / 360) - 1))
        if k == n:
            paid, pay = balance, balance + interest
        else:
            paid, pay = installment - interest, installment
        balance -= paid
        rows.append((k, due, days, pay, interest, paid, balance))
        previous = due
    return rows


def test_ref1_six_months_with_a_short_first_period():
    """REF1 (TEA 45 %, fee S/ 50) on CR1: balance 3,200.50 − down payment 400.00 + fee
    50.00 = 2,850.50, from 2 Nov 2026, first due 20 Nov (18 days, not a month), 6 months.

    By hand: t = 18, 48, 79, 110, 138, 169 days; Σ 1.45^(-t/360) = 5.4548141…;
    I = 2850.50 / 5.4548141 = 522.5662… → 522.57. Row 1: 2850.50 × (1.45^(18/360) − 1)
    = 2850.50 × 0.0187525… = 53.45; principal 522.57 − 53.45 = 469.12; balance 2,381.38.
    Row 2 (30 days): 2381.38 × 0.0314508… = 74.89 … Row 6 (31 days) pays the 506.08 left
    plus 16.45 of interest: 522.53, one of the cents of rounding absorbed."""
    rows = build_schedule(principal=D("2850.50"), tea=D("0.45"), start=START,
                          dates=due_dates(date(2026, 11, 20), 6))  # fmt: skip
    expected = [
        (1, date(2026, 11, 20), 18, D("522.57"), D("53.45"), D("469.12"), D("2381.38")),
        (2, date(2026, 12, 20), 30, D("522.57"), D("74.89"), D("447.68"), D("1933.70")),
        (3, date(2027, 1, 20), 31, D("522.57"), D("62.87"), D("459.70"), D("1474.00")),
        (4, date(2027, 2, 20), 31, D("522.57"), D("47.92"), D("474.65"), D("999.35")),
        (5, date(2027, 3, 20), 28, D("522.57"), D("29.30"), D("493.27"), D("506.08")),
        (6, date(2027, 4, 20), 31, D("522.53"), D("16.45"), D("506.08"), D("0.00")),
    ]
    assert [tuple(vars(r).values()) for r in rows] == expected
    assert by_hand(2850.50, 0.45, START, date(2026, 11, 20), 6) == expected


def test_ref2_twelve_months_over_month_ends_and_a_long_first_period():
    """REF2 (TEA 40 %, fee S/ 80) on CR5: 8,000.00 − 1,200.00 + 80.00 = 6,880.00, first
    due 31 Dec 2026 (59 days), 12 months on the 31st: 31 Jan, 28 Feb, 31 Mar, 30 Apr…

    By hand: Σ 1.40^(-t/360) over t = 59, 90, 118, … 393 = 9.7664627…; I = 6880 /
    9.7664627 = 704.451… → 704.45. Row 1: 6880 × (1.40^(59/360) − 1) = 6880 ×
    0.0566933… = 390.05 (more than half the installment: a long first period). Row 3,
    February (28 days): 6054.16 × (1.40^(28/360) − 1) = 160.53. The last row pays
    684.99 + 19.48 = 704.47."""
    rows = build_schedule(principal=D("6880.00"), tea=D("0.40"), start=START,
                          dates=due_dates(date(2026, 12, 31), 12))  # fmt: skip
    assert [r.due_date for r in rows][:5] == [
        date(2026, 12, 31), date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31),
        date(2027, 4, 30),
    ]  # fmt: skip
    assert [(r.days, r.interest) for r in rows[:3]] == [
        (59, D("390.05")), (31, D("193.01")), (28, D("160.53"))
    ]  # fmt: skip
    assert {r.installment for r in rows[:-1]} == {D("704.45")}
    assert (rows[-1].installment, rows[-1].interest, rows[-1].principal) == (
        D("704.47"), D("19.48"), D("684.99")
    )  # fmt: skip
    assert sum(r.principal for r in rows) == D("6880.00")
    assert rows[-1].balance == 0
    assert [tuple(vars(r).values()) for r in rows] == by_hand(
        6880.00, 0.40, START, date(2026, 12, 31), 12
    )


@pytest.mark.parametrize(
    ("product", "credit", "down", "first_due", "term", "principal", "tea"),
    [
        ("REF1", "CR1", "400.00", date(2026, 11, 20), 6, 2850.50, 0.45),
        ("REF1", "CR1", "400.00", date(2026, 11, 20), 12, 2850.50, 0.45),
        ("REF2", "CR5", "1200.00", date(2026, 12, 31), 12, 6880.00, 0.40),
        ("REF2", "CR5", "1200.00", date(2026, 12, 31), 24, 6880.00, 0.40),
    ],
)
def test_the_simulator_gives_the_hand_schedule(
    refi, product, credit, down, first_due, term, principal, tea
):
    """Two products and two terms each, end to end from the credit's position."""
    simulation = simulation_for(
        user=person("rquispe"), credit_code=credit, product=product, term_months=term,
        down_payment=D(down), first_due_date=first_due,
    )  # fmt: skip
    assert simulation.start_date == START  # the business date by default
    assert simulation.principal == D(repr(principal))
    rows = [tuple(vars(r).values()) for r in simulation.schedule]
    assert rows == by_hand(principal, tea, START, first_due, term)
    assert simulation.installment == rows[0][3]


def test_tcea_equals_tea_without_a_fee_and_is_above_it_with_one():
    start, dates = START, due_dates(date(2026, 11, 20), 12)
    rows = build_schedule(principal=D("5000.00"), tea=D("0.45"), start=start, dates=dates)
    flows = [(r.due_date, r.installment) for r in rows]
    # No fee: the client receives the whole principal.
    assert annual_rate_of(received=D("5000.00"), start=start, flows=flows) == D("0.4500")
    # A financed fee of 50: the same installments buy only 4,950 received.
    with_fee = annual_rate_of(received=D("4950.00"), start=start, flows=flows)
    assert with_fee > D("0.45")

    # By hand: the discounted installments, Σ I_k (1 + r)^(-t_k/360), fall through
    # 4,950.00 between r = 0.48055 (4,950.13) and r = 0.48065 (4,949.97): 48.06 %.
    def discounted(rate: float) -> float:
        return sum(float(i) * (1 + rate) ** (-(due - start).days / 360) for due, i in flows)

    assert discounted(0.48055) > 4950 > discounted(0.48065)
    assert with_fee == D("0.4806")


def test_tcea_of_the_simulator(refi):
    def simulate():
        return simulation_for(user=person("rquispe"), credit_code="CR1", product="REF1",
                              term_months=12, down_payment=D("400.00"),
                              first_due_date=date(2026, 11, 20))  # fmt: skip

    simulation = simulate()
    assert simulation.fee == D("50.00") and simulation.tcea > simulation.tea
    # The same credit on a product without a fee: TCEA = TEA.
    text = DEFAULT_STRATEGY_PATH.read_text(encoding="utf-8")
    assert strategy_publish(document=text.replace("fee: 50.00,", "fee: 0,")).created
    simulation = simulate()
    assert simulation.fee == 0
    assert simulation.tcea == simulation.tea == D("0.4500")


def test_month_ends():
    assert due_dates(date(2027, 1, 31), 4) == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)
    ]  # fmt: skip
    assert due_dates(date(2027, 12, 30), 3) == [
        date(2027, 12, 30), date(2028, 1, 30), date(2028, 2, 29)  # 2028 is a leap year
    ]  # fmt: skip
    assert add_months(date(2026, 11, 2), 2) == date(2027, 1, 2)
