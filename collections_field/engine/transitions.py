"""Step 3 of the night: apply the BAS table to every case, items in order.

A join, not a loop: pass k takes the k-th item of every case at once
(`cases ⋈ items(seq = k) ⋈ BAS ⋈ AS`), writes the moves to a temporary table,
records them in the case history and updates the cases; a visit that went
beyond its tramo's maximum raises 90 right after, in the same pass. The number
of passes is the largest number of items one case had that day, whatever the
number of cases.

Rules (DOMAIN.md 3):
- a pair missing from the BAS table keeps the code;
- visits count per tramo and restart when a move changes the tramo;
- a partial payment that day keeps the classification from worsening (5.2.4):
  a move to a worse classification lands on the same tramo and visit of the
  current classification, or stays if there is no such code;
- a result flagged `to_phone_days` sends the case to phone collection;
- 60 applies only to the promise still open and unpaid at its time;
- TR applies when the days past due cross the current tramo's end: within it at
  the previous cycle (its end as the previous cycle's version had it), beyond it
  now (its end in this version). A Baja is not undone by days already owed, and a
  shortened tramo moves the cases already past its new end on the next cycle;
- 70 and CA close the case; the classification stays with the client.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from collections_field.engine import sql
from collections_field.engine.events import ALL_CLIENTS, PREVIOUS_TRAMO, Scope, previous_end
from strategy.models import StrategyVersion

MOVE_COLUMNS = """
    e.id AS event_id, e.case_id, e.kind, e.code, e.at, e.seq, e.officer_code,
    e.promise_date AS event_promise_date, e.result_id,
    c.management_type AS type, c.action_code AS from_code, c.classification AS from_class,
    c.tramo AS from_tramo, c.visits_in_tramo, c.status, c.phone_until,
    c.promise_date, c.promise_amount, c.promise_made_at, c.promise_paid, c.closed_on
