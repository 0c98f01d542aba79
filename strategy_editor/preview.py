"""The preview of a draft: what the next cycle would do with it, against the active version.

The next cycle is simulated twice with the engine's own steps
(`collections_field.engine.cycle.STEPS`, called with a `CycleContext` exactly as
`cycle_run` builds it): once with the active version and once with the draft,
published into a throwaway version. Each run happens inside a transaction that is
always rolled back, so nothing of it stays: not the cases, the actions, the lists,
the ledger, nor the throwaway version.

The first run's outcome (every case's type, tramo and code, the pending planned
actions, each officer's list size) is carried out of its transaction as COPY text
(a spooled temporary file on PostgreSQL, rows on SQLite) and loaded into the
second run's transaction, where both outcomes are compared with set-based
statements: a fixed number of them whatever the size of the portfolio.

**The business date** is the next cycle's: the latest imported snapshot whose cycle
has not run yet. When every imported snapshot has had its cycle, it is the last
finished date + 1, with that date's positions *aged by one day* (every credit
overdue one more day, nothing paid, nothing new): an approximation, said so on the
page, because the real snapshot is not there yet. A cycle under way (or failed
half-way) for the date is refused: its finished steps are committed and a
simulation from that state would not be the next cycle.

**Locks.** The runs write the cases and actions as the night does, so for their
duration they hold the same row locks; a result registered meanwhile waits for the
run's rollback (seconds on a small portfolio, minutes at 1,000,000 credits).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from collections_field.engine import sql
from collections_field.engine.cycle import STEP_FUNCTIONS, STEPS, cycle_context
from collections_field.engine.events import ALL_CLIENTS
from collections_field.models import CycleRun
from portfolio.exceptions import DomainError
from portfolio.models import SnapshotImport
from strategy.models import StrategyVersion
from strategy.selectors import active_strategy
from strategy.services import strategy_publish

SAMPLE = 100  # rows of each list of examples kept in the result
MOVED_KEYS = (
    "client", "agency", "officer", "code_before", "tramo_before", "code_after", "tramo_after",
)  # fmt: skip
ACTION_KEYS = (
    "kind", "client", "type", "tramo", "item", "channel", "window_from", "window_to",
)  # fmt: skip
SPOOL = 64 * 1024 * 1024  # bytes of COPY text held in memory before it goes to disk

Progress = Callable[[str, int, int], None]


class PreviewError(DomainError):
    code = "preview_error"


@dataclass(frozen=True)
class PreviewDate:
    business_date: date
    aged_from: date | None  # the positions aged by one day; None: a real snapshot


def preview_date() -> PreviewDate:
    """The date the next cycle is for (see the module docstring)."""
    done = CycleRun.objects.filter(status=CycleRun.Status.DONE)
    last_done = done.order_by("-business_date").values_list("business_date", flat=True).first()
    pending = (
        SnapshotImport.objects.exclude(business_date__in=done.values("business_date"))
        .filter(business_date__gt=last_done or date.min)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )
    if pending is not None:
        if CycleRun.objects.filter(business_date=pending).exists():
            raise PreviewError(
                _("the cycle of %(date)s is under way or failed; preview once it has finished")
                % {"date": pending.isoformat()}
            )
        return PreviewDate(pending, None)
    if last_done is None:
        raise PreviewError(_("nothing to preview yet: no snapshot has been imported"))
    source = (
        SnapshotImport.objects.filter(business_date__lte=last_done)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )
    return PreviewDate(last_done + timedelta(days=1), source or last_done)


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction (or savepoint) that never commits."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# The outcome of one run: (table, columns, SELECT); `{day}` is the business date.
OUTCOME = (
    (
        "preview_case",
        "client_id bigint, type varchar(10), tramo integer, action_code varchar(10), "
        "open integer, officer_id bigint",
        "SELECT c.client_id, c.management_type AS type, c.tramo, c.action_code, "
        "CASE WHEN c.status <> 'closed' THEN 1 ELSE 0 END AS open, c.officer_id "
        "FROM collections_field_case c",
    ),
    (
        "preview_action",
        "client_id bigint, type varchar(10), tramo integer, item integer, channel varchar(30), "
        "manual integer, window_from date, window_to date",
        'SELECT c.client_id, a.type, a.tramo, a."order" AS item, a.channel, '
        "CASE WHEN a.manual THEN 1 ELSE 0 END AS manual, a.window_from, a.window_to "
        "FROM collections_field_plannedaction a JOIN collections_field_case c ON c.id = a.case_id "
        "WHERE a.status IN ('queued', 'open')",
    ),
    (
        "preview_list",
        "officer_id bigint, entries integer",
        "SELECT w.officer_id, count(*) AS entries FROM collections_field_worklistentry w "
        "WHERE w.business_date = '{day}' GROUP BY w.officer_id",
    ),
)


def preview_run(*, document: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """Simulate the next cycle with the active version and with `document`; compare.

    Raises PreviewError (no date to simulate, no active version) or the validator's
    StrategyValidationError (the draft cannot be published as it is).
    """
    started = time.monotonic()
    day = preview_date()
    active = active_strategy()
    if active is None:
        raise PreviewError(_("no strategy has been published"))
    total = 2 * len(STEPS) + 2
    tick = _ticker(progress, total)

    with rolled_back():
        steps_active = _simulate(day, active, tick, _("active version"))
        carried = _carry_out(day.business_date)
    tick(_("comparing"))
    try:
        with rolled_back():
            draft = strategy_publish(document=document, source_name="preview").version
            steps_draft = _simulate(day, draft, tick, _("draft"))
            _carry_in(carried, day.business_date)
            result = _compare()
    finally:
        for _name, _columns, data in carried:
            if hasattr(data, "close"):
                data.close()
    tick(_("done"))
    result.update(
        business_date=day.business_date.isoformat(),
        aged_from=day.aged_from.isoformat() if day.aged_from else None,
        active_version=active.number,
        seconds=round(time.monotonic() - started, 2),
        steps={"active": steps_active, "draft": steps_draft},
    )
    return result


def _ticker(progress: Progress | None, total: int) -> Callable[[str], None]:
    done = 0

    def tick(stage: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(stage, done, total)

    return tick


def _simulate(
    day: PreviewDate, version: StrategyVersion, tick: Callable[[str], None], label: str
) -> dict[str, dict[str, int]]:
    """The cycle's steps for the date on `version`, inside the caller's transaction."""
    if day.aged_from is not None:
        _age_positions(day)
    ctx = cycle_context(CycleRun(business_date=day.business_date, strategy_version=version.number))
    sql.ensure_sqlite_functions()
    sql.tune_bulk_session()
    counts = {}
    for name, _fn in STEPS:
        counts[name] = STEP_FUNCTIONS[name](ctx, ALL_CLIENTS)
        tick(f"{label}: {name}")
    return counts


def _age_positions(day: PreviewDate) -> None:
    """The last snapshot's positions as the next date's, one more day overdue."""
    SnapshotImport.objects.create(
        business_date=day.business_date, sha256="preview", file_name="preview"
    )
    columns = (
        "business_date, credit_id, client_id, principal_balance, overdue_amount, "
        "overdue_installments, total_installments, days_past_due, next_due_date, "
        "late_interest, collection_fees, commissions"
    )
    aged = (
        "SELECT %s, credit_id, client_id, principal_balance, overdue_amount, "
        "overdue_installments, total_installments, "
        "CASE WHEN days_past_due > 0 THEN days_past_due + 1 ELSE 0 END, next_due_date, "
        "late_interest, collection_fees, commissions FROM {source} WHERE business_date = %s"
    )
    with connection.cursor() as cursor:
        source = sql.positions_table(cursor, day.aged_from)
        if not sql.is_postgres():
            cursor.execute(
                f"INSERT INTO portfolio_creditposition ({columns}) {aged.format(source=source)}",
                [day.business_date, day.aged_from],
            )
            return
        part = f"portfolio_creditposition_d{day.business_date:%Y%m%d}"
        # As the import does: an empty leftover of the date goes (inside the rollback).
        cursor.execute(f"DROP TABLE IF EXISTS {part}")
        cursor.execute(
            f"CREATE TABLE {part} (LIKE portfolio_creditposition INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"INSERT INTO {part} ({columns}) {aged.format(source=source)}",
            [day.business_date, day.aged_from],
        )
        cursor.execute(
            f"ALTER TABLE portfolio_creditposition ATTACH PARTITION {part} "
            "FOR VALUES FROM (%s) TO (%s)",
            [day.business_date, day.business_date + timedelta(days=1)],
        )
        cursor.execute(f"ANALYZE {part}")


def _outcome_selects(business_date: date) -> list[tuple[str, str, str]]:
    return [
        (name, columns, select.replace("{day}", business_date.isoformat()))
        for name, columns, select in OUTCOME
    ]


def _carry_out(business_date: date) -> list[tuple[str, str, Any]]:
    """The run's outcome as data that outlives its rollback."""
    carried = []
    with connection.cursor() as cursor:
        for name, columns, select in _outcome_selects(business_date):
            if sql.is_postgres():
                # Closed by _carry_in, or by preview_run when the second run fails.
                spool = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115
                cursor.copy_expert(f"COPY ({select}) TO STDOUT", spool)
                spool.seek(0)
                carried.append((name, columns, spool))
            else:
                cursor.execute(select)
                carried.append((name, columns, cursor.fetchall()))
    return carried


