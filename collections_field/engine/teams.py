"""The night's teams step, for outsourced agencies (DOMAIN.md 6): the internal team's
and each external agency's figures of a business date D, per agency of the client,
side by side (`TeamFigures`), for the dashboards.

A case's teams: the internal team when its officer is an asesor (or it has none);
its external agency when it has one: alternate (the agency's officer holds it) or
simultaneous (the agency works it beside the asesor: it counts for both teams, and
in both teams' `cases_shared`). For D:

- `cases_open`, `cases_shared`, `overdue_amount`: open cases as the engine last saw them;
- `collected`, `payments`: payments taken in by D's cycle (`applied_on` = D) on the
  team's cases, in PEN at the strategy's `usd_rate` (as `DailyFigures.collected`);
- `cured`: the team's cases cured (event 70) in D's cycle;
- `results`, `visits_verified`, `promises`: visit and call results taken in by D's
  cycle, by the team of the officer who registered them (the work each team did).

A fixed number of statements, whatever the portfolio.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from collections_field.engine import sql
from strategy.models import StrategyVersion

FIGURES = ("cases_open", "cases_shared", "overdue_amount", "collected", "payments", "cured",
           "results", "visits_verified", "promises")  # fmt: skip


def compute_team_figures(*, business_date: date, version: StrategyVersion) -> dict[str, int]:
    day = business_date
    rate = str(version.usd_rate)
    table = "collections_field_teamfigures"

    def branch(values: dict[str, str], body: str) -> str:
        columns = ", ".join(f"{values.get(name, '0')} AS {name}" for name in FIGURES)
        return f"SELECT t.agency_id, t.team, {columns} {body}"

    closed = "t.status <> 'closed'"
    branches = [
        branch(
            {"cases_open": "1", "cases_shared": "t.shared", "overdue_amount": "t.overdue"},
            f"FROM team_case t WHERE {closed}",
        ),
        branch(
            {
                "collected": f"pay.amount * CASE WHEN k.currency = 'USD' THEN {rate} ELSE 1 END",
                "payments": "1",
            },
            "FROM portfolio_payment pay JOIN portfolio_credit k ON k.id = pay.credit_id "
            "JOIN team_case t ON t.client_id = k.client_id WHERE pay.applied_on = %s",
        ),
        branch(
            {"cured": "1"},
            "FROM collections_field_caseevent e JOIN team_case t ON t.case_id = e.case_id "
            f"WHERE e.business_date = %s AND e.kind = 'event' AND e.code = '70' "
            f"AND e.applied = {sql.true()}",
        ),
        branch(
            {
                "results": "1",
                "visits_verified": f"CASE WHEN t.channel = 'visit' AND t.verified = {sql.true()} "
                "THEN 1 ELSE 0 END",
                "promises": "CASE WHEN t.promise_date IS NOT NULL THEN 1 ELSE 0 END",
            },
            "FROM (SELECT cl.agency_id, coalesce(o.external_agency_id, 0) AS team, r.channel, "
            "r.verified, r.promise_date FROM collections_field_caseevent e "
            "JOIN collections_field_fieldresult r ON r.id = e.result_id "
            "JOIN portfolio_client cl ON cl.id = r.client_id "
            "LEFT JOIN portfolio_officer o ON o.id = r.officer_id "
            "WHERE e.business_date = %s AND e.kind = 'result' "
            "AND r.channel IN ('visit', 'call')) t",
        ),
    ]
    sums = ", ".join(f"sum(u.{name})" for name in FIGURES)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE business_date = %s", [day])
        sql.create_temp(
            cursor,
            "team_case",
            "SELECT c.id AS case_id, c.client_id, cl.agency_id, 0 AS team, "
            "CASE WHEN c.external_agency_id IS NOT NULL THEN 1 ELSE 0 END AS shared, "
            "c.status, c.overdue_amount AS overdue FROM collections_field_case c "
            "JOIN portfolio_client cl ON cl.id = c.client_id "
            "LEFT JOIN portfolio_officer o ON o.id = c.officer_id "
            "WHERE c.external_agency_id IS NULL OR o.external_agency_id IS NULL "
            "UNION ALL SELECT c.id, c.client_id, cl.agency_id, c.external_agency_id, "
            "CASE WHEN o.external_agency_id IS NULL THEN 1 ELSE 0 END, c.status, c.overdue_amount "
            "FROM collections_field_case c JOIN portfolio_client cl ON cl.id = c.client_id "
            "LEFT JOIN portfolio_officer o ON o.id = c.officer_id "
            "WHERE c.external_agency_id IS NOT NULL",
        )
        cursor.execute(
            f"INSERT INTO {table} (business_date, agency_key, team, {', '.join(FIGURES)}) "
            f"SELECT %s, u.agency_id, u.team, {sums} FROM ("
            + " UNION ALL ".join(branches)
            + ") u WHERE u.agency_id IS NOT NULL GROUP BY u.agency_id, u.team",
            [day, day, day, day],
        )
        rows = cursor.rowcount
        sql.drop_temp(cursor, "team_case")
    return {"team_rows": rows}