"""


def apply_transitions(
    *,
    business_date: date,
    version: StrategyVersion,
    previous_version: StrategyVersion | None = None,
    scope: Scope = ALL_CLIENTS,
) -> dict[str, int]:
    """`previous_version`: the strategy the previous cycle ran with (default: `version`)."""
    day = business_date
    previous = previous_version or version
    counts = {"passes": 0, "moves": 0, "changed": 0, "max_visits": 0, "phone": 0, "closed": 0}
    with connection.cursor() as cursor:
        # As many passes as the day's busiest case has items, whatever the chunk or
        # share: read off the date's index (a share's own busiest case would need a
        # join of the items with every case, 0.2 s a night at 1M credits); a pass with
        # nothing of its own to apply writes nothing.
        cursor.execute(
            "SELECT coalesce(max(e.seq), 0) FROM collections_field_caseevent e "
            "WHERE e.business_date = %s",
            [day],
        )
        passes = cursor.fetchone()[0]
        _partial_payers(cursor, day, scope)
        for k in range(1, passes + 1):
            _pass(cursor, day, version, previous, k, scope, counts)
        counts["passes"] = passes
        sql.drop_temp(cursor, "engine_guard", "engine_move")
    return counts


def _partial_payers(cursor, day: date, scope: Scope) -> None:
    """Cases that paid part of what they owe today: no worse classification today."""
    sql.create_temp(
        cursor,
        "engine_guard",
        "SELECT DISTINCT e.case_id FROM collections_field_caseevent e "
        "JOIN collections_field_case c ON c.id = e.case_id "
        f"WHERE e.business_date = %s AND e.code = 'PG' AND {scope.cases('c')} "
        "AND NOT EXISTS (SELECT 1 FROM collections_field_caseevent e2 "
        "WHERE e2.case_id = e.case_id AND e2.business_date = e.business_date AND e2.code = '70')",
        [day],
    )


def _pass(
    cursor,
    day: date,
    version: StrategyVersion,
    previous: StrategyVersion,
    k: int,
    scope: Scope,
    counts,
) -> None:
    v = version.pk
    # 1. The k-th item of every case, with what it applies to.
    sql.create_temp(
        cursor,
        "engine_move",
        f"SELECT {MOVE_COLUMNS}, "
        "b.to_code AS bas_to, rc.promise AS is_promise, rc.to_phone_days, "
        "fr.promise_amount AS result_promise_amount, "
        "CASE WHEN e.kind = 'result' AND fr.channel IN ('visit', 'call') THEN 1 ELSE 0 END "
        "AS counts_visit, "
        "CASE WHEN c.status = 'closed' THEN 0 "
        "WHEN e.code = '60' AND e.kind = 'event' THEN "
        "  CASE WHEN c.promise_date = e.promise_date AND c.promise_paid = false "
        "  THEN 1 ELSE 0 END "
        "WHEN e.code = 'TR' AND e.kind = 'event' THEN "
        "  CASE WHEN tr.to_day IS NOT NULL "
        f"  AND {sql.days_between('%s', 'c.overdue_since')} > tr.to_day "
        f"  AND e.previous_dpd <= {previous_end('tr')} THEN 1 ELSE 0 END "
        "ELSE 1 END AS applies, "
        "CASE WHEN g.case_id IS NULL THEN 0 ELSE 1 END AS guarded, "
        "coalesce(b.to_code, c.action_code) AS to_code, "
        "coalesce(ta.classification, c.classification) AS to_class, "
        "coalesce(ta.tramo, c.tramo) AS to_tramo "
        "FROM collections_field_caseevent e "
        "JOIN collections_field_case c ON c.id = e.case_id "
        "LEFT JOIN strategy_bastransition b ON b.version_id = %s "
        "AND b.type = c.management_type AND b.from_code = c.action_code AND b.on_code = e.code "
        "LEFT JOIN strategy_suggestedaction ta ON ta.version_id = b.version_id "
        "AND ta.type = b.type AND ta.code = b.to_code "
        "LEFT JOIN strategy_tramo tr ON tr.version_id = %s AND tr.type = c.management_type "
        f"AND tr.number = c.tramo {PREVIOUS_TRAMO.format(tramo='tr')} "
        "LEFT JOIN strategy_resultcode rc ON e.kind = 'result' AND rc.version_id = %s "
        "AND rc.type = c.management_type AND rc.code = e.code "
        "LEFT JOIN collections_field_fieldresult fr ON fr.id = e.result_id "
        "LEFT JOIN engine_guard g ON g.case_id = e.case_id "
        f"WHERE e.business_date = %s AND e.seq = %s AND {scope.cases('c')}",
        [day, v, v, previous.pk, v, day, k],
    )
    _apply_guard(cursor, v)
    _write_moves(cursor, day, version, counts)

    # 2. The visit went beyond the tramo's maximum: its own row applied, now 90.
    sql.create_temp(
        cursor,
        "engine_move90",
        f"SELECT {MOVE_COLUMNS}, "
        "b.to_code AS bas_to, false AS is_promise, CAST(NULL AS integer) AS to_phone_days, "
        "CAST(NULL AS numeric) AS result_promise_amount, 0 AS counts_visit, 1 AS applies, "
        "m.guarded, coalesce(b.to_code, c.action_code) AS to_code, "
        "coalesce(ta.classification, c.classification) AS to_class, "
        "coalesce(ta.tramo, c.tramo) AS to_tramo "
        "FROM engine_move m "
        "JOIN collections_field_caseevent e ON e.id = m.event_id "
        "JOIN collections_field_case c ON c.id = m.case_id "
        "JOIN strategy_tramo tr ON tr.version_id = %s AND tr.type = c.management_type "
        "AND tr.number = c.tramo "
        "LEFT JOIN strategy_bastransition b ON b.version_id = %s "
        "AND b.type = c.management_type AND b.from_code = c.action_code AND b.on_code = '90' "
        "LEFT JOIN strategy_suggestedaction ta ON ta.version_id = b.version_id "
        "AND ta.type = b.type AND ta.code = b.to_code "
        "WHERE m.applies = 1 AND m.counts_visit = 1 AND m.to_tramo = m.from_tramo "
        "AND c.visits_in_tramo > tr.max_visits AND c.status <> 'closed'",
        [v, v],
    )
    cursor.execute("UPDATE engine_move90 SET code = '90', kind = 'event'")
    cursor.execute("DROP TABLE engine_move" if sql.is_postgres() else "DROP TABLE temp.engine_move")
    cursor.execute("ALTER TABLE engine_move90 RENAME TO engine_move")
    _apply_guard(cursor, v)
    counts["max_visits"] += _write_moves(cursor, day, version, counts)


def _apply_guard(cursor, v: int) -> None:
    """A partial payment today: a move to a worse classification lands on the same
    tramo and visit of the current classification, or stays (5.2.4)."""
    cursor.execute(
        "UPDATE engine_move SET to_code = coalesce("
        "(SELECT same.code FROM strategy_suggestedaction target "
        " JOIN strategy_suggestedaction same ON same.version_id = target.version_id "
        " AND same.type = target.type AND same.classification = engine_move.from_class "
        " AND same.tramo = target.tramo AND same.visit = target.visit "
        " WHERE target.version_id = %s AND target.type = engine_move.type "
        " AND target.code = engine_move.to_code), from_code) "
        "WHERE guarded = 1 AND applies = 1 AND to_class <> from_class AND ("
        " SELECT tc.position FROM strategy_classification tc WHERE tc.version_id = %s "
        " AND tc.type = engine_move.type AND tc.code = engine_move.to_class"
        ") > (SELECT fc.position FROM strategy_classification fc WHERE fc.version_id = %s "
        " AND fc.type = engine_move.type AND fc.code = engine_move.from_class)",
        [v, v, v],
    )
    # One join with the strategy's codes (two lookups per move cost 0.3 s a pass).
    cursor.execute(
        "UPDATE engine_move AS m SET to_class = a.classification, to_tramo = a.tramo "
        "FROM strategy_suggestedaction a WHERE a.version_id = %s AND a.type = m.type "
        "AND a.code = m.to_code AND m.guarded = 1 AND m.applies = 1",
        [v],
    )


def _write_moves(cursor, day: date, version: StrategyVersion, counts) -> int:
    """History first (it needs the 'from'), then the cases, then the items' flag."""
    cursor.execute(
        "INSERT INTO collections_field_casehistory (case_id, business_date, at, seq, from_code, "
        "to_code, from_classification, to_classification, cause_kind, cause, officer_code, "
        "reason, strategy_version) "
        "SELECT m.case_id, %s, m.at, m.seq, m.from_code, m.to_code, m.from_class, m.to_class, "
        "m.kind, m.code, m.officer_code, "
        "CASE WHEN m.guarded = 1 AND m.to_code <> coalesce(m.bas_to, m.from_code) "
        "THEN 'partial payment: classification kept' ELSE '' END, %s "
        "FROM engine_move m WHERE m.applies = 1",
        [day, version.number],
    )
    moved = cursor.rowcount
    phone_until = sql.date_plus("%s", "m.to_phone_days - 1")
    cursor.execute(
        "UPDATE collections_field_case AS c SET "
        "action_code = m.to_code, classification = m.to_class, tramo = m.to_tramo, "
        "visits_in_tramo = CASE WHEN m.to_tramo <> m.from_tramo THEN 0 "
        "  ELSE m.visits_in_tramo + m.counts_visit END, "
        "status = CASE WHEN m.code IN ('70', 'CA') AND m.kind = 'event' THEN 'closed' "
        "  WHEN m.to_phone_days IS NOT NULL AND m.to_phone_days > 0 THEN 'phone' "
        "  ELSE m.status END, "
        "closed_on = CASE WHEN m.code IN ('70', 'CA') AND m.kind = 'event' THEN %s "
        "  ELSE m.closed_on END, "
        "phone_until = CASE WHEN m.to_phone_days IS NOT NULL AND m.to_phone_days > 0 "
        f"  THEN {phone_until} ELSE m.phone_until END, "
        "promise_date = CASE WHEN m.is_promise = true AND m.event_promise_date IS NOT NULL "
        "  THEN m.event_promise_date WHEN m.kind = 'event' AND m.code IN ('60', '70', 'CA') "
        "  THEN NULL ELSE m.promise_date END, "
        "promise_amount = CASE WHEN m.is_promise = true AND m.event_promise_date IS NOT NULL "
        "  THEN m.result_promise_amount WHEN m.kind = 'event' AND m.code IN ('60', '70', 'CA') "
        "  THEN NULL ELSE m.promise_amount END, "
        "promise_made_at = CASE WHEN m.is_promise = true AND m.event_promise_date IS NOT NULL "
        "  THEN m.at WHEN m.kind = 'event' AND m.code IN ('60', '70', 'CA') "
        "  THEN NULL ELSE m.promise_made_at END, "
        "promise_paid = CASE WHEN m.is_promise = true AND m.event_promise_date IS NOT NULL "
        "  THEN false WHEN m.kind = 'event' AND m.code IN ('60', '70', 'CA') THEN false "
        "  WHEN m.kind = 'event' AND m.code = 'PG' AND m.promise_date IS NOT NULL THEN true "
        "  ELSE m.promise_paid END "
        "FROM engine_move m WHERE m.case_id = c.id AND m.applies = 1",
        [day, day],
    )
    # A promise whose date passed after a payment was kept: it simply ends.
    cursor.execute(
        "UPDATE collections_field_case AS c SET promise_date = NULL, promise_amount = NULL, "
        "promise_made_at = NULL, promise_paid = false FROM engine_move m "
        "WHERE m.case_id = c.id AND m.kind = 'event' AND m.code = '60' AND m.applies = 0 "
        "AND c.promise_date = m.event_promise_date AND c.promise_paid = true"
    )
    cursor.execute(
        "UPDATE collections_field_caseevent AS e SET applied = true FROM engine_move m "
        "WHERE m.event_id = e.id AND m.applies = 1 AND m.kind = e.kind"
    )
    cursor.execute(
        "SELECT count(*), "
        "sum(CASE WHEN to_code <> from_code THEN 1 ELSE 0 END), "
        "sum(CASE WHEN to_phone_days > 0 THEN 1 ELSE 0 END), "
        "sum(CASE WHEN code IN ('70', 'CA') AND kind = 'event' THEN 1 ELSE 0 END) "
        "FROM engine_move WHERE applies = 1"
    )
    total, changed, phone, closed = cursor.fetchone()
    counts["moves"] += total or 0
    counts["changed"] += changed or 0
    counts["phone"] += phone or 0
    counts["closed"] += closed or 0
    return moved
