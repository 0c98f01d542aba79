"""Step 4 of the night: who works each case.

- A new case goes to the officer of the client's most delinquent credit (5.2.7)
  when that officer works the case's tramo.
- A tramo jump reassigns at once to whoever covers the case's subzone and new
  tramo (an asesor, or an external agency's officer); the current officer keeps
  the case if it covers them too.
- On the first cycle of a month every open case is spread again, evenly, over
  the officers covering its subzone and tramo.
- An outsourced agency works a subzone and tramo as its `ExternalAssignment` says
  (the most specific rule; none: alternate). Alternate: its officers are coverers
  like the asesores, so the cases are dealt round-robin over both teams.
  Simultaneous: its officers deal no cases there; the case goes to an asesor and
  the agency works it too (`Case.external_agency`, its users see it). The mode
  applies as cases are (re)assigned: new cases and tramo jumps at once, every
  case at the month's spread.
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
            "SELECT c.id AS case_id, c.client_id, c.tramo, c.officer_id AS old_officer, "
            "c.assigned_tramo, cl.agency_id, cl.code AS client_code, "
            # The subzone looked up case by case (few cases need an officer on most
            # nights, and the planner, not knowing how few, read every address twice:
            # 0.5 s a night at 1M credits).
            "coalesce((SELECT ca.subzone_id FROM portfolio_address ca "
            " WHERE ca.id = c.collection_address_id), "
            "(SELECT home.subzone_id FROM portfolio_address home "
            " WHERE home.client_id = c.client_id AND home.kind = 'home' "
            " AND home.guarantor_id IS NULL), "
            "(SELECT z.id FROM portfolio_subzone z "
            " WHERE z.agency_id = cl.agency_id ORDER BY z.code LIMIT 1)) AS subzone_id, "
            "CAST(NULL AS bigint) AS new_officer, c.external_agency_id AS old_external, "
            "CAST(NULL AS bigint) AS beside "
            "FROM collections_field_case c JOIN portfolio_client cl ON cl.id = c.client_id "
            f"WHERE {needing} AND {scope.cases('c')}",
        )
        if not month_start:
            # The holder of the most delinquent credit, for a case never assigned: the
            # few such cases' credits first (OFFSET 0 keeps PostgreSQL from joining the
            # coverage before them), then the first covering holder of each.
            fence = " OFFSET 0" if sql.is_postgres() else ""
            cursor.execute(
                "UPDATE engine_assign AS a SET new_officer = pick.officer_id FROM ("
                "SELECT h.case_id, h.officer_id FROM (SELECT x.case_id, x.officer_id, "
                "row_number() OVER (PARTITION BY x.case_id "
                "ORDER BY x.days_past_due DESC, x.overdue_amount DESC, x.code) AS rn FROM ("
                "SELECT n.case_id, n.tramo, o.id AS officer_id, p.days_past_due, "
                "p.overdue_amount, k.code FROM engine_assign n "
                "JOIN portfolio_credit k ON k.client_id = n.client_id "
                "JOIN portfolio_creditposition p ON p.credit_id = k.id AND p.business_date = %s "
                "JOIN portfolio_officer o ON o.code = k.origin_officer_code "
                f"WHERE n.old_officer IS NULL AND n.assigned_tramo IS NULL AND o.active = "
                f"{sql.true()}{fence}) x WHERE EXISTS (SELECT 1 FROM engine_cover cv "
                "WHERE cv.officer_id = x.officer_id AND cv.tramo = x.tramo)) h "
                "WHERE h.rn = 1) pick WHERE pick.case_id = a.case_id",
                [day],
            )
            # The current officer keeps a case whose subzone and tramo it covers.
            cursor.execute(
                "UPDATE engine_assign SET new_officer = old_officer WHERE new_officer IS NULL "
                "AND EXISTS (SELECT 1 FROM engine_cover cv WHERE cv.officer_id = "
                "engine_assign.old_officer AND cv.subzone_id = engine_assign.subzone_id "
                "AND cv.tramo = engine_assign.tramo)"
            )
            # Each officer's open cases, the load the round-robin deals to first.
            sql.create_temp(
                cursor,
                "engine_load",
                "SELECT x.officer_id, count(*) AS load FROM collections_field_case x "
                "WHERE x.status <> 'closed' AND x.officer_id IS NOT NULL GROUP BY x.officer_id",
            )
        _round_robin(cursor, month_start, "subzone_id")
        _round_robin(cursor, month_start, "agency_id")
        # The outsourced agency working the case beside its asesor (simultaneous).
        cursor.execute(
            "UPDATE engine_assign SET beside = (SELECT min(s.external_agency_id) "
            "FROM engine_cover_beside s WHERE s.subzone_id = engine_assign.subzone_id "
            "AND s.tramo = engine_assign.tramo) WHERE new_officer IS NOT NULL"
        )
        if sql.is_postgres():
            cursor.execute("ANALYZE engine_assign")  # its officers were chosen after it was made

        cursor.execute(
            "INSERT INTO collections_field_casehistory (case_id, business_date, at, seq, "
            "from_code, to_code, from_classification, to_classification, cause_kind, cause, "
            "officer_code, reason, strategy_version, external_agency_code) "
            "SELECT c.id, %s, %s, 0, c.action_code, c.action_code, c.classification, "
            "c.classification, 'assign', 'assign', coalesce(o.code, ''), "
            "coalesce(old.code, '') || ' -> ' || coalesce(o.code, '') "
            "|| CASE WHEN a.beside IS NOT NULL THEN ' + ' || x.code ELSE '' END, NULL, "
            "coalesce(x.code, '') "
            "FROM engine_assign a JOIN collections_field_case c ON c.id = a.case_id "
            "LEFT JOIN portfolio_officer o ON o.id = a.new_officer "
            "LEFT JOIN portfolio_officer old ON old.id = a.old_officer "
            "LEFT JOIN portfolio_externalagency x "
            "ON x.id = coalesce(o.external_agency_id, a.beside) "
            "WHERE a.new_officer IS NOT NULL AND (a.new_officer IS DISTINCT FROM a.old_officer "
            "OR coalesce(o.external_agency_id, a.beside) IS DISTINCT FROM a.old_external)",
            [day, sql.ts(sql.start_of(day))],
        )
        reassigned = cursor.rowcount
        cursor.execute(
            "UPDATE collections_field_case AS c SET officer_id = a.new_officer, "
            "external_agency_id = coalesce(o.external_agency_id, a.beside), "
            "assigned_tramo = a.tramo "
            "FROM engine_assign a JOIN portfolio_officer o ON o.id = a.new_officer "
            "WHERE c.id = a.case_id AND (c.officer_id IS DISTINCT FROM a.new_officer "
            "OR c.assigned_tramo IS DISTINCT FROM a.tramo "
            "OR c.external_agency_id IS DISTINCT FROM coalesce(o.external_agency_id, a.beside))"
        )
        # A month's spread moves every case: fresh statistics for the next steps and nights.
        sql.analyze_if_grown(cursor, "collections_field_case", cursor.rowcount)
        cursor.execute("SELECT count(*) FROM engine_assign WHERE new_officer IS NULL")
        unassigned = cursor.fetchone()[0]
        sql.drop_temp(
            cursor,
            "engine_cover",
            "engine_cover_beside",
            "engine_assign",
            "engine_cand",
            "engine_todo",
            "engine_pick",
            "engine_load",
        )
    return {"reassigned": reassigned, "unassigned": unassigned, "month_start": int(month_start)}


def _load_cover(cursor, scope: Scope) -> None:
    """(officer, subzone, tramo) for every active officer: the coverage table; and
    (subzone, tramo, agency) where an outsourced agency works beside the asesores."""
    officers = Officer.objects.filter(active=True)
    if scope.agency_ids is not None:
        officers = officers.filter(agency_id__in=scope.agency_ids)
    simultaneous = _simultaneous_rule()
    rows, beside = [], set()
    for officer_id, agency_id, tramos, subzone_ids, external_id in _officer_rows(officers):
        for subzone_id in subzone_ids:
            for tramo in tramos or []:
                if external_id is not None and simultaneous(external_id, subzone_id, int(tramo)):
                    beside.add((subzone_id, int(tramo), external_id))
                else:
                    rows.append((officer_id, subzone_id, int(tramo), agency_id))
    sql.create_temp(
        cursor,
        "engine_cover",
        "SELECT CAST(NULL AS bigint) AS officer_id, CAST(NULL AS bigint) AS subzone_id, "
        "CAST(NULL AS integer) AS tramo, CAST(NULL AS bigint) AS agency_id WHERE 1 = 0",
    )
    _insert_rows(cursor, "engine_cover", ("bigint", "bigint", "integer", "bigint"), rows)
    sql.create_temp(
        cursor,
        "engine_cover_beside",
        "SELECT CAST(NULL AS bigint) AS subzone_id, CAST(NULL AS integer) AS tramo, "
        "CAST(NULL AS bigint) AS external_agency_id WHERE 1 = 0",
    )
    _insert_rows(cursor, "engine_cover_beside", ("bigint", "integer", "bigint"), sorted(beside))
    if sql.is_postgres():
        cursor.execute("ANALYZE engine_cover")  # created empty: the joins need its size


def _insert_rows(cursor, table: str, types: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows from Python into a temporary table. PostgreSQL: one statement of arrays
    (psycopg2's executemany sends a statement a row: 0.5 s for the coverage of
    200 officers); SQLite runs executemany in process."""
    if not rows:
        return
    if sql.is_postgres():
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        cursor.execute(
            f"INSERT INTO {table} SELECT * FROM unnest({arrays})",
            [list(c) for c in zip(*rows, strict=True)],
        )
    else:
        marks = ", ".join("%s" for _ in types)
        cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _simultaneous_rule():
    """(external agency, subzone, tramo) -> works simultaneously? The most specific
    `ExternalAssignment` decides: subzone and tramo, then subzone, then tramo, then
    the agency's general rule; no rule is alternate (the default)."""
    from collections_field.models import ExternalAssignment

    modes = {
        (agency_id, subzone_id, tramo): mode
        for agency_id, subzone_id, tramo, mode in ExternalAssignment.objects.order_by(
            "-id"
        ).values_list("external_agency_id", "subzone_id", "tramo", "mode")
    }

    def simultaneous(agency_id: int, subzone_id: int, tramo: int) -> bool:
        for key in ((agency_id, subzone_id, tramo), (agency_id, subzone_id, None),
                    (agency_id, None, tramo), (agency_id, None, None)):  # fmt: skip
            if key in modes:
                return modes[key] == ExternalAssignment.Mode.SIMULTANEOUS
        return False

    return simultaneous


