"""The night in one place: the steps of DOMAIN.md section 4, each idempotent for its
business date. A step's writes and its ledger row commit together, so a re-run
after a crash skips what finished and redoes what did not; a finished date is
never run twice. The command, the Celery task and the API all call `cycle_run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from collections_field.engine import sql
from collections_field.engine.assignment import assign_cases
from collections_field.engine.collection_address import follow_payments
from collections_field.engine.escalation import escalation_counts
from collections_field.engine.events import ALL_CLIENTS, Scope, derive_events
from collections_field.engine.figures import compute_balances, compute_figures
from collections_field.engine.lights import compute_lights
from collections_field.engine.plan import plan_actions
from collections_field.engine.selection import select_worklists
from collections_field.engine.teams import compute_team_figures
from collections_field.engine.transitions import apply_transitions
from collections_field.exceptions import CycleError
from collections_field.models import CycleRun, CycleStep
from portfolio.models import Agency, SnapshotImport
from strategy.models import StrategyVersion
from strategy.selectors import active_strategy


@dataclass(frozen=True)
class CycleContext:
    business_date: date
    version: StrategyVersion
    previous_snapshot: date | None
    month_start: bool
    # The version the previous cycle ran with (TR compares yesterday's days past due
    # with the tramo ends as they stood then); None: the same as `version`.
    previous_version: StrategyVersion | None = None


def _events(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    return derive_events(
        business_date=ctx.business_date,
        version=ctx.version,
        previous_snapshot=ctx.previous_snapshot,
        previous_version=ctx.previous_version,
        scope=scope,
    )


def _transitions(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    counts = apply_transitions(
        business_date=ctx.business_date,
        version=ctx.version,
        previous_version=ctx.previous_version,
        scope=scope,
    )
    counts["collection_address"] = follow_payments(
        business_date=ctx.business_date, version=ctx.version, scope=scope
    )
    return counts


def _assignment(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    return assign_cases(business_date=ctx.business_date, month_start=ctx.month_start, scope=scope)


def _selection(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    return select_worklists(business_date=ctx.business_date, version=ctx.version, scope=scope)


def _plan(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    return plan_actions(
        business_date=ctx.business_date,
        version=ctx.version,
        previous_snapshot=ctx.previous_snapshot,
        scope=scope,
    )


def _lights(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    counts = compute_lights(business_date=ctx.business_date)
    counts.update(escalation_counts(business_date=ctx.business_date, version=ctx.version))
    return counts


def _balances(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    return compute_balances(business_date=ctx.business_date, version=ctx.version)


def _figures(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    return compute_figures(business_date=ctx.business_date, version=ctx.version)


def _teams(ctx: CycleContext, scope: Scope) -> dict[str, int]:
    return compute_team_figures(business_date=ctx.business_date, version=ctx.version)


# Step 1 (ingest) is `import_snapshot`.
STEPS: list[tuple[str, Callable[[CycleContext, Scope], dict[str, int]]]] = [
    ("events", _events),
    ("transitions", _transitions),
    ("assignment", _assignment),
    ("balances", _balances),
    ("plan", _plan),
    ("selection", _selection),
    ("figures", _figures),
    ("teams", _teams),
    ("lights", _lights),
]
STEP_FUNCTIONS = dict(STEPS)
# The steps whose writes a step reads: it starts once they are done, and steps that
# do not read each other's writes run side by side (`cycle_run`). After assignment
# the plan, the lists and the figures (the units' and the teams', apart: two shorter
# steps fill the two connections better than one long one) each read only the cases
# as they stand; the lights read the plan. The balances read only the snapshot: they
# run beside the assignment, which leaves a core idle (1.1 core-seconds a night at
# 1M credits), and the figures take them in.
AFTER: dict[str, tuple[str, ...]] = {
    "events": (),
    "transitions": ("events",),
    "assignment": ("transitions",),
    "plan": ("assignment",),
    "selection": ("assignment",),
    "balances": ("transitions",),
    "figures": ("assignment", "balances"),
    "teams": ("assignment",),
    "lights": ("plan",),
}
# Steps that count across agencies (zones, the company) never run in agency chunks.
WHOLE_STEPS = {"lights", "figures", "teams", "balances"}
# Steps that work client by client (nothing one client's items do reads another's):
# where steps run side by side, each runs as that many shares of the clients at once
# (`Scope.share`), each on its own connection and in its own transaction, with its own
# ledger row ("events#0", …), so a re-run redoes only the shares that did not finish.
# Before assignment nothing else can run, so the night's head used one core of two.
# (The assignment is not one: an alternation or the month's spread counts across
# clients.)
BY_CLIENT_STEPS = {"events", "transitions"}
# Tables a step's shares leave unanalysed (two shares analysing one table would wait
# for each other's commit): analysed once all its shares are in. (tables, count key:
# analysed when the step added that many rows, a tenth of the table or more; None:
# always)
ANALYZE_AFTER_SHARES = {
    "events": [("collections_field_caseevent", None), ("collections_field_case", "opened")]
}


def extra_steps() -> list[tuple[str, Callable[[CycleContext, Scope], dict[str, int]]]]:
    """Steps other apps add after the engine's (`SEMAFORO["CYCLE_EXTRA_STEPS"]`: ledger
    name → dotted path of `step(*, business_date, version) -> counts`, or
    `{"step": path, "after": [steps whose writes it reads]}`), so the night runs them
    without this app importing theirs (ARCHITECTURE.md). They run whole, each with its
    ledger row like the engine's own; the editor's preview runs only `STEPS`."""
    steps = []
    for name, entry in settings.SEMAFORO.get("CYCLE_EXTRA_STEPS", {}).items():
        hook = import_string(entry if isinstance(entry, str) else entry["step"])

        def run(ctx: CycleContext, scope: Scope, hook=hook) -> dict[str, int]:
            return hook(business_date=ctx.business_date, version=ctx.version)

        steps.append((name, run))
    return steps


def steps_after() -> dict[str, tuple[str, ...]]:
    """`AFTER` with the extra steps': an extra step that does not say what it reads
    waits for every step listed before it."""
    after = dict(AFTER)
    before = [name for name, _fn in STEPS]
    for name, entry in settings.SEMAFORO.get("CYCLE_EXTRA_STEPS", {}).items():
        listed = None if isinstance(entry, str) else entry.get("after")
        after[name] = tuple(before if listed is None else listed)
        before.append(name)
    return after


def _step_function(name: str) -> Callable[[CycleContext, Scope], dict[str, int]]:
    if name in STEP_FUNCTIONS:
        return STEP_FUNCTIONS[name]
    return dict(extra_steps())[name]


Progress = Callable[[str, dict[str, int], float], None]


def cycle_run(
    *, business_date: date, distributed: bool = False, progress: Progress | None = None
) -> CycleRun:
    """Run (or finish) the cycle of a business date; a finished date is left as it is."""
    run = _start(business_date)
    if run.status == CycleRun.Status.DONE:
        return run
    ctx = cycle_context(run)
    extras = extra_steps()
    whole = WHOLE_STEPS | {name for name, _fn in extras}
    order = [name for name, _fn in [*STEPS, *extras]]
    after = steps_after()
    workers = side_by_side()
    done = set(
        run.steps.filter(name__in=order, status=CycleRun.Status.DONE).values_list("name", flat=True)
    )

    def step(name: str) -> tuple[dict[str, int], float]:
        started = time.monotonic()
        position = order.index(name)
        if distributed and name not in whole:
            counts = _run_distributed(run, ctx, name, position)
        elif name in BY_CLIENT_STEPS and workers > 1:
            counts = _run_in_shares(run, ctx, name, position, workers)
        else:
            counts = cycle_step_run(
                run=run, ctx=ctx, name=name, position=position, serial=workers > 1
            )
        return counts, time.monotonic() - started

    try:
        for name, counts, seconds in _schedule(order, after, done, step, workers):
            if progress:
                progress(name, counts, seconds)
    except Exception as exc:
        CycleRun.objects.filter(pk=run.pk).update(
            status=CycleRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    CycleRun.objects.filter(pk=run.pk).update(
        status=CycleRun.Status.DONE, finished_at=timezone.now(), error=""
    )
    run.refresh_from_db()
    return run


def side_by_side() -> int:
    """How many steps may run at once. One on SQLite (a single writer), and one inside
    a caller's transaction: the other connections would not see its rows."""
    if not sql.is_postgres() or connection.in_atomic_block:
        return 1
    return max(1, settings.SEMAFORO.get("CYCLE_SIDE_BY_SIDE", 1))


