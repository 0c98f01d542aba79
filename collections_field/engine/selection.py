"""Step 6 of the night: each officer's daily list (hoja de ruta, thesis 5.2.9, 5.2.5).

For a business date D on which collection visits are allowed (Monday to Friday,
not a Peruvian national holiday nor a lender-defined non-working day:
`portfolio.selectors.is_collection_day`), every officer (asesor, or an external
agency's officer) gets at most N clients per (management type, tramo), N being
the strategy's `Tramo.daily_cap`. On any other day nothing is written.

Who may be listed: the active cases (not closed, not in phone collection) that
have an officer. A client WITH a phone whose promise falls due on D (unpaid so
far) is off D's list whatever its reason: D is its phone-collection day; if it
does not pay, the cycle of D+1 raises 60 and it comes back under (b).

Each case takes the first reason that applies, and the reasons come in order:

(a) ``campaign``: a campaign running on D targets it (see below);
(b) ``broken_promise``: event 60 applied in D's cycle, or a promise dated before
    D still unpaid; by amount x days past due, descending;
(c) ``promise_due``: its promise falls due on D, unpaid, and it has no phone;
    by amount x days past due, descending;
(d) ``quadrant``: the rest. Monthly coverage first: clients with no visit or
    call result since the 1st of D's month (before D) come before those
    already visited this month, so every assigned client is reached before
    anyone is visited twice. Within each of those two groups, quadrants by the
    sum of amount x days past due of the officer's clients there (descending;
    clients with no quadrant last), and inside a quadrant the clients about to
    leave their tramo first (fewest days until the tramo's `to_day`; the last,
    open-ended tramo counts as never).

Amount is the case's overdue amount in PEN and days past due are D minus the
date the client became overdue. Every remaining tie goes to the client code
(byte order on both databases). The cap cuts each (officer, type, tramo) in
that order; the kept entries are numbered 1.. per officer in the same order,
so reasons come first and, inside (d), quadrants stay together.

Campaigns (operativos): one runs on D when ``date_from <= D <= date_to``. It
targets its uploaded client list, or else every case matching its segment
(agency, tramo, classification, overdue amount and days past due ranges; an
empty field matches anything), always within the campaign's own agency when it
has one. A campaign never moves a case: it leads the list of the officer who
already holds the case, and only if that officer belongs to the campaign's
team: an internal campaign leads internal officers' lists, an external
agency's campaign only that agency's officers' lists (a case of an internal
officer stays under its usual reason). When several campaigns target a case,
the one with the smallest code names the entry. The clients a segment matched
on D are recorded in `CampaignClient` (source ``segment``) for the report.

Set-based, as the other steps: a fixed number of statements whatever the
portfolio (window functions, the cap as a filter); re-running D replaces D's
entries. Chunks of a distributed run split by the officer's agency, so an
officer's list is never numbered by two chunks.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from collections_field.engine import sql
from collections_field.engine.events import ALL_CLIENTS, Scope
from portfolio.selectors import is_collection_day
from strategy.models import StrategyVersion

REASONS = {1: "campaign", 2: "broken_promise", 3: "promise_due", 4: "quadrant"}
NEVER = 1_000_000  # days to the end of an open-ended tramo


def select_worklists(
    *, business_date: date, version: StrategyVersion, scope: Scope = ALL_CLIENTS
) -> dict[str, int]:
    day = business_date
    officers = _officers_in(scope)
    counts = {
        "collection_day": 0,
        "entries": 0,
        "officers": 0,
        "eligible": 0,
        "targeted_by_segment": 0,
    }
    counts.update(dict.fromkeys(REASONS.values(), 0))
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM collections_field_worklistentry WHERE business_date = %s "
            f"AND officer_id IN (SELECT o.id FROM portfolio_officer o WHERE {officers})",
            [day],
        )
        if not is_collection_day(day):
            return counts
        counts["collection_day"] = 1
        _load_candidates(cursor, day, version, officers)
        counts["targeted_by_segment"] = _record_segment_targets(cursor, day)
        _insert_entries(cursor, day)
        cursor.execute(
            "SELECT (SELECT count(*) FROM engine_sel WHERE phone_day = 0), "
            "(SELECT count(DISTINCT officer_id) FROM collections_field_worklistentry "
            "WHERE business_date = %s AND officer_id IN "
            f"(SELECT o.id FROM portfolio_officer o WHERE {officers}))",
            [day],
        )
        counts["eligible"], counts["officers"] = cursor.fetchone()
        cursor.execute(
            "SELECT reason, count(*) FROM collections_field_worklistentry "
            "WHERE business_date = %s AND officer_id IN "
            f"(SELECT o.id FROM portfolio_officer o WHERE {officers}) GROUP BY reason",
            [day],
        )
        for reason, n in cursor.fetchall():
            counts[reason] = n
            counts["entries"] += n
        sql.drop_temp(cursor, "engine_sel")
    return counts


def _officers_in(scope: Scope) -> str:
    """A condition on a `portfolio_officer` alias `o`: the chunk's officers."""
    if scope.agency_ids is None:
        return "1 = 1"
    ids = ", ".join(str(int(i)) for i in scope.agency_ids) or "NULL"
    return f"o.agency_id IN ({ids})"