def _carry_in(carried: list[tuple[str, str, Any]], business_date: date) -> None:
    """The first run's outcome as `<table>_a`, next to this run's `<table>_b`."""
    with connection.cursor() as cursor:
        for name, columns, data in carried:
            table = f"{name}_a"
            if sql.is_postgres():
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                cursor.execute(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP")
                cursor.copy_expert(f"COPY {table} FROM STDIN", data)
                cursor.execute(f"ANALYZE {table}")
            else:
                cursor.execute(f"DROP TABLE IF EXISTS temp.{table}")
                cursor.execute(f"CREATE TEMP TABLE {table} ({columns})")
                if data:
                    marks = ", ".join(["%s"] * len(data[0]))
                    cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", data)
        for name, _columns, select in _outcome_selects(business_date):
            sql.create_temp(cursor, f"{name}_b", select)


def _plain(value: Any) -> Any:
    """JSON values: sums come back as Decimal on PostgreSQL, dates as dates or text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _fetch(cursor, statement: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    cursor.execute(statement)
    return [dict(zip(keys, (_plain(v) for v in row), strict=True)) for row in cursor.fetchall()]


def _compare() -> dict[str, Any]:
    """Both outcomes, set-based: cases whose tramo differs, actions that appear or
    disappear, list sizes per officer and agency (before = active, after = draft)."""
    is_open_a, is_open_b = "coalesce(a.open, 0) = 1", "coalesce(b.open, 0) = 1"
    with connection.cursor() as cursor:
        # A case "changes tramo" when it is open in either run and its (type, tramo)
        # differs, or it is open in one run only (the draft opens it elsewhere, or not).
        sql.create_temp(
            cursor,
            "preview_moved",
            "SELECT coalesce(b.client_id, a.client_id) AS client_id, "
            f"CASE WHEN {is_open_a} THEN a.type END AS type_a, "
            f"CASE WHEN {is_open_a} THEN a.tramo END AS tramo_a, "
            f"CASE WHEN {is_open_a} THEN a.action_code END AS code_a, "
            f"CASE WHEN {is_open_b} THEN b.type END AS type_b, "
            f"CASE WHEN {is_open_b} THEN b.tramo END AS tramo_b, "
            f"CASE WHEN {is_open_b} THEN b.action_code END AS code_b, "
            "coalesce(b.officer_id, a.officer_id) AS officer_id "
            "FROM preview_case_a a FULL JOIN preview_case_b b ON b.client_id = a.client_id "
            f"WHERE ({is_open_a} OR {is_open_b}) AND NOT ({is_open_a} AND {is_open_b} "
            "AND a.type = b.type AND a.tramo = b.tramo)",
        )
        action_keys = "client_id, type, tramo, item, channel, manual, window_from, window_to"
        sql.create_temp(
            cursor,
            "preview_appear",
            f"SELECT {action_keys} FROM preview_action_b "
            f"EXCEPT SELECT {action_keys} FROM preview_action_a",
        )
        sql.create_temp(
            cursor,
            "preview_gone",
            f"SELECT {action_keys} FROM preview_action_a "
            f"EXCEPT SELECT {action_keys} FROM preview_action_b",
        )
        client_agency = (
            "JOIN portfolio_client cl ON cl.id = m.client_id "
            "JOIN portfolio_agency ag ON ag.id = cl.agency_id"
        )
        cases = {
            "changed": _count(cursor, "preview_moved"),
            "moves": _fetch(
                cursor,
                "SELECT type_a, tramo_a, type_b, tramo_b, count(*) FROM preview_moved "
                "GROUP BY type_a, tramo_a, type_b, tramo_b ORDER BY count(*) DESC, "
                "type_a, tramo_a, type_b, tramo_b",
                ("type_before", "tramo_before", "type_after", "tramo_after", "cases"),
            ),
            "by_agency": _fetch(
                cursor,
                f"SELECT ag.code, ag.name, count(*) FROM preview_moved m {client_agency} "
                "GROUP BY ag.code, ag.name ORDER BY ag.code",
                ("agency", "name", "cases"),
            ),
            "sample": _fetch(
                cursor,
                "SELECT cl.code, ag.code, o.code, m.code_a, m.tramo_a, m.code_b, m.tramo_b "
                f"FROM preview_moved m {client_agency} "
                "LEFT JOIN portfolio_officer o ON o.id = m.officer_id "
                f"ORDER BY cl.code LIMIT {SAMPLE}",
                MOVED_KEYS,
            ),
            "per_tramo": _fetch(
                cursor,
                "SELECT type, tramo, sum(a), sum(b) FROM ("
                "SELECT type, tramo, 1 AS a, 0 AS b FROM preview_case_a WHERE open = 1 "
                "UNION ALL SELECT type, tramo, 0, 1 FROM preview_case_b WHERE open = 1) t "
                "GROUP BY type, tramo ORDER BY type, tramo",
                ("type", "tramo", "before", "after"),
            ),
        }
        changes = (
            "SELECT {cols}, 1 AS appear, 0 AS gone FROM preview_appear m {join} "
            "UNION ALL SELECT {cols}, 0, 1 FROM preview_gone m {join}"
        )
        actions = {
            "appear": _count(cursor, "preview_appear"),
            "disappear": _count(cursor, "preview_gone"),
            "by_channel": _fetch(
                cursor,
                "SELECT channel, manual, sum(appear), sum(gone) FROM ("
                + changes.format(cols="m.channel, m.manual", join="")
                + ") t GROUP BY channel, manual ORDER BY channel",
                ("channel", "manual", "appear", "disappear"),
            ),
            "by_agency": _fetch(
                cursor,
                "SELECT agency, name, sum(appear), sum(gone) FROM ("
                + changes.format(cols="ag.code AS agency, ag.name", join=client_agency)
                + ") t GROUP BY agency, name ORDER BY agency",
                ("agency", "name", "appear", "disappear"),
            ),
            "sample": _fetch(
                cursor,
                "SELECT * FROM (SELECT kind, client, type, tramo, item, channel, window_from, "
                "window_to FROM ("
                "SELECT 'appear' AS kind, cl.code AS client, m.type, m.tramo, m.item, m.channel, "
                f"m.window_from, m.window_to FROM preview_appear m {client_agency} "
                "UNION ALL SELECT 'disappear', cl.code, m.type, m.tramo, m.item, m.channel, "
                f"m.window_from, m.window_to FROM preview_gone m {client_agency}) s "
                f"ORDER BY kind, client, type, tramo, item LIMIT {SAMPLE}) t",
                ACTION_KEYS,
            ),
            "channels": _fetch(
                cursor,
                "SELECT channel, sum(a), sum(b) FROM ("
                "SELECT channel, 1 AS a, 0 AS b FROM preview_action_a "
                "UNION ALL SELECT channel, 0, 1 FROM preview_action_b) t "
                "GROUP BY channel ORDER BY channel",
                ("channel", "before", "after"),
            ),
        }
        officers = _fetch(
            cursor,
            "SELECT o.code, o.name, ag.code, coalesce(a.entries, 0), coalesce(b.entries, 0) "
            "FROM preview_list_a a FULL JOIN preview_list_b b ON b.officer_id = a.officer_id "
            "JOIN portfolio_officer o ON o.id = coalesce(a.officer_id, b.officer_id) "
            "JOIN portfolio_agency ag ON ag.id = o.agency_id ORDER BY ag.code, o.code",
            ("officer", "name", "agency", "before", "after"),
        )
        agencies = _fetch(
            cursor,
            "SELECT ag.code, ag.name, sum(coalesce(a.entries, 0)), sum(coalesce(b.entries, 0)) "
            "FROM preview_list_a a FULL JOIN preview_list_b b ON b.officer_id = a.officer_id "
            "JOIN portfolio_officer o ON o.id = coalesce(a.officer_id, b.officer_id) "
            "JOIN portfolio_agency ag ON ag.id = o.agency_id GROUP BY ag.code, ag.name "
            "ORDER BY ag.code",
            ("agency", "name", "before", "after"),
        )
        sql.drop_temp(
            cursor,
            *(f"{name}_{side}" for name, _c, _s in OUTCOME for side in "ab"),
            "preview_moved",
            "preview_appear",
            "preview_gone",
        )
    for row in actions["by_channel"]:
        row["manual"] = bool(row["manual"])
    lists = {
        "officers": officers,
        "agencies": agencies,
        "before": sum(r["before"] for r in agencies),
        "after": sum(r["after"] for r in agencies),
    }
    return {"cases": cases, "planned": actions, "lists": lists}


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")
    return cursor.fetchone()[0]
