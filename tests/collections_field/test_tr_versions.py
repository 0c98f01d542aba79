"""TR when the tramo days change between two cycles (issue 6 part 5).

Yesterday's days past due are held against the tramo's end as it stood in the
version the previous cycle ran with, today's against the end in this cycle's
version. So a shortened tramo moves the cases already past its new end on the
next cycle, while a Baja after a payment is still not undone by days already owed.
The strategy is the test strategy of test_engine_custom_strategy (type M, tramos
1–10, 11–40, 41+): nothing here is the thesis'."""

import pytest

from collections_field.engine.cycle import cycle_context
from collections_field.models import CycleRun
from strategy.services import strategy_publish

from .replay import Replay, overdue_row
from .test_engine_custom_strategy import STRATEGY

TRAMO_1 = "{type: M, number: 1, from_day: 1, to_day: 10, max_visits: 2, daily_cap: 5}"
TRAMO_2 = "{type: M, number: 2, from_day: 11, to_day: 40, max_visits: 3, daily_cap: 5}"
TRAMO_3 = "{type: M, number: 3, from_day: 41, to_day: null, max_visits: 3, daily_cap: 5}"


def with_tramos(one: tuple[int, int], two: tuple[int, int], three_from: int) -> str:
    days = "from_day: {}, to_day: {}"
    text = STRATEGY.replace(TRAMO_1, TRAMO_1.replace(days.format(1, 10), days.format(*one)))
    text = text.replace(TRAMO_2, TRAMO_2.replace(days.format(11, 40), days.format(*two)))
    return text.replace(TRAMO_3, TRAMO_3.replace("from_day: 41", f"from_day: {three_from}"))


@pytest.fixture
def replay(organisation, tmp_path):
    assert TRAMO_1 in STRATEGY and TRAMO_2 in STRATEGY and TRAMO_3 in STRATEGY
    strategy_publish(document=STRATEGY)
    return Replay(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_a_shortened_tramo_moves_the_cases_already_past_its_new_end(replay):
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 6), overdue_row("C2", "CR2", 3)])
    r.cycle(1)
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("X11", 1)

    # Tramo 1 now ends at day 5: C1 (6 yesterday, 7 today) is past it; C2 is not.
    v2 = strategy_publish(document=with_tramos((1, 5), (6, 40), 41)).version
    r.snapshot(2, [overdue_row("C1", "CR1", 7), overdue_row("C2", "CR2", 4)])
    run = r.cycle(2)
    assert run.strategy_version == v2.number
    assert cycle_context(run).previous_version.number == v2.number - 1
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("X21", 2)
    assert r.moves("C1")[-1] == ("X11", "X21", "TR")
    assert (r.case("C2").action_code, r.case("C2").tramo) == ("X11", 1)

    # Once: the next cycle (same version on both sides) raises no second TR.
    r.snapshot(3, [overdue_row("C1", "CR1", 8), overdue_row("C2", "CR2", 5)])
    r.cycle(3)
    assert [m for m in r.moves("C1") if m[2] == "TR"] == [("X11", "X21", "TR")]
    assert r.case("C2").tramo == 1
    # C2 crosses the new end as any case does.
    r.snapshot(4, [overdue_row("C1", "CR1", 9), overdue_row("C2", "CR2", 6)])
    r.cycle(4)
    assert (r.case("C2").action_code, r.case("C2").tramo) == ("X21", 2)


@pytest.mark.django_db(transaction=True)
def test_with_the_old_rule_the_same_case_would_have_stayed(replay):
    """The control: the same days with no version change between the cycles keep
    C1 in tramo 1 (6 → 7 crosses no end of 1–10)."""
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 6)])
    r.cycle(1)
    r.snapshot(2, [overdue_row("C1", "CR1", 7)])
    r.cycle(2)
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("X11", 1)


@pytest.mark.django_db(transaction=True)
def test_a_baja_after_a_payment_is_not_undone_even_when_the_tramo_is_shortened(replay):
    r = replay
    # DPD 45: classification R, tramo 3 -> Y31. A partial payment: PG -> Y21 (Baja to
    # tramo 2, whose end 40 the case's days are already past).
    r.snapshot(1, [overdue_row("C1", "CR1", 45, installments=2)])
    r.cycle(1)
    assert r.case("C1").action_code == "Y31"
    r.snapshot(2, [overdue_row("C1", "CR1", 46, installments=1)])
    r.cycle(2)
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("Y21", 2)

    # Tramo 2 shortened to 11–30: yesterday's 46 was already past its end as it
    # stood (40), so no crossing; the Baja stands.
    strategy_publish(document=with_tramos((1, 10), (11, 30), 31))
    r.snapshot(3, [overdue_row("C1", "CR1", 47, installments=1)])
    r.cycle(3)
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("Y21", 2)
    assert not [m for m in r.moves("C1") if m[2] == "TR"]
    r.snapshot(4, [overdue_row("C1", "CR1", 48, installments=1)])
    r.cycle(4)
    assert r.case("C1").action_code == "Y21"


@pytest.mark.django_db(transaction=True)
def test_an_open_ended_tramo_split_in_two_moves_the_cases_beyond_the_split(replay):
    """Tramo 3 was 41+ (no end): a version ending it at 60 moves a case at 70 to the
    new tramo 4 on the next cycle (yesterday's 70 was within "no end")."""
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 70)])
    r.cycle(1)
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("Y31", 3)
    split = (
        STRATEGY.replace(
            TRAMO_3,
            TRAMO_3.replace("to_day: null", "to_day: 60")
            + "\n  - {type: M, number: 4, from_day: 61, to_day: null, max_visits: 3, daily_cap: 5}",
        )
        .replace(
            "  - {type: M, from: Y31, on: PG, to: Y21}",
            "  - {type: M, from: Y31, on: PG, to: Y21}\n  - {type: M, from: Y31, on: TR, to: Y41}",
        )
        .replace(
            "bas:",
            "  - {type: M, code: Y41, classification: R, tramo: 4, visit: 1, where: home,\n"
            "     whom: guarantor, instrument: payment_promise, message: Cuatro,\n"
            "     letter_template: null}\nbas:",
        )
    )
    strategy_publish(document=split)
    r.snapshot(2, [overdue_row("C1", "CR1", 71)])
    r.cycle(2)
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("Y41", 4)
    assert CycleRun.objects.get(business_date=r.day(2)).strategy_version == 2