def _officer_rows(officers):
    subzones: dict[int, list[int]] = {}
    through = Officer.subzones.through.objects.filter(officer__in=officers)
    for officer_id, subzone_id in through.values_list("officer_id", "subzone_id"):
        subzones.setdefault(officer_id, []).append(subzone_id)
    for officer_id, agency_id, tramos, external_id in officers.values_list(
        "id", "agency_id", "tramos", "external_agency_id"
    ):
        yield officer_id, agency_id, tramos, subzones.get(officer_id, []), external_id


def _round_robin(cursor, month_start: bool, group: str) -> None:
    """Deal the still unassigned cases of each (group, tramo) over its coverers."""
    load, loads = (
        ("0", "")
        if month_start
        else ("coalesce(ld.load, 0)", "LEFT JOIN engine_load ld ON ld.officer_id = g.officer_id ")
    )
    sql.create_temp(
        cursor,
        "engine_cand",
        f"SELECT g.{group} AS grp, g.tramo, g.officer_id, "
        f"row_number() OVER (PARTITION BY g.{group}, g.tramo ORDER BY {load}, o.code) AS rn, "
        f"count(*) OVER (PARTITION BY g.{group}, g.tramo) AS n "
        f"FROM (SELECT DISTINCT cv.{group}, cv.tramo, cv.officer_id FROM engine_cover cv) g "
        f"JOIN portfolio_officer o ON o.id = g.officer_id {loads}",
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