def _schedule(
    order: list[str],
    after: dict[str, tuple[str, ...]],
    done: set[str],
    step: Callable[[str], tuple[dict[str, int], float]],
    workers: int,
) -> Iterator[tuple[str, dict[str, int], float]]:
    """Run the steps not yet done, each once those it comes after are, up to `workers`
    at a time (each on its own connection), and yield each as it finishes. A failure
    lets the running steps finish (each commits or rolls back whole) and starts none."""
    waiting = [name for name in order if name not in done]
    if workers <= 1:
        for name in waiting:
            yield name, *step(name)
        return
    done = set(done)
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cycle") as pool:
        while waiting or running:
            for name in list(waiting):
                if len(running) < workers and all(d in done for d in after[name]):
                    waiting.remove(name)
                    running[pool.submit(_on_own_connection, step, name)] = name
            if not running:
                raise CycleError(
                    _("the steps %(steps)s wait for each other") % {"steps": ", ".join(waiting)}
                )
            finished, _pending = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                counts, seconds = future.result()
                done.add(name)
                yield name, counts, seconds


def _on_own_connection(step: Callable, name):
    """`step(name)` on this thread's own connection, closed after."""
    try:
        return step(name)
    finally:
        connection.close()


def _start(business_date: date) -> CycleRun:
    if not SnapshotImport.objects.filter(business_date=business_date).exists():
        raise CycleError(
            _("no snapshot has been imported for %(date)s") % {"date": business_date.isoformat()}
        )
    run = CycleRun.objects.filter(business_date=business_date).first()
    if run is None:
        version = active_strategy()
        if version is None:
            raise CycleError(_("no strategy has been published"))
        run, _created = CycleRun.objects.get_or_create(
            business_date=business_date, defaults={"strategy_version": version.number}
        )
    elif run.status == CycleRun.Status.FAILED:
        CycleRun.objects.filter(pk=run.pk).update(status=CycleRun.Status.RUNNING, error="")
    return run


