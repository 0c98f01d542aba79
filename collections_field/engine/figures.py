"""Step 7 of the night, the dashboards' part: the figures of a business date D per
officer, agency, zone and the company (`DailyFigures`), beside the semáforo counts
of `lights.py`. The pages read these rows; none counts the portfolio.

Each figure, for D and M (the first day of D's month):

- `cases_open`, `overdue_amount`: open cases (active or in phone collection) and
  their overdue amount in PEN, as the engine last saw it.
- `promises_today`: open cases whose current promise falls on D.
- `promises_due`: payment promises (a result with a promise; one per client and
  promise date) whose date fell in [M, D-1], i.e. those the month's cycles judged;
  `promises_kept`: those for which the client paid (any payment of core banking
  on its credits) from the moment the promise was made to the end of its date.
  Promise-kept rate = kept / due. Attributed to the officer who took the promise.
- `collected`, `payments`: payments taken in by D's cycle (`applied_on` = D), in
  PEN at the strategy's `usd_rate`: what came in since the previous cycle.
- `cure_base`: cases open at some moment of the month (open now, or closed on or
  after M); `cured`: cases with a cure (event 70) applied in [M, D].
  Cure rate = cured / cure_base.
- `tramo1_base`: cases that were in tramo 1 at some moment of the month (in
  tramo 1 now and open or closed since M, or moved out of tramo 1 in [M, D]);
  `tramo1_rolled`: those moved from tramo 1 to tramo 2 or beyond in [M, D].
  Contention = 1 - rolled / base.
- `balance_total`, `balance_delinquent`: principal balance (PEN) of every credit
  in D's snapshot, and of those more than `DELINQUENT_AFTER_DAYS` days past due
  (SBS: a micro or small business credit is "vencido" after 30 days).
  Delinquency ratio = delinquent / total. Agencies, zones and the company only.
- `visits_verified`, `visits_off`: visits that happened on D, within the
  configured radius of the address (GPS-verified) or not (off radius, or no GPS);
  each result registered after the cycle adds itself (`figures_result_recorded`).

Officer rows follow the case's officer (promises and visits: the result's officer);
agency rows the client's agency. Set-based: a fixed number of statements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import F

from collections_field.engine import sql
from collections_field.models import DailyFigures, FieldResult, LightSummary
from strategy.models import StrategyVersion

DELINQUENT_AFTER_DAYS = 30
COUNTS = (
    "cases_open", "promises_today", "promises_due", "promises_kept", "payments",
    "cure_base", "cured", "tramo1_base", "tramo1_rolled", "visits_verified", "visits_off",
)  # fmt: skip
AMOUNTS = ("overdue_amount", "collected", "balance_total", "balance_delinquent")
FIGURES = COUNTS + AMOUNTS


Params = Callable[[date, date, StrategyVersion], list]


def _no_params(day: date, month: date, version: StrategyVersion) -> list:
    return []


@dataclass(frozen=True)
class Source:
    """Rows some figures count: `sql` is FROM … WHERE … ending so that a condition can
    follow (aliases `cl` for the client and whatever `officer` and a figure's `case`
    name). The night reads each source once for all its figures."""

    officer: str
    sql: str
    params: Params = _no_params


@dataclass(frozen=True)
class Metric:
    """One figure: the rows of `source` meeting `where`, counted (`value` 1) or summed.
    The drill-down pages list the `case` ids of the same rows, so a figure and its
    cases agree."""

    source: Source
    where: str = "1 = 1"
    value: str = "1"
    case: str = "c.id"
    params: Params = _no_params  # those of `where`
    drills: bool = True

    @property
    def officer(self) -> str:
        return self.source.officer

    @property
    def body(self) -> str:
        return f"{self.source.sql} ({self.where})"

    def body_params(self, day: date, month: date, version: StrategyVersion) -> list:
        return self.source.params(day, month, version) + self.params(day, month, version)


def _metrics(rate: str) -> dict[str, Metric]:
    in_month = "(c.status <> 'closed' OR c.closed_on >= %s)"
    # The cases that moved out of tramo 1 this month, with the furthest tramo they
    # reached (the tramo of the codes left and reached): one grouped set joined to the
    # cases, read once for both tramo figures (as an EXISTS per case it cost 5-10 s a
    # night at 1M credits; as one IN set per figure, the same join twice).
    moves = (
        "SELECT h.case_id, max(st.tramo) AS reached FROM collections_field_casehistory h "
        "JOIN collections_field_case hc ON hc.id = h.case_id "
        "JOIN strategy_suggestedaction sf ON sf.version_id = %s "
        "AND sf.type = hc.management_type AND sf.code = h.from_code "
        "JOIN strategy_suggestedaction st ON st.version_id = %s "
        "AND st.type = hc.management_type AND st.code = h.to_code "
        "WHERE h.business_date >= %s AND h.business_date <= %s AND sf.tramo = 1 "
        "GROUP BY h.case_id"
    )
    kept = (
        "EXISTS (SELECT 1 FROM portfolio_payment pay JOIN portfolio_credit pk "
        "ON pk.id = pay.credit_id WHERE pk.client_id = p.client_id AND pay.paid_at >= p.made_at "
        f"AND pay.paid_at < {sql.lima_midnight_after('p.promise_date')})"
    )
    usd = f"CASE WHEN k.currency = 'USD' THEN {rate} ELSE 1 END"
    # A position's currency from the few dollar credits (joining every credit to a
    # million positions cost 0.3 s a night).
    usd_position = f"CASE WHEN pu.id IS NOT NULL THEN {rate} ELSE 1 END"

    def day_only(day, month, version):
        return [day]

    def month_to_day(day, month, version):
        return [month, day]

    def day_range(day, month, version):
        return [sql.ts(sql.start_of(day)), sql.ts(sql.end_of(day))]

    cases = Source(
        "c.officer_id",
        "FROM collections_field_case c JOIN portfolio_client cl ON cl.id = c.client_id "
        f"LEFT JOIN ({moves}) t1 ON t1.case_id = c.id WHERE ",
        lambda day, month, version: [version.pk, version.pk, month, day],
    )
    promises = Source(
        "p.officer_id",
        "FROM (SELECT r.client_id, r.promise_date, min(r.occurred_at) AS made_at, "
        "max(r.officer_id) AS officer_id FROM collections_field_fieldresult r "
        "WHERE r.promise_date >= %s AND r.promise_date < %s "
        "GROUP BY r.client_id, r.promise_date) p JOIN portfolio_client cl ON cl.id = p.client_id "
        "LEFT JOIN collections_field_case c ON c.client_id = p.client_id WHERE ",
        month_to_day,
    )
    payments = Source(
        "c.officer_id",
        "FROM portfolio_payment pay JOIN portfolio_credit k ON k.id = pay.credit_id "
        "JOIN portfolio_client cl ON cl.id = k.client_id "
        "LEFT JOIN collections_field_case c ON c.client_id = k.client_id "
        "WHERE pay.applied_on = %s AND ",
        day_only,
    )
    positions = Source(
        "NULL",
        "FROM portfolio_creditposition p JOIN portfolio_client cl ON cl.id = p.client_id "
        # (a position of D is of a credit in D's snapshot: one that has not left)
        "LEFT JOIN (SELECT u.id FROM portfolio_credit u "
        "WHERE u.currency = 'USD' AND u.left_on IS NULL) pu "
        "ON pu.id = p.credit_id "
        "LEFT JOIN collections_field_case c ON c.client_id = p.client_id "
        "WHERE p.business_date = %s AND ",
        day_only,
    )
    visits = Source(
        "r.officer_id",
        "FROM collections_field_fieldresult r JOIN portfolio_client cl ON cl.id = r.client_id "
        "LEFT JOIN collections_field_case c ON c.client_id = r.client_id "
        "WHERE r.channel = 'visit' AND r.occurred_at >= %s AND r.occurred_at < %s AND ",
        day_range,
    )
    return {
        "cases_open": Metric(cases, "c.status <> 'closed'"),
        "overdue_amount": Metric(cases, "c.status <> 'closed'", value="c.overdue_amount"),
        "promises_today": Metric(
            cases, "c.status <> 'closed' AND c.promise_date = %s", params=day_only
        ),
        "promises_due": Metric(promises),
        "promises_kept": Metric(promises, kept),
        # Not a stored figure: the drill-down of due minus kept.
        "promises_broken": Metric(promises, f"NOT {kept}"),
        "collected": Metric(payments, value=f"pay.amount * {usd}"),
        "payments": Metric(payments),
        "cure_base": Metric(cases, in_month, params=lambda day, month, version: [month]),
        # IN, not a correlated EXISTS: the planner hashes the month's cures once.
        "cured": Metric(
            cases,
            "c.id IN (SELECT h.case_id FROM collections_field_casehistory h "
            "WHERE h.cause_kind = 'event' AND h.cause = '70' "
            "AND h.business_date >= %s AND h.business_date <= %s)",
            params=month_to_day,
        ),
        "tramo1_base": Metric(
            cases, f"(c.tramo = 1 AND {in_month}) OR t1.case_id IS NOT NULL",
            params=lambda day, month, version: [month],
        ),
        "tramo1_rolled": Metric(cases, "t1.reached >= 2"),
        "balance_total": Metric(
            positions, value=f"p.principal_balance * {usd_position}", drills=False
        ),
        "balance_delinquent": Metric(
            positions, "p.days_past_due > %s", value=f"p.principal_balance * {usd_position}",
            params=lambda day, month, version: [DELINQUENT_AFTER_DAYS],
        ),
        "visits_verified": Metric(visits, f"r.verified = {sql.true()}"),
        "visits_off": Metric(visits, f"r.verified = {sql.false()}"),
    }  # fmt: skip


# The figures of the snapshot alone: their own step (`compute_balances`), which needs
# nothing the night's earlier steps write, so it runs beside the assignment (a core
# the assignment leaves idle) rather than in the figures' read of every position.
BALANCES = ("balance_total", "balance_delinquent")


def _null(name: str) -> str:
    """A figure a union's branch does not give, typed (PostgreSQL matches a union's
    columns branch by branch)."""
    return f"CAST(NULL AS {'numeric' if name in AMOUNTS else 'bigint'})"


def _sums(metrics: dict[str, Metric], names, day: date, month: date, version) -> tuple[str, list]:
    """A conditional sum per figure of `names`, in `FIGURES` order, and its parameters."""
    columns, params = [], []
    for name in FIGURES:
        if name in names:
            m = metrics[name]
            columns.append(f"sum(CASE WHEN {m.where} THEN {m.value} END)")
            params += m.params(day, month, version)
        else:
            columns.append(_null(name))
    return ", ".join(columns), params


def compute_balances(*, business_date: date, version: StrategyVersion) -> dict[str, int]:
    """Rebuild D's `AgencyBalance` rows from D's positions (one read of them)."""
    day, month = business_date, business_date.replace(day=1)
    metrics = _metrics(str(version.usd_rate))
    source = metrics[BALANCES[0]].source
    columns = ", ".join(
        f"coalesce(sum(CASE WHEN {metrics[name].where} THEN {metrics[name].value} END), 0)"
        for name in BALANCES
    )
    params = [p for name in BALANCES for p in metrics[name].params(day, month, version)]
    table = "collections_field_agencybalance"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE business_date = %s", [day])
        cursor.execute(
            f"INSERT INTO {table} (business_date, agency_id, {', '.join(BALANCES)}) "
            f"SELECT %s, cl.agency_id, {columns} {source.sql} 1 = 1 GROUP BY cl.agency_id",
            [day, *params, *source.params(day, month, version)],
        )
        return {"balance_rows": cursor.rowcount}


def compute_figures(*, business_date: date, version: StrategyVersion) -> dict[str, int]:
    """Rebuild D's `DailyFigures` rows (whole, like the lights: zones span agencies).

    One read per source (the cases, the month's promises, the day's payments and
    visits), each figure a conditional sum over it: a read per figure cost 4.3 s a
    night at 1M credits. The balances come from the `balances` step's rows."""
    day, month = business_date, business_date.replace(day=1)
    metrics = _metrics(str(version.usd_rate))  # a numeric literal: money stays exact
    sources: dict[Source, list[str]] = {}
    for name in FIGURES:
        if name not in BALANCES:
            sources.setdefault(metrics[name].source, []).append(name)
    branches, params = [], []
    for source, names in sources.items():
        columns, column_params = _sums(metrics, names, day, month, version)
        branches.append(
            f"SELECT {source.officer}, cl.agency_id, {columns} {source.sql} 1 = 1 "
            f"GROUP BY {source.officer}, cl.agency_id".replace("GROUP BY NULL, ", "GROUP BY ")
        )
        params += column_params + source.params(day, month, version)
    balances = ", ".join(f"b.{name}" if name in BALANCES else _null(name) for name in FIGURES)
    branches.append(
        f"SELECT NULL, b.agency_id, {balances} FROM collections_field_agencybalance b "
        "WHERE b.business_date = %s"
    )
    params.append(day)
    table = "collections_field_dailyfigures"
    columns = ", ".join(FIGURES)
    sums = ", ".join(f"coalesce(sum(f.{name}), 0)" for name in FIGURES)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The month's history and the strategy's codes are joined below (tramo 1
            # moves): planned on stale statistics (autovacuum comes late, or never on a
            # server that turned it off) the join took 10 s instead of 1 s at 1M credits.
            # Every night, so the step's statements stay the same (on a sample: 0.05 s).
            sql.analyze(cursor, "collections_field_casehistory")
            sql.analyze(cursor, "strategy_suggestedaction")
        cursor.execute(f"DELETE FROM {table} WHERE business_date = %s", [day])
        sql.create_temp(
            cursor,
            "engine_figures",
            f"WITH u (officer_id, agency_id, {columns}) AS ({' UNION ALL '.join(branches)}) "
            "SELECT u.*, ag.zone_id FROM u LEFT JOIN portfolio_agency ag ON ag.id = u.agency_id",
            params,
        )
        insert = f"INSERT INTO {table} (business_date, level, key, {columns}) "
        for level, column in (("officer", "officer_id"), ("agency", "agency_id"),
                              ("zone", "zone_id")):  # fmt: skip
            cursor.execute(
                insert + f"SELECT %s, '{level}', f.{column}, {sums} FROM engine_figures f "
                f"WHERE f.{column} IS NOT NULL GROUP BY f.{column}",
                [day],
            )
        cursor.execute(insert + f"SELECT %s, 'company', 0, {sums} FROM engine_figures f", [day])
        cursor.execute(f"SELECT count(*) FROM {table} WHERE business_date = %s", [day])
        rows = cursor.fetchone()[0]
        sql.drop_temp(cursor, "engine_figures")
    return {"figure_rows": rows}


def figure_case_ids(
    *, name: str, business_date: date, version: StrategyVersion, unit_sql: str, unit_params: list
) -> tuple[str, list]:
    """SQL (and its parameters) for the ids of the cases behind a figure of a unit:
    the same body the night counted. `unit_sql` is a condition on `cl` and `officer`."""
    metric = _metrics(str(version.usd_rate))[name]
    day, month = business_date, business_date.replace(day=1)
    condition = unit_sql.replace("{officer}", metric.officer)
    return (
        f"SELECT {metric.case} {metric.body} AND {metric.case} IS NOT NULL AND {condition}",
        metric.body_params(day, month, version) + unit_params,
    )


def figures_result_recorded(*, result: FieldResult) -> None:
    """A visit registered after its date's cycle counts at once on that date's rows."""
    from portfolio.models import Agency

    if result.channel != FieldResult.ChannelKind.VISIT:
        return
    day = result.occurred_at.astimezone(sql.LIMA).date()
    if not DailyFigures.objects.filter(business_date=day).exists():
        return  # the cycle of that date has not run: it will count the visit itself
    keys = [(LightSummary.Level.COMPANY, 0)]
    if result.officer_id is not None:
        keys.append((LightSummary.Level.OFFICER, result.officer_id))
    agency_id = result.client.agency_id
    if agency_id is not None:
        keys.append((LightSummary.Level.AGENCY, agency_id))
        zone_id = Agency.objects.filter(pk=agency_id).values_list("zone_id", flat=True).first()
        if zone_id is not None:
            keys.append((LightSummary.Level.ZONE, zone_id))
    field = "visits_verified" if result.verified else "visits_off"
    for level, key in keys:
        rows = DailyFigures.objects.filter(business_date=day, level=level, key=key)
        if not rows.update(**{field: F(field) + 1}):
            DailyFigures.objects.create(business_date=day, level=level, key=key, **{field: 1})