def _bytes(expr: str) -> str:
    """Order text the same way on both databases (SQLite compares bytes)."""
    return f'{expr} COLLATE "C"' if sql.is_postgres() else expr


def _load_candidates(cursor, day: date, version: StrategyVersion, officers: str) -> None:
    """Every active case with an officer, with the figures the order needs."""
    dpd = f"coalesce({sql.days_between('%s', 'c.overdue_since')}, 0)"
    start = sql.ts(sql.start_of(day))
    month_start = sql.ts(sql.start_of(day.replace(day=1)))
    sql.create_temp(
        cursor,
        "engine_sel",
        "SELECT c.id AS case_id, c.client_id, cl.code AS client_code, cl.agency_id, "
        "c.officer_id, o.external_agency_id AS officer_team, c.management_type AS type, "
        "c.tramo, c.classification, c.action_code, c.overdue_amount AS amount, "
        # The order's amount x days in whole cents: exact, and integers sort fast.
        f"{dpd} AS dpd, CAST(round(c.overdue_amount * 100) AS bigint) * {dpd} AS score, "
        "t.daily_cap AS cap, "
        f"coalesce(t.to_day - {dpd}, {NEVER}) AS days_to_exit, "
        "qd.id AS quadrant_id, coalesce(qd.code, '') AS quadrant_code, "
        "CASE WHEN EXISTS (SELECT 1 FROM collections_field_caseevent e "
        " WHERE e.case_id = c.id AND e.business_date = %s AND e.kind = 'event' "
        " AND e.code = '60' AND e.applied = true) "
        " OR (c.promise_date < %s AND c.promise_paid = false) THEN 1 ELSE 0 END AS broken, "
        "CASE WHEN c.promise_date = %s AND c.promise_paid = false THEN 1 ELSE 0 END AS due, "
        "CASE WHEN c.promise_date = %s AND c.promise_paid = false AND cl.phone <> '' "
        " THEN 1 ELSE 0 END AS phone_day, "
        "CASE WHEN EXISTS (SELECT 1 FROM collections_field_fieldresult r "
        " WHERE r.client_id = c.client_id AND r.channel IN ('visit', 'call') "
        " AND r.occurred_at >= %s AND r.occurred_at < %s) THEN 1 ELSE 0 END AS visited "
        "FROM collections_field_case c "
        "JOIN portfolio_client cl ON cl.id = c.client_id "
        "JOIN portfolio_officer o ON o.id = c.officer_id "
        "JOIN strategy_tramo t ON t.version_id = %s AND t.type = c.management_type "
        "AND t.number = c.tramo "
        "LEFT JOIN portfolio_address ca ON ca.id = c.collection_address_id "
        # The home address's quadrant when the collection address has none: looked up
        # for those few (a join read every address a second time: 0.2 s at 1M credits).
        "LEFT JOIN portfolio_quadrant qd ON qd.id = coalesce(ca.quadrant_id, ("
        "SELECT home.quadrant_id FROM portfolio_address home WHERE home.client_id = c.client_id "
        "AND home.kind = 'home' AND home.guarantor_id IS NULL)) "
        f"WHERE c.status = 'active' AND o.active = true AND {officers}",
        [day, day, day, day, day, day, day, month_start, start, version.pk],
    )


# The campaign's segment on an `engine_sel` row `b` (an empty field matches anything).
SEGMENT = (
    "(cp.agency_id IS NULL OR cp.agency_id = b.agency_id) "
    "AND (cp.segment_agency_id IS NULL OR cp.segment_agency_id = b.agency_id) "
    "AND (cp.tramo IS NULL OR cp.tramo = b.tramo) "
    "AND (cp.classification = '' OR cp.classification = b.classification) "
    "AND (cp.min_amount IS NULL OR b.amount >= cp.min_amount) "
    "AND (cp.max_amount IS NULL OR b.amount <= cp.max_amount) "
    "AND (cp.min_dpd IS NULL OR b.dpd >= cp.min_dpd) "
    "AND (cp.max_dpd IS NULL OR b.dpd <= cp.max_dpd)"
)