def cycle_context(run: CycleRun) -> CycleContext:
    """The facts a run works with, fixed at its start (the version it began on)."""
    day = run.business_date
    previous = (
        SnapshotImport.objects.filter(business_date__lt=day)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )
    month_start = not CycleRun.objects.filter(
        business_date__lt=day,
        business_date__gte=day.replace(day=1),
        status=CycleRun.Status.DONE,
    ).exists()
    version = StrategyVersion.objects.get(number=run.strategy_version)
    previous_number = (
        CycleRun.objects.filter(business_date__lt=day)
        .order_by("-business_date")
        .values_list("strategy_version", flat=True)
        .first()
    )
    previous_version = (
        version
        if previous_number in (None, version.number)
        else StrategyVersion.objects.filter(number=previous_number).first()
    )
    return CycleContext(
        business_date=day,
        version=version,
        previous_snapshot=previous,
        month_start=month_start,
        previous_version=previous_version or version,
    )


def cycle_step_run(
    *,
    run: CycleRun,
    ctx: CycleContext,
    name: str,
    position: int,
    scope: Scope = ALL_CLIENTS,
    ledger_name: str | None = None,
    serial: bool = False,
) -> dict[str, int]:
    """One step (or one chunk of it) and its ledger row, in one transaction.

    `serial`: without parallel workers. Steps side by side already keep both cores
    busy: their workers only add processes to share them, and hash tables built once
    per worker (the steps after the assignment 6.5 -> 6.1 s a night at 1M credits,
    faster in 7 nights of 8; the shares of a step keep theirs, no clear difference)."""
    ledger_name = ledger_name or name
    with transaction.atomic():
        done = CycleStep.objects.select_for_update().filter(
            run=run, name=ledger_name, status=CycleRun.Status.DONE
        )
        if done.exists():
            return done.get().counts
        started_at, started = timezone.now(), time.monotonic()
        sql.ensure_sqlite_functions()
        sql.tune_bulk_session(serial=serial)
        with sql.counting_statements() as counter:
            counts = _step_function(name)(ctx, scope)
        _record_step(run, ledger_name, position, started_at, started, counter.count, counts)
    return counts


def _record_step(run, name, position, started_at, started, statements, counts) -> None:
    CycleStep.objects.update_or_create(
        run=run,
        name=name,
        defaults={
            "position": position,
            "status": CycleRun.Status.DONE,
            "started_at": started_at,
            "finished_at": timezone.now(),
            "seconds": time.monotonic() - started,
            "statements": statements,
            "counts": counts,
        },
    )


