"""A month's commissions in a fixed number of statements over the whole portfolio.

What each line is (thesis 5.2.2, DOMAIN.md 6; the README's "Money rules" says why):

- ``collection``: a core-banking payment on a case that was open and assigned when
  it was paid. The holder is the case's latest assignment before the payment (the
  case history's `assign` rows: nightly assignments, month-start spreads,
  reassignments). Its `base` is the amount in soles (dollars at the strategy's
  `usd_rate`), its value `base × collected_share`. The case was open when the
  latest of its opening and closing rows (`open`, events 70 and CA) before the
  payment is an opening: payments of a client who is not in collection are not
  collection work.
- ``cure``: a cure (event 70 in the case history) whose effective action is a
  result of that asesor: a GPS-verified visit or a call of an internal officer
  within `effective_days` before the cure (the latest such result names the
  asesor). One per client and month: the first effective cure. Value
  `per_cured_client`.
- ``refinancing``: the case history's event-80 moves, one per client and month,
  for the case's holder at the time; value `per_refinanced_client`. The line names
  the approved refinancing request when there is one (`request:<id>`), else the
  history row (`80:<id>`) (`refinancing_source`).
- ``target``: when the agency's collected amount (the sum of its asesores' payment
  lines) reaches the month's `OfficeTarget`, every statement of the agency (its
  asesores' and its jefe's) gets one line worth `(office_target_multiplier − 1)`
  × the sum of its other lines: so the amount is still the sum of the lines.

Statements: one per internal officer (an inactive one only if it has lines), one per
agency for its jefe (its asesores' lines: the same rows, each pointing at both
statements through `agency_statement`, plus its own target line), one per
external agency: `external_agency_share` × each payment on a case it was assigned
when paid (alternate: its officer held the case; simultaneous: it worked beside the
asesor, so the payment is a line of both). Every value is rounded to the cent once,
on its line; a statement's figures and amount are sums of its lines.

Months: a payment counts once a cycle took it in (`applied_on`), in the month it was
paid in (Lima). A closed month counted the payments taken in by the cycles finished
when it closed (up to its `closed_through` date); one of its payments taken in
later is late and counts in the month of the cycle that took it in. So a closed
month never changes and no payment counts twice, with no lookup of old lines.
Cures and refinancings belong to their business date's month (a month is closed
only after a later cycle ran, so none arrives late).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection

from collections_field.engine import sql
from commissions.scheme import CommissionScheme
from commissions.statements.sources import refinancing_source


@dataclass(frozen=True)
class MonthRange:
    month_id: int
    first: date  # the month's first day
    following: date  # the next month's first day


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def lima_date(column: str) -> str:
    """SQL for the Lima calendar date of a stored timestamp (Lima is UTC-5, no DST)."""
    if sql.is_postgres():
        return f"(({column}) AT TIME ZONE 'America/Lima')::date"
    return f"date({column}, '-5 hours')"


def minus_days(column: str, days: int) -> str:
    if sql.is_postgres():
        return f"(({column}) - interval '{int(days)} days')"
    return f"datetime({column}, '-{int(days)} days')"


LINE_COLUMNS = (
    "statement_id, agency_statement_id, month_id, kind, client_id, client_code, credit_code, "
    "reference, date, base, currency, original_amount, value, payment_id, case_history_id, "
    "result_id"
)
MONTH_STATEMENTS = "SELECT ms.id FROM commissions_commissionstatement ms WHERE ms.month_id = %s"


def compute_lines(
    *,
    period: MonthRange,
    scheme: CommissionScheme,
    usd_rate,
    closed: list[tuple[date, date, date]],
    through: date | None = None,
) -> dict[str, int]:
    """Replace the month's statements and lines (the month must be open). `closed`:
    each closed month's (first day, next month's first day, closed_through); `through`:
    count only payments taken in up to that business date (the closing computation)."""
    m, start, end = (
        period.month_id,
        sql.ts(sql.start_of(period.first)),
        sql.ts(sql.start_of(period.following)),
    )
    counts: dict[str, int] = {}
    line = f"INSERT INTO commissions_commissionline ({LINE_COLUMNS}) "
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM commissions_commissionline WHERE statement_id IN ({MONTH_STATEMENTS})",
            [m],
        )
        cursor.execute("DELETE FROM commissions_commissionstatement WHERE month_id = %s", [m])
        figures = (
            "clients_cured, amount_collected, clients_refinanced, office_target_reached, amount"
        )
        zeros = f"0, 0, 0, {sql.false()}, 0"
        insert = (
            "INSERT INTO commissions_commissionstatement (month_id, kind, officer_id, agency_id, "
            f"external_agency_id, {figures}) "
        )
        cursor.execute(
            insert + f"SELECT %s, 'officer', o.id, o.agency_id, NULL, {zeros} "
            "FROM portfolio_officer o WHERE o.external_agency_id IS NULL",
            [m],
        )
        cursor.execute(
            insert + f"SELECT %s, 'agency', NULL, a.id, NULL, {zeros} FROM portfolio_agency a", [m]
        )
        cursor.execute(
            insert + f"SELECT %s, 'external', NULL, NULL, x.id, {zeros} "
            "FROM portfolio_externalagency x",
            [m],
        )
        if sql.is_postgres():
            # Fresh statistics: the month's statements are new rows, and a planner that
            # expects one of them joins half a million lines to them in a nested loop.
            cursor.execute("ANALYZE commissions_commissionstatement")
        # The closed months (a payment of one of them taken in after it closed is late:
        # it counts in the month of the cycle that took it in).
        sql.create_temp(
            cursor,
            "comm_closed",
            "SELECT CAST(NULL AS date) AS first, CAST(NULL AS date) AS following, "
            "CAST(NULL AS date) AS through WHERE 1 = 0",
        )
        if closed:
            cursor.executemany("INSERT INTO comm_closed VALUES (%s, %s, %s)", closed)
        if sql.is_postgres():
            cursor.execute("ANALYZE comm_closed")

        # 1. The month's payments, each with its case's holder and state when paid.
        usd = f"CASE WHEN k.currency = 'USD' THEN {usd_rate} ELSE 1 END"
        latest = "ORDER BY h.at DESC, h.seq DESC, h.id DESC LIMIT 1"
        taken_in = " AND pay.applied_on <= %s" if through else ""
        # The holder and the state, once per payment (a table of their own: the
        # planner then knows how many rows the joins below take).
        sql.create_temp(
            cursor,
            "comm_paid",
            "SELECT pay.id AS payment_id, pay.reference, pay.amount, k.currency, "
            "k.code AS credit_code, k.client_id, cl.code AS client_code, "
            f"pay.amount * {usd} AS pen, "
            f"CASE WHEN pay.paid_at >= %s THEN {lima_date('pay.paid_at')} "
            "ELSE pay.applied_on END AS booked_on, "
            "(SELECT h.id FROM collections_field_casehistory h WHERE h.case_id = c.id "
            f"AND h.cause_kind = 'assign' AND h.at <= pay.paid_at {latest}) AS holder_id, "
            "(SELECT h.cause_kind FROM collections_field_casehistory h WHERE h.case_id = c.id "
            "AND (h.cause_kind = 'open' OR (h.cause_kind = 'event' AND h.cause IN ('70', 'CA'))) "
            f"AND h.at < pay.paid_at {latest}) AS state "
            "FROM portfolio_payment pay JOIN portfolio_credit k ON k.id = pay.credit_id "
            "JOIN portfolio_client cl ON cl.id = k.client_id "
            "JOIN collections_field_case c ON c.client_id = k.client_id "
            "WHERE pay.applied_on IS NOT NULL AND ("
            f"(pay.paid_at >= %s AND pay.paid_at < %s{taken_in}) "
            "OR (pay.applied_on >= %s AND pay.applied_on < %s AND pay.paid_at < %s "
            " AND EXISTS (SELECT 1 FROM comm_closed cc WHERE pay.applied_on > cc.through "
            f" AND pay.paid_at >= {sql.lima_start_of('cc.first')} "
            f" AND pay.paid_at < {sql.lima_start_of('cc.following')})))",
            [start, start, end, *([through] if through else []), period.first,
             period.following, start],
        )  # fmt: skip
        sql.create_temp(
            cursor,
            "comm_pay",
            "SELECT p.*, o.id AS officer_id, o.agency_id AS officer_agency, "
            "o.external_agency_id AS officer_external, "
            "CASE WHEN hh.external_agency_code IS NULL THEN o.external_agency_id "
            "ELSE (SELECT x.id FROM portfolio_externalagency x "
            "WHERE x.code = hh.external_agency_code) END AS external_id "
            "FROM comm_paid p JOIN collections_field_casehistory hh ON hh.id = p.holder_id "
            "LEFT JOIN portfolio_officer o ON o.code = hh.officer_code "
            "WHERE p.state = 'open'",
        )
        # An asesor's line is its agency's (the jefe's) line too: one row, two statements.
        of_officer = (
            "JOIN commissions_commissionstatement s ON s.month_id = %s AND s.kind = 'officer' "
            "AND s.officer_id = {alias}.officer_id "
            "JOIN commissions_commissionstatement a ON a.month_id = %s AND a.kind = 'agency' "
            "AND a.agency_id = {alias}.officer_agency "
        )
        collection = (
            "SELECT s.id, {agency}, %s, 'collection', p.client_id, p.client_code, "
            "p.credit_code, p.reference, p.booked_on, round(p.pen, 2), p.currency, p.amount, "
            "round(p.pen * {share}, 2), p.payment_id, p.holder_id, NULL FROM comm_pay p "
        )
        cursor.execute(
            line + collection.format(agency="a.id", share=scheme.collected_share)
            + of_officer.format(alias="p") + "WHERE p.officer_external IS NULL",
            [m, m, m],
        )  # fmt: skip
        counts["collection"] = cursor.rowcount
        cursor.execute(
            line + collection.format(agency="NULL", share=scheme.external_agency_share)
            + "JOIN commissions_commissionstatement s ON s.month_id = %s "
            "AND s.kind = 'external' AND s.external_agency_id = p.external_id "
            "WHERE p.external_id IS NOT NULL",
            [m, m],
        )  # fmt: skip
        counts["external"] = cursor.rowcount

        # 2. Cures with an effective action of an internal asesor; the first per client.
        sql.create_temp(
            cursor,
            "comm_cure",
            "SELECT x.*, o.id AS officer_id, o.agency_id AS officer_agency, row_number() OVER ("
            "PARTITION BY x.client_id ORDER BY x.at, x.history_id) AS n FROM ("
            "SELECT h.id AS history_id, h.at, h.business_date, c.client_id, "
            "cl.code AS client_code, "
            "(SELECT r.id FROM collections_field_fieldresult r "
            "JOIN portfolio_officer ro ON ro.id = r.officer_id "
            "WHERE r.client_id = c.client_id AND r.channel IN ('visit', 'call') "
            f"AND r.verified = {sql.true()} AND ro.external_agency_id IS NULL "
            "AND r.occurred_at <= h.at "
            f"AND r.occurred_at >= {minus_days('h.at', scheme.effective_days)} "
            "ORDER BY r.occurred_at DESC, r.id DESC LIMIT 1) AS result_id "
            "FROM collections_field_casehistory h "
            "JOIN collections_field_case c ON c.id = h.case_id "
            "JOIN portfolio_client cl ON cl.id = c.client_id "
            "WHERE h.cause_kind = 'event' AND h.cause = '70' "
            "AND h.business_date >= %s AND h.business_date < %s) x "
            "JOIN collections_field_fieldresult r ON r.id = x.result_id "
            "JOIN portfolio_officer o ON o.id = r.officer_id",
            [period.first, period.following],
        )
        cursor.execute(
            line + "SELECT s.id, a.id, %s, 'cure', x.client_id, x.client_code, '', "
            "'70:' || CAST(x.history_id AS varchar(20)), x.business_date, NULL, '', NULL, "
            f"{scheme.per_cured_client}, NULL, x.history_id, x.result_id FROM comm_cure x "
            + of_officer.format(alias="x") + "WHERE x.n = 1",
            [m, m, m],
        )  # fmt: skip
        counts["cure"] = cursor.rowcount

        # 3. Refinanced clients, for the case's holder at the time; the first per client.
        source_sql, source_params = refinancing_source(period.first, period.following)
        sql.create_temp(
            cursor,
            "comm_refi",
            "SELECT x.*, o.id AS officer_id, o.agency_id AS officer_agency, row_number() OVER ("
            "PARTITION BY x.client_id ORDER BY x.at, x.history_id) AS n FROM ("
            "SELECT y.*, (SELECT h.officer_code FROM collections_field_casehistory h "
            f"WHERE h.case_id = y.case_id AND h.cause_kind = 'assign' AND h.at <= y.at {latest}) "
            f"AS holder FROM ({source_sql}) y) x "
            "JOIN portfolio_officer o ON o.code = x.holder WHERE o.external_agency_id IS NULL",
            source_params,
        )
        cursor.execute(
            line + "SELECT s.id, a.id, %s, 'refinancing', x.client_id, x.client_code, "
            "x.credit_code, x.reference, x.business_date, NULL, '', NULL, "
            f"{scheme.per_refinanced_client}, NULL, x.history_id, NULL FROM comm_refi x "
            + of_officer.format(alias="x") + "WHERE x.n = 1",
            [m, m, m],
        )  # fmt: skip
        counts["refinancing"] = cursor.rowcount

        # 4. Figures from the lines; then the office target and its bonus line.
        _sum_lines(cursor, m)
        cursor.execute(
            "UPDATE commissions_commissionstatement AS s SET target_amount = t.amount, "
            "office_target_reached = CASE WHEN a.amount_collected >= t.amount "
            f"THEN {sql.true()} ELSE {sql.false()} END "
            "FROM commissions_officetarget t, commissions_commissionstatement a "
            "WHERE s.month_id = %s AND s.kind IN ('officer', 'agency') AND t.month = %s "
            "AND t.agency_id = s.agency_id AND a.month_id = s.month_id AND a.kind = 'agency' "
            "AND a.agency_id = s.agency_id",
            [m, period.first],
        )
        bonus = scheme.office_target_multiplier - 1
        last_day = period.following.toordinal() - 1
        counts["target"] = 0
        if bonus > 0:
            cursor.execute(
                line + "SELECT s.id, NULL, %s, 'target', NULL, '', '', "
                f"'target:' || ag.code || ':{period.first:%Y-%m}', %s, NULL, '', NULL, "
                f"round(s.amount * {bonus}, 2), NULL, NULL, NULL "
                "FROM commissions_commissionstatement s "
                "JOIN portfolio_agency ag ON ag.id = s.agency_id "
                f"WHERE s.month_id = %s AND s.office_target_reached = {sql.true()} "
                "AND s.amount > 0",
                [m, date.fromordinal(last_day), m],
            )
            counts["target"] = cursor.rowcount
            # The same rounded value the bonus line just got from the same amount.
            cursor.execute(
                f"UPDATE commissions_commissionstatement SET amount = amount + "
                f"round(amount * {bonus}, 2) WHERE month_id = %s "
                f"AND office_target_reached = {sql.true()} AND amount > 0",
                [m],
            )
        # An officer no longer active keeps a statement only for what it earned.
        cursor.execute(
            "DELETE FROM commissions_commissionstatement WHERE month_id = %s "
            "AND kind = 'officer' AND officer_id IN (SELECT o.id FROM portfolio_officer o "
            f"WHERE o.active = {sql.false()}) AND NOT EXISTS (SELECT 1 "
            "FROM commissions_commissionline l "
            "WHERE l.statement_id = commissions_commissionstatement.id)",
            [m],
        )
        cursor.execute(
            "SELECT count(*) FROM commissions_commissionline "
            f"WHERE statement_id IN ({MONTH_STATEMENTS})",
            [m],
        )
        counts["lines"] = cursor.fetchone()[0]
        sql.drop_temp(cursor, "comm_closed", "comm_paid", "comm_pay", "comm_cure", "comm_refi")
    return counts


def _sum_lines(cursor, m: int) -> None:
    """Every figure of every statement of the month, from its lines (an asesor's line
    counts for its statement and for its agency's)."""
    lines = (
        "SELECT l.{key} AS sid, l.kind, l.base, l.value FROM commissions_commissionline l "
        f"WHERE l.{{key}} IN ({MONTH_STATEMENTS})"
    )
    cursor.execute(
        "UPDATE commissions_commissionstatement AS s SET "
        "clients_cured = t.cured, amount_collected = t.collected, "
        "clients_refinanced = t.refinanced, amount = t.amount FROM ("
        "SELECT u.sid, "
        "sum(CASE WHEN u.kind = 'cure' THEN 1 ELSE 0 END) AS cured, "
        "coalesce(sum(CASE WHEN u.kind = 'collection' THEN u.base END), 0) AS collected, "
        "sum(CASE WHEN u.kind = 'refinancing' THEN 1 ELSE 0 END) AS refinanced, "
        "sum(u.value) AS amount FROM ("
        + lines.format(key="statement_id")
        + " UNION ALL "
        + lines.format(key="agency_statement_id")
        + ") u GROUP BY u.sid) t WHERE s.id = t.sid",
        [m, m],
    )