def _record_segment_targets(cursor, day: date) -> int:
    cursor.execute(
        "INSERT INTO collections_field_campaignclient (campaign_id, client_id, source) "
        "SELECT DISTINCT cp.id, b.client_id, 'segment' FROM engine_sel b "
        "JOIN collections_field_campaign cp ON cp.date_from <= %s AND cp.date_to >= %s "
        f"AND cp.by_list = false AND {SEGMENT} "
        "WHERE NOT EXISTS (SELECT 1 FROM collections_field_campaignclient cc "
        "WHERE cc.campaign_id = cp.id AND cc.client_id = b.client_id)",
        [day, day],
    )
    return cursor.rowcount


def _insert_entries(cursor, day: date) -> None:
    # The one order of the module docstring, used for the cut and for the positions.
    # Two sorts: each (officer, type, tramo) in that order for the cut, then each
    # officer's kept entries in the same order for the positions (the cut of a subset
    # of an officer's cases in the officer's order is the same cut).
    quadrant = _bytes("(CASE WHEN reason_rank = 4 THEN quadrant_code ELSE '' END)")
    order = (
        "reason_rank, "
        "CASE WHEN reason_rank = 4 THEN visited ELSE 0 END, "
        "CASE WHEN reason_rank = 4 AND quadrant_id IS NULL THEN 1 ELSE 0 END, "
        "qweight DESC, "
        f"{quadrant}, "
        "CASE WHEN reason_rank = 4 THEN days_to_exit ELSE 0 END, "
        "CASE WHEN reason_rank < 4 THEN score ELSE 0 END DESC, "
        f"{_bytes('client_code')}"
    )
    # The campaign naming each targeted case, as one set (a subquery per case cost
    # 1-2 s a night at 1M credits): list campaigns through their client lists,
    # segment campaigns by their segment; the smallest code wins.
    team = "(cp.team_id = b.officer_team OR (cp.team_id IS NULL AND b.officer_team IS NULL))"
    running = "cp.date_from <= %s AND cp.date_to >= %s"
    hits = (
        "SELECT case_id, campaign_id FROM (SELECT case_id, campaign_id, row_number() OVER "
        f"(PARTITION BY case_id ORDER BY {_bytes('campaign_code')}) AS n FROM ("
        "SELECT b.case_id, cp.id AS campaign_id, cp.code AS campaign_code "
        "FROM collections_field_campaign cp "
        "JOIN collections_field_campaignclient cc ON cc.campaign_id = cp.id "
        f"JOIN engine_sel b ON b.client_id = cc.client_id AND {team} "
        f"WHERE {running} AND cp.by_list = true "
        "AND (cp.agency_id IS NULL OR cp.agency_id = b.agency_id) "
        "UNION ALL SELECT b.case_id, cp.id, cp.code FROM collections_field_campaign cp "
        f"JOIN engine_sel b ON {team} AND {SEGMENT} "
        f"WHERE {running} AND cp.by_list = false) a) h WHERE n = 1"
    )
    reason = " ".join(f"WHEN {rank} THEN '{name}'" for rank, name in REASONS.items())
    cursor.execute(
        "INSERT INTO collections_field_worklistentry (business_date, officer_id, position, "
        "case_id, client_id, reason, action_code, management_type, tramo, quadrant_id, "
        "amount, days_past_due, campaign_id) "
        f"SELECT %s, officer_id, row_number() OVER (PARTITION BY officer_id ORDER BY {order}), "
        f"case_id, client_id, CASE reason_rank {reason} END, action_code, type, tramo, "
        "quadrant_id, amount, dpd, campaign_id FROM ("
        f" SELECT r.*, row_number() OVER (PARTITION BY officer_id, type, tramo ORDER BY {order})"
        " AS rn FROM ("
        "  SELECT k.*, CASE WHEN reason_rank = 4 THEN CAST(sum(score) OVER "
        "  (PARTITION BY officer_id, reason_rank, visited, quadrant_id) AS bigint) ELSE 0 END "
        "  AS qweight"
        "  FROM (SELECT w.*, CASE WHEN campaign_id IS NOT NULL THEN 1 WHEN broken = 1 THEN 2 "
        "   WHEN due = 1 THEN 3 ELSE 4 END AS reason_rank"
        # Only what the order and the entry need: narrow rows sort faster.
        "   FROM (SELECT b.case_id, b.client_id, b.client_code, b.officer_id, b.type, b.tramo, "
        "   b.action_code, b.amount, b.dpd, b.score, b.cap, b.days_to_exit, b.quadrant_id, "
        "   b.quadrant_code, b.broken, b.due, b.visited, h.campaign_id FROM engine_sel b"
        f"    LEFT JOIN ({hits}) h ON h.case_id = b.case_id"
        "    WHERE b.phone_day = 0) w) k) r) s "
        "WHERE rn <= cap",
        [day, day, day, day, day],
    )