def _run_distributed(run: CycleRun, ctx: CycleContext, name: str, position: int) -> dict:
    """Fan a step out to the workers by agency chunks and wait for all of them."""
    from celery import group

    from collections_field.tasks import cycle_chunk_task

    agency_ids = list(Agency.objects.order_by("id").values_list("id", flat=True))
    chunks = max(1, min(settings.SEMAFORO.get("CYCLE_CHUNKS", 4), len(agency_ids)))
    parts = [agency_ids[i::chunks] for i in range(chunks)]
    started_at, started = timezone.now(), time.monotonic()
    results = (
        group(
            cycle_chunk_task.s(run.business_date.isoformat(), name, position, part, i)
            for i, part in enumerate(parts)
        )
        .apply_async()
        .get(disable_sync_subtasks=False)
    )
    return _record_whole(run, name, position, started_at, started, results)


def _run_in_shares(run: CycleRun, ctx: CycleContext, name: str, position: int, shares: int):
    """A client-by-client step as `shares` shares of the clients at once, each on its
    own connection (`BY_CLIENT_STEPS`); a failed share lets the others finish."""
    started_at, started = timezone.now(), time.monotonic()
    cuts = _share_cuts(run, shares)
    shares = len(cuts) + 1  # a re-run keeps the night's shares, whatever the setting now

    def share(part: int) -> dict[str, int]:
        return cycle_step_run(
            run=run,
            ctx=ctx,
            name=name,
            position=position,
            scope=Scope(share=(part, shares), cuts=cuts),
            ledger_name=f"{name}#{part}",
        )

    with ThreadPoolExecutor(max_workers=shares, thread_name_prefix=f"{name}-share") as pool:
        futures = [pool.submit(_on_own_connection, share, part) for part in range(shares)]
        wait(futures)
    results = [future.result() for future in futures]  # the first failure, raised
    counts = _record_whole(run, name, position, started_at, started, results)
    with connection.cursor() as cursor:
        for table, added in ANALYZE_AFTER_SHARES.get(name, ()):
            if added is None:
                sql.analyze(cursor, table)
            else:
                sql.analyze_if_grown(cursor, table, counts.get(added, 0))
    return counts


def _share_cuts(run: CycleRun, shares: int) -> tuple[int, ...]:
    """Where the shares of the clients begin (`Scope.cuts`): the open cases split in
    equal numbers by client id (the clients, before the first night has cases), chosen
    once a night and kept in the ledger; a re-run takes them (and their number of
    shares) from there, so each share covers the clients it covered before."""
    if run.share_cuts:
        return tuple(run.share_cuts)
    with connection.cursor() as cursor:
        cuts = _equal_cuts(
            cursor, "SELECT client_id FROM collections_field_case WHERE status <> 'closed'", shares
        ) or _equal_cuts(cursor, "SELECT id FROM portfolio_client", shares)
    cuts = cuts or tuple(range(1, shares))  # no clients at all: any cuts will do
    CycleRun.objects.filter(pk=run.pk).update(share_cuts=list(cuts))
    run.share_cuts = list(cuts)
    return cuts


def _equal_cuts(cursor, ids: str, shares: int) -> tuple[int, ...]:
    """The ids that split `ids` (a query of one column) into `shares` equal runs."""
    cursor.execute(f"SELECT count(*) FROM ({ids}) i")
    total = cursor.fetchone()[0]
    if total < shares:
        return ()
    cuts = []
    for part in range(1, shares):
        cursor.execute(f"{ids} ORDER BY 1 LIMIT 1 OFFSET %s", [total * part // shares])
        cuts.append(cursor.fetchone()[0])
    return tuple(cuts)


def _record_whole(run, name, position, started_at, started, results) -> dict[str, int]:
    """The step's own ledger row once all its chunks or shares are in: their counts
    and statements added up."""
    counts: dict[str, int] = {}
    for part_counts in results:
        for key, value in part_counts.items():
            counts[key] = counts.get(key, 0) + value
    statements = sum(
        CycleStep.objects.filter(run=run, name__startswith=f"{name}#").values_list(
            "statements", flat=True
        )
    )
    _record_step(run, name, position, started_at, started, statements, counts)
    return counts
