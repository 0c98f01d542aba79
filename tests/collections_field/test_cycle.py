"""The cycle as a whole: idempotent per date, safe after a crash, set-based."""

import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from collections_field.engine import cycle
from collections_field.engine.events import Scope
from collections_field.models import (
    Case,
    CaseHistory,
    CycleRun,
    CycleStep,
    LightSummary,
    PlannedAction,
    WorklistEntry,
)
from portfolio.models import Client
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


def steps_done(run: CycleRun) -> set[str]:
    """The whole steps done (not their shares' or chunks' rows, "events#0")."""
    names = run.steps.filter(status="done").values_list("name", flat=True)
    return {name for name in names if "#" not in name}


def statements_per_step(day) -> dict[str, int]:
    rows = CycleStep.objects.filter(run__business_date=day).values_list("name", "statements")
    return {name: statements for name, statements in rows if "#" not in name}


def fresh_start() -> None:
    call_command("flush", interactive=False)
    from portfolio.services import organisation_load
    from tests.support import ORGANISATION

    organisation_load(document=ORGANISATION)
    strategy_load_default()


def clean_run_side_by_side_then_fresh_start(replay: Replay) -> tuple:
    """Two clean nights with steps side by side (their end state, to match), then an
    empty organisation again."""
    if cycle.side_by_side() < 2:
        pytest.skip("steps run one at a time on this database")
    play(replay, 40)
    clean = state()
    fresh_start()
    return clean


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

    fresh_start()

    def crash(ctx, scope):
        raise RuntimeError("worker lost")

    steps = dict(cycle.STEP_FUNCTIONS)
    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "assignment", crash)
    with pytest.raises(RuntimeError):
        play(replay, 40)
    run = CycleRun.objects.get(business_date=replay.day(1))
    assert run.status == "failed" and "worker lost" in run.error
    # The balances need nothing the assignment writes: side by side, they ran beside it.
    beside = {"balances"} if cycle.side_by_side() > 1 else set()
    assert steps_done(run) == {"events", "transitions", *beside}

    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "assignment", steps["assignment"])
    replay.cycle(1)  # re-run: skips events and transitions, finishes assignment
    second_night(replay, 40)
    assert state() == clean


@pytest.mark.django_db(transaction=True)
def test_statement_count_does_not_grow_with_the_portfolio(replay, tmp_path, settings):
    # One at a time: in shares, each share sends the whole step's statements over its
    # clients, and the transitions' passes follow the busiest case of each share.
    settings.SEMAFORO = {**settings.SEMAFORO, "CYCLE_SIDE_BY_SIDE": 1}
    play(replay, 100)
    small = statements_per_step(replay.day(2))
    fresh_start()
    (tmp_path / "big").mkdir()
    play(Replay(tmp_path / "big"), 2000)
    big = statements_per_step(replay.day(2))
    assert big == small
    # The engine's steps, then those other apps add (settings: CYCLE_EXTRA_STEPS).
    assert list(big) == ["events", "transitions", "assignment", "balances", "plan", "selection",
                         "figures", "teams", "lights", "productivity"]  # fmt: skip
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
    clean = clean_run_side_by_side_then_fresh_start(replay)

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
    done = steps_done(run)
    assert {"events", "transitions", "assignment", "plan"} <= done
    assert "selection" not in done and PlannedAction.objects.exists()

    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "plan", steps["plan"])
    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "selection", steps["selection"])
    replay.cycle(1)
    second_night(replay, 40)
    assert state() == clean


@pytest.mark.django_db(transaction=True)
def test_client_by_client_steps_run_in_shares_and_end_as_one_at_a_time(replay, settings):
    if cycle.side_by_side() < 2:
        pytest.skip("steps run one at a time on this database")
    settings.SEMAFORO = {**settings.SEMAFORO, "CYCLE_SIDE_BY_SIDE": 1}
    play(replay, 60)
    one_at_a_time = state()
    assert not CycleStep.objects.filter(name__contains="#").exists()

    fresh_start()
    settings.SEMAFORO = {**settings.SEMAFORO, "CYCLE_SIDE_BY_SIDE": 2}
    play(replay, 60)
    assert state() == one_at_a_time
    run = CycleRun.objects.get(business_date=replay.day(2))
    rows = dict(run.steps.values_list("name", "statements"))
    for name in ("events", "transitions"):
        assert {f"{name}#0", f"{name}#1"} <= set(rows)
        assert rows[name] == rows[f"{name}#0"] + rows[f"{name}#1"]
    assert "assignment#0" not in rows  # it counts across clients: whole


