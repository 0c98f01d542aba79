"""Step 4 of the night: who works each case.

- A new case goes to the officer of the client's most delinquent credit (5.2.7)
  when that officer works the case's tramo.
- A tramo jump reassigns at once to whoever covers the case's subzone and new
  tramo (an asesor, or an external agency's officer); the current officer keeps
  the case if it covers them too.
- On the first cycle of a month every open case is spread again, evenly, over
  the officers covering its subzone and tramo.
Otherwise cases are dealt round-robin over the covering officers, the least
loaded first; when nobody covers the subzone, over the agency's officers of
that tramo. Set-based: a fixed number of statements whatever the portfolio.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from collections_field.engine import sql
from collections_field.engine.events import ALL_CLIENTS, Scope
from portfolio.models import Officer


def assign_cases(
    *, business_date: date, month_start: bool, scope: Scope = ALL_CLIENTS
) -> dict[str, int]:
    day = business_date
    with connection.cursor() as cursor:
        _load_cover(cursor, scope)
        needing = (
            "c.status <> 'closed'"
            if month_start
            else "c.status <> 'closed' AND (c.officer_id IS NULL OR c.assigned_tramo IS NULL "
            "OR c.assigned_tramo <> c.tramo)"
        )
        sql.create_temp(
            cursor,
            "engine_assign",
            "SELECT c.id AS case_id, c.tramo, c.officer_id AS old_officer, "
            "c.assigned_tramo, cl.agency_id, cl.code AS client_code, "
            "coalesce(ca.subzone_id, home.subzone_id, (SELECT z.id FROM portfolio_subzone z "
            " WHERE z.agency_id = cl.agency_id ORDER BY z.code LIMIT 1)) AS subzone_id, "
            "CAST(NULL AS bigint) AS new_officer "
            "FROM collections_field_case c JOIN portfolio_client cl ON cl.id = c.client_id "
            "LEFT JOIN portfolio_address ca ON ca.id = c.collection_address_id "
            "LEFT JOIN portfolio_address home ON home.client_id = c.client_id "
            "AND home.kind = 'home' AND home.guarantor_id IS NULL "
            f"WHERE {needing} AND {scope.cases('c')}",
        )
        if not month_start:
            # The holder of the most delinquent credit, for a case never assigned.
            cursor.execute(
                "UPDATE engine_assign SET new_officer = (SELECT o.id FROM portfolio_credit k "
                "JOIN portfolio_creditposition p ON p.credit_id = k.id AND p.business_date = %s "
                "JOIN portfolio_officer o ON o.code = k.origin_officer_code AND o.active = true "
                "JOIN engine_cover cv ON cv.officer_id = o.id AND cv.tramo = engine_assign.tramo "
                "WHERE k.client_id = (SELECT client_id FROM collections_field_case "
                " WHERE id = engine_assign.case_id) "
                "ORDER BY p.days_past_due DESC, p.overdue_amount DESC, k.code LIMIT 1) "
                "WHERE old_officer IS NULL AND assigned_tramo IS NULL",
                [day],
            )
            # The current officer keeps a case whose subzone and tramo it covers.
            cursor.execute(
                "UPDATE engine_assign SET new_officer = old_officer WHERE new_officer IS NULL "
                "AND EXISTS (SELECT 1 FROM engine_cover cv WHERE cv.officer_id = "
                "engine_assign.old_officer AND cv.subzone_id = engine_assign.subzone_id "
                "AND cv.tramo = engine_assign.tramo)"
            )
        _round_robin(cursor, month_start, "subzone_id")
        _round_robin(cursor, month_start, "agency_id")

        cursor.execute(
            "INSERT INTO collections_field_casehistory (case_id, business_date, at, seq, "
            "from_code, to_code, from_classification, to_classification, cause_kind, cause, "
            "officer_code, reason, strategy_version) "
            "SELECT c.id, %s, %s, 0, c.action_code, c.action_code, c.classification, "
            "c.classification, 'assign', 'assign', coalesce(o.code, ''), "
            "coalesce(old.code, '') || ' -> ' || coalesce(o.code, ''), NULL "
            "FROM engine_assign a JOIN collections_field_case c ON c.id = a.case_id "
            "LEFT JOIN portfolio_officer o ON o.id = a.new_officer "
            "LEFT JOIN portfolio_officer old ON old.id = a.old_officer "
            "WHERE a.new_officer IS NOT NULL AND a.new_officer IS DISTINCT FROM a.old_officer",
            [day, sql.ts(sql.start_of(day))],
        )
        reassigned = cursor.rowcount
        cursor.execute(
            "UPDATE collections_field_case AS c SET officer_id = a.new_officer, "
            "external_agency_id = o.external_agency_id, assigned_tramo = a.tramo "
            "FROM engine_assign a JOIN portfolio_officer o ON o.id = a.new_officer "
            "WHERE c.id = a.case_id AND (c.officer_id IS DISTINCT FROM a.new_officer "
            "OR c.assigned_tramo IS DISTINCT FROM a.tramo "
            "OR c.external_agency_id IS DISTINCT FROM o.external_agency_id)"
        )
        cursor.execute("SELECT count(*) FROM engine_assign WHERE new_officer IS NULL")
        unassigned = cursor.fetchone()[0]
        sql.drop_temp(
            cursor, "engine_cover", "engine_assign", "engine_cand", "engine_todo", "engine_pick"
        )
    return {"reassigned": reassigned, "unassigned": unassigned, "month_start": int(month_start)}


def _load_cover(cursor, scope: Scope) -> None:
    """(officer, subzone, tramo) for every active officer: the coverage table."""
    officers = Officer.objects.filter(active=True)
    if scope.agency_ids is not None:
        officers = officers.filter(agency_id__in=scope.agency_ids)
    rows = [
        (officer_id, subzone_id, int(tramo), agency_id)
        for officer_id, agency_id, tramos, subzone_ids in _officer_rows(officers)
        for subzone_id in subzone_ids
        for tramo in tramos or []
    ]
    sql.create_temp(
        cursor,
        "engine_cover",
        "SELECT CAST(NULL AS bigint) AS officer_id, CAST(NULL AS bigint) AS subzone_id, "
        "CAST(NULL AS integer) AS tramo, CAST(NULL AS bigint) AS agency_id WHERE 1 = 0",
    )
    if rows:
        cursor.executemany("INSERT INTO engine_cover VALUES (%s, %s, %s, %s)", rows)


def _officer_rows(officers):
    subzones: dict[int, list[int]] = {}
    through = Officer.subzones.through.objects.filter(officer__in=officers)
    for officer_id, subzone_id in through.values_list("officer_id", "subzone_id"):
        subzones.setdefault(officer_id, []).append(subzone_id)
    for officer_id, agency_id, tramos in officers.values_list("id", "agency_id", "tramos"):
        yield officer_id, agency_id, tramos, subzones.get(officer_id, [])


def _round_robin(cursor, month_start: bool, group: str) -> None:
    """Deal the still unassigned cases of each (group, tramo) over its coverers."""
    load = (
        "0"
        if month_start
        else "(SELECT count(*) FROM collections_field_case x WHERE x.officer_id = cv.officer_id "
        "AND x.status <> 'closed')"
    )
    sql.create_temp(
        cursor,
        "engine_cand",
        f"SELECT g.{group} AS grp, g.tramo, g.officer_id, "
        f"row_number() OVER (PARTITION BY g.{group}, g.tramo ORDER BY g.load, o.code) AS rn, "
        f"count(*) OVER (PARTITION BY g.{group}, g.tramo) AS n "
        f"FROM (SELECT DISTINCT cv.{group}, cv.tramo, cv.officer_id, {load} AS load "
        "FROM engine_cover cv) g JOIN portfolio_officer o ON o.id = g.officer_id",
    )
    sql.create_temp(
        cursor,
        "engine_todo",
        f"SELECT case_id, {group} AS grp, tramo, row_number() OVER "
        f"(PARTITION BY {group}, tramo ORDER BY client_code) AS i "
        "FROM engine_assign WHERE new_officer IS NULL",
    )
    sql.create_temp(
        cursor,
        "engine_pick",
        "SELECT t.case_id, cand.officer_id FROM engine_todo t "
        "JOIN engine_cand cand ON cand.grp = t.grp AND cand.tramo = t.tramo "
        "AND cand.rn = ((t.i - 1) % cand.n) + 1",
    )
    cursor.execute(
        "UPDATE engine_assign AS a SET new_officer = p.officer_id FROM engine_pick p "
        "WHERE p.case_id = a.case_id AND a.new_officer IS NULL"
    )
