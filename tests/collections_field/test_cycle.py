"""The cycle as a whole: idempotent per date, safe after a crash, set-based."""

import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

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
    second_night(r, n_clients)


def second_night(r: Replay, n_clients: int) -> None:
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
    second_night(replay, 40)
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
    assert list(big) == ["events", "transitions", "assignment", "plan", "selection", "figures",
                         "lights", "productivity"]  # fmt: skip
    assert Case.objects.count() == 2000
    # The lists were made: capped per officer and tramo, whatever the portfolio.
    assert WorklistEntry.objects.filter(business_date=replay.day(2)).count() > 25
    assert PlannedAction.objects.count() > 2000 and LightSummary.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_cycle_needs_its_snapshot(replay):
    with pytest.raises(CommandError, match="no snapshot has been imported for 2026-11-02"):
        call_command("run_cycle", "--date", "2026-11-02")


@pytest.mark.django_db(transaction=True)
def test_a_step_failing_beside_another_lets_it_finish_and_a_rerun_equals_one_clean_run(
    replay, monkeypatch
):
    if cycle.side_by_side() < 2:
        pytest.skip("steps run one at a time on this database")
    play(replay, 40)
    clean = state()
    call_command("flush", interactive=False)
    from portfolio.services import organisation_load
    from tests.support import ORGANISATION

    organisation_load(document=ORGANISATION)
    strategy_load_default()

    steps = dict(cycle.STEP_FUNCTIONS)
    plan_started = threading.Event()

    def plan(ctx, scope):
        plan_started.set()
        time.sleep(0.5)  # still planning when the lists fail beside it
        return steps["plan"](ctx, scope)

    def selection(ctx, scope):
        assert plan_started.wait(10), "plan and selection did not run side by side"
        raise RuntimeError("worker lost")

    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "plan", plan)
    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "selection", selection)
    with pytest.raises(RuntimeError, match="worker lost"):
        play(replay, 40)
    run = CycleRun.objects.get(business_date=replay.day(1))
    assert run.status == "failed" and "worker lost" in run.error
    done = set(run.steps.values_list("name", flat=True))
    assert {"events", "transitions", "assignment", "plan"} <= done
    assert "selection" not in done and PlannedAction.objects.exists()

    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "plan", steps["plan"])
    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "selection", steps["selection"])
    replay.cycle(1)
    second_night(replay, 40)
    assert state() == clean


class Recorder:
    """Fake steps for the scheduler: each records its start and end."""

    def __init__(self, barrier: threading.Barrier | None = None, together=()):
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.barrier, self.together = barrier, set(together)

    def __call__(self, name: str):
        with self.lock:
            self.log.append(("start", name))
        if name in self.together:
            self.barrier.wait(timeout=5)  # breaks unless both run at the same time
        time.sleep(0.01)
        with self.lock:
            self.log.append(("end", name))
        return {name: 1}, 0.0


AFTER = {"a": (), "b": ("a",), "c": ("a",), "d": ("b",), "e": ("c", "d")}


def test_steps_that_do_not_read_each_other_run_side_by_side():
    steps = Recorder(threading.Barrier(2), together={"b", "c"})
    finished = [name for name, _c, _s in cycle._schedule(list(AFTER), AFTER, set(), steps, 2)]
    assert sorted(finished) == ["a", "b", "c", "d", "e"]
    log = steps.log
    for name, after in AFTER.items():
        for earlier in after:
            assert log.index(("end", earlier)) < log.index(("start", name)), (earlier, name)


def test_one_at_a_time_the_steps_run_in_their_listed_order():
    steps = Recorder()
    finished = [name for name, _c, _s in cycle._schedule(list(AFTER), AFTER, {"a"}, steps, 1)]
    assert finished == ["b", "c", "d", "e"]
    assert steps.log == [(kind, n) for n in "bcde" for kind in ("start", "end")]


def test_steps_waiting_for_a_step_that_never_runs_are_an_error():
    after = {"a": (), "b": ("missing",)}
    with pytest.raises(cycle.CycleError, match="b"):
        list(cycle._schedule(["a", "b"], after, set(), Recorder(), 2))


@pytest.mark.django_db
def test_inside_a_callers_transaction_the_steps_run_one_at_a_time():
    # Other connections would not see the caller's uncommitted rows.
    assert connection.in_atomic_block
    assert cycle.side_by_side() == 1