@pytest.mark.django_db(transaction=True)
def test_steps_side_by_side_run_without_parallel_workers_and_shares_with(
    replay, settings, monkeypatch
):
    # Two steps at once already keep both cores busy: their parallel workers would only
    # share them. The shares of a step keep the server's setting.
    if cycle.side_by_side() < 2:
        pytest.skip("steps run one at a time on this database")
    settings.SEMAFORO = {**settings.SEMAFORO, "CYCLE_SIDE_BY_SIDE": 2}
    seen: dict[str, set[str]] = {}

    def watched(name, step):
        def run(ctx, scope):
            with connection.cursor() as cursor:
                cursor.execute("SHOW max_parallel_workers_per_gather")
                seen.setdefault(name, set()).add(cursor.fetchone()[0])
            return step(ctx, scope)

        return run

    for name in ("events", "plan", "selection", "lights"):
        monkeypatch.setitem(cycle.STEP_FUNCTIONS, name, watched(name, cycle.STEP_FUNCTIONS[name]))
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        server = cursor.fetchone()[0]
    play(replay, 20)
    assert seen["plan"] == seen["selection"] == seen["lights"] == {"0"}
    assert seen["events"] == {server}


@pytest.mark.django_db(transaction=True)
def test_a_share_failing_lets_the_other_finish_and_a_rerun_equals_one_clean_run(
    replay, monkeypatch
):
    clean = clean_run_side_by_side_then_fresh_start(replay)

    steps = dict(cycle.STEP_FUNCTIONS)

    def transitions(ctx, scope):
        if scope.share == (1, 2):
            raise RuntimeError("worker lost")
        return steps["transitions"](ctx, scope)

    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "transitions", transitions)
    with pytest.raises(RuntimeError, match="worker lost"):
        play(replay, 40)
    run = CycleRun.objects.get(business_date=replay.day(1))
    assert run.status == "failed"
    done = set(run.steps.filter(status="done").values_list("name", flat=True))
    assert {"events", "transitions#0"} <= done and "transitions#1" not in done
    assert "transitions" not in done

    monkeypatch.setitem(cycle.STEP_FUNCTIONS, "transitions", steps["transitions"])
    replay.cycle(1)  # re-run: only the failed share, then the rest of the night
    second_night(replay, 40)
    assert state() == clean


@pytest.mark.django_db
def test_the_shares_of_the_clients_cover_each_client_once(replay):
    replay.snapshot(1, portfolio(25, 1))
    replay.cycle(1)
    run = CycleRun.objects.get(business_date=replay.day(1))
    run.share_cuts = []
    cuts = cycle._share_cuts(run, 3)
    assert len(cuts) == 2 and cuts[0] < cuts[1]
    assert CycleRun.objects.get(pk=run.pk).share_cuts == list(cuts)  # kept for a re-run
    every = set(Client.objects.values_list("id", flat=True))
    shares, open_cases = [], []
    for part in range(3):
        scope = Scope(share=(part, 3), cuts=cuts)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT cl.id FROM portfolio_client cl WHERE {scope.clients('cl')}")
            shares.append({row[0] for row in cursor.fetchall()})
            cursor.execute(
                "SELECT count(*) FROM collections_field_case c "
                f"WHERE c.status <> 'closed' AND {scope.cases('c')}"
            )
            open_cases.append(cursor.fetchone()[0])
    assert all(shares) and set.union(*shares) == every
    assert sum(len(share) for share in shares) == len(every)
    # The open cases split in equal numbers (to within one).
    assert max(open_cases) - min(open_cases) <= 1, open_cases
    # Chosen once: the same cuts the next time, whatever the cases by then, and the
    # same number of shares even if the setting changed before a re-run.
    Case.objects.update(status="closed")
    assert cycle._share_cuts(run, 3) == cuts
    assert cycle._share_cuts(run, 2) == cuts


def test_a_share_needs_its_cuts():
    with pytest.raises(ValueError, match="needs 1 cuts"):
        Scope(share=(0, 2))


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
