"""The cycle as a whole: idempotent per date, safe after a crash, set-based."""

import pytest
from django.core.management import CommandError, call_command

from collections_field.engine import cycle
from collections_field.models import (
    Case,
    CaseHistory,
    CycleRun,
    CycleStep,
    LightSummary,
    PlannedAction,
    WorklistEntry,
)
from strategy.services import strategy_load_default

from .replay import Replay, overdue_row


@pytest.fixture
def replay(organisation, tmp_path):
    strategy_load_default()
    return Replay(tmp_path)


def portfolio(n_clients: int, day: int) -> list[dict]:
    """n clients, one credit each, spread over the tramos; DPD grows a day each day."""
    rows = []
    for i in range(n_clients):
        dpd = (i * 7) % 120 + day
        rows.append(overdue_row(f"C{i:05d}", f"CR{i:05d}", dpd, installments=1 + dpd // 30))
    return rows


def play(r: Replay, n_clients: int) -> None:
    """Two nights: results and payments for some clients, then the cycles."""
    r.snapshot(1, portfolio(n_clients, 1))
    r.cycle(1)
    for i in range(0, n_clients, 10):
        r.result(2, f"C{i:05d}", "10", promise_in=1)
    for i in range(3, n_clients, 10):
        r.result(2, f"C{i:05d}", "20")
    for i in range(5, n_clients, 10):
        r.payment(2, f"CR{i:05d}", installments=1)
    r.snapshot(2, portfolio(n_clients, 2))
    r.cycle(2)


def state() -> tuple:
    cases = list(
        Case.objects.order_by("client__code").values_list(
            "client__code", "action_code", "classification", "tramo", "visits_in_tramo",
            "status", "officer__code", "promise_date", "overdue_since",
        )
    )  # fmt: skip
    history = list(
        CaseHistory.objects.order_by("case__client__code", "at", "seq", "id").values_list(
            "case__client__code", "business_date", "from_code", "to_code", "cause", "officer_code"
        )
    )
    return cases, history


@pytest.mark.django_db(transaction=True)
def test_a_finished_date_is_not_run_twice(replay):
    play(replay, 30)
    before = state()
    replay.cycle(2)
    call_command("run_cycle", "--date", replay.day(2).isoformat())
    assert state() == before
    assert CycleRun.objects.get(business_date=replay.day(2)).status == "done"


@pytest.mark.django_db(transaction=True)
def test_a_crash_after_transitions_then_a_rerun_equals_one_clean_run(
    replay, monkeypatch, django_db_blocker
):
    play(replay, 40)
    clean = state()

    call_command("flush", interactive=False)
    from portfolio.services import organisation_load
    from tests.support import ORGANISATION

    organisation_load(document=ORGANISATION)
    strategy_load_default()

    def crash(ctx, scope):
        raise RuntimeError("worker lost")

    steps = dict(cycle.STEP_FUNCTIONS)
    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "assignment", crash)
    with pytest.raises(RuntimeError):
        play(replay, 40)
    run = CycleRun.objects.get(business_date=replay.day(1))
    assert run.status == "failed" and "worker lost" in run.error
    assert set(run.steps.values_list("name", flat=True)) == {"events", "transitions"}

    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "assignment", steps["assignment"])
    replay.cycle(1)  # re-run: skips events and transitions, finishes assignment
    for i in range(0, 40, 10):
        replay.result(2, f"C{i:05d}", "10", promise_in=1)
    for i in range(3, 40, 10):
        replay.result(2, f"C{i:05d}", "20")
    for i in range(5, 40, 10):
        replay.payment(2, f"CR{i:05d}", installments=1)
    replay.snapshot(2, portfolio(40, 2))
    replay.cycle(2)
    assert state() == clean


@pytest.mark.django_db(transaction=True)
def test_statement_count_does_not_grow_with_the_portfolio(replay, tmp_path):
    play(replay, 100)
    small = dict(
        CycleStep.objects.filter(run__business_date=replay.day(2)).values_list("name", "statements")
    )
    call_command("flush", interactive=False)
    from portfolio.services import organisation_load
    from tests.support import ORGANISATION

    organisation_load(document=ORGANISATION)
    strategy_load_default()
    (tmp_path / "big").mkdir()
    play(Replay(tmp_path / "big"), 2000)
    big = dict(
        CycleStep.objects.filter(run__business_date=replay.day(2)).values_list("name", "statements")
    )
    assert big == small
    # The engine's steps, then those other apps add (settings: CYCLE_EXTRA_STEPS).
    assert list(big) == ["events", "transitions", "assignment", "plan", "selection", "lights",
                         "productivity"]  # fmt: skip
    assert Case.objects.count() == 2000
    # The lists were made: capped per officer and tramo, whatever the portfolio.
    assert WorklistEntry.objects.filter(business_date=replay.day(2)).count() > 25
    assert PlannedAction.objects.count() > 2000 and LightSummary.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_cycle_needs_its_snapshot(replay):
    with pytest.raises(CommandError, match="no snapshot has been imported for 2026-11-02"):
        call_command("run_cycle", "--date", "2026-11-02")
