"""Step 2 of the night: open the new cases and derive the day's ordered items.

The items of a business date D (`CaseEvent`) are everything the transitions
step will apply, in the order it happened: registered results and payments
before the end of D not yet taken in, and what the system detects from the
snapshot of D against the previous one (DOMAIN.md 3 and 4):

    PG  a payment of at least one installment (payments, or fewer overdue
        installments in the snapshot; at most one per case and date)
    70  cure: nothing overdue any more (the case closes)
    CA  write-off: every credit left the snapshot while still overdue (closes it)
    80  rescheduling: a credit's number of installments changed (held back for a
        client whose 80 an item source raises or just raised, see `sources.py`)
    ..  items of other apps' sources (`SEMAFORO["EVENT_SOURCES"]`): an approved
        refinancing raises 80
    60  broken promise: a promise dated before D that no payment covered
        (a candidate; the transitions step checks it against the case then)
    TR  tramo exit by days (a candidate, checked against the tramo then): the days
        past due were within the tramo's end at the previous position, as that end
        stood in the previous cycle's strategy version, and are beyond its end in
        this cycle's version now

Event 90 (maximum visits) is raised by the transitions step itself, right after
the visit that went beyond the tramo's maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection

from collections_field.engine import sql
from collections_field.engine.sources import event_sources
from strategy.models import StrategyVersion
from strategy.schema import RESCHEDULING_EVENT

# Order among items at the same instant: a payment is seen before the promise
# it covers is judged, and both before the tramo exit by days.
RANK = {"PG": 1, "70": 2, "CA": 2, "80": 3, "60": 4, "TR": 5, "result": 6}


@dataclass(frozen=True)
class Scope:
    """The clients a (chunk of a) step works on: all, those of some agencies, or a
    share of them by id, so that one step runs on several connections at once with no
    client in two chunks. `share = (part, parts)` with `cuts`, the `parts - 1` client
    ids at which shares 1.. begin: share `part` holds the ids from `cuts[part - 1]`
    (share 0: from the first) to before `cuts[part]` (the last: to the end), so every
    id, a client's created tonight too, falls in exactly one share. A range, not a
    remainder (`mod(id, parts) = part`): the planner estimates a range from its
    statistics and joins accordingly, where it took a remainder for 0.5% of the rows
    and looked rows up one by one (0.3-0.4 s a share of events and of transitions
    a night at 1M credits)."""

    agency_ids: tuple[int, ...] | None = None
    share: tuple[int, int] | None = None
    cuts: tuple[int, ...] = ()

    def __post_init__(self):
        if self.share is not None and len(self.cuts) != self.share[1] - 1:
            raise ValueError(f"a share of {self.share[1]} needs {self.share[1] - 1} cuts")

    @property
    def whole(self) -> bool:
        return self.agency_ids is None and self.share is None

    def client_ids(self, column: str) -> str:
        """A SQL condition on a column holding a client's id."""
        conditions = [] if self.share is None else [self._share(column)]
        if self.agency_ids is not None:
            conditions.append(
                f"{column} IN (SELECT sc.id FROM portfolio_client sc WHERE {self._agencies('sc')})"
            )
        return " AND ".join(conditions) or "1 = 1"

    def clients(self, alias: str) -> str:
        """A SQL condition on a `portfolio_client` alias."""
        conditions = [] if self.share is None else [self._share(f"{alias}.id")]
        if self.agency_ids is not None:
            conditions.append(self._agencies(alias))
        return " AND ".join(conditions) or "1 = 1"

    def cases(self, alias: str) -> str:
        """A SQL condition on a `collections_field_case` alias."""
        return self.client_ids(f"{alias}.client_id")

    def _share(self, column: str) -> str:
        part, parts = (int(n) for n in self.share or (0, 1))
        bounds = []
        if part > 0:
            bounds.append(f"{column} >= {int(self.cuts[part - 1])}")
        if part < parts - 1:
            bounds.append(f"{column} < {int(self.cuts[part])}")
        return " AND ".join(bounds) or "1 = 1"

    def _agencies(self, alias: str) -> str:
        ids = ", ".join(str(int(i)) for i in self.agency_ids or ()) or "NULL"
        return f"{alias}.agency_id IN ({ids})"


ALL_CLIENTS = Scope()

# The same tramo in the previous cycle's version (its `version_id` is a parameter).
PREVIOUS_TRAMO = (
    "LEFT JOIN strategy_tramo tp ON tp.version_id = %s AND tp.type = {tramo}.type "
    "AND tp.number = {tramo}.number"
)


def previous_end(tramo: str) -> str:
    """SQL for a tramo's end in the previous cycle's version (joined as `tp`):
    open-ended there counts as no end; a tramo new in this version has its own."""
    return f"(CASE WHEN tp.id IS NULL THEN {tramo}.to_day ELSE coalesce(tp.to_day, 2147483647) END)"


def derive_events(
    *,
    business_date: date,
    version: StrategyVersion,
    previous_snapshot: date | None,
    previous_version: StrategyVersion | None = None,
    scope: Scope = ALL_CLIENTS,
) -> dict[str, int]:
    """Open and re-open cases, refresh their figures, and write D's items.

    `previous_version` is the strategy the previous cycle ran with (default: `version`).
    """
    day = business_date
    start, end = sql.ts(sql.start_of(day)), sql.ts(sql.end_of(day))
    rate = float(version.usd_rate)
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        # One pass over the day's positions (and the previous day's, by credit):
        # each client's figures, installments paid since, and any rescheduling.
        # Dollar credits are few: a small set to convert, not a join with every credit.
        sql.create_temp(
            cursor,
            "engine_usd",
            "SELECT id FROM portfolio_credit WHERE currency = 'USD' AND left_on IS NULL",
        )
        today = sql.positions_table(cursor, day)
        before = sql.positions_table(cursor, previous_snapshot)
        if sql.is_postgres():
            cursor.execute("SET LOCAL enable_hashagg = off")
        # Only the clients the step looks at: those with an open case and those with
        # something overdue today (who may open one). The others' figures are never read.
        sql.create_temp(
            cursor,
            "engine_client",
            "SELECT p.client_id, "
            "sum(CASE WHEN u.id IS NOT NULL THEN p.principal_balance * %s "
            "ELSE p.principal_balance END) AS exposure, "
            "sum(CASE WHEN u.id IS NOT NULL THEN p.overdue_amount * %s "
            "ELSE p.overdue_amount END) AS overdue, "
            "max(p.days_past_due) AS max_dpd, sum(p.overdue_installments) AS overdue_inst, "
            f"CASE WHEN max(p.days_past_due) > 0 "
            f"THEN {sql.date_minus('%s', 'max(p.days_past_due)')} END AS overdue_since, "
            "coalesce(sum("
            f"{sql.greatest('pp.overdue_installments - p.overdue_installments', '0')}), 0) "
            "AS paid, "
            "max(CASE WHEN pp.total_installments <> p.total_installments THEN 1 ELSE 0 END) "
            "AS rescheduled "
            f"FROM {today} p LEFT JOIN engine_usd u ON u.id = p.credit_id "
            f"LEFT JOIN {before} pp ON pp.credit_id = p.credit_id "
            "AND pp.business_date = %s "
            "WHERE p.business_date = %s AND p.client_id IN ("
            "SELECT oc.client_id FROM collections_field_case oc WHERE oc.status <> 'closed' "
            f"AND {scope.cases('oc')} "
            f"UNION ALL SELECT od.client_id FROM {today} od "
            f"WHERE od.business_date = %s AND od.days_past_due > 0 "
            f"AND {scope.client_ids('od.client_id')}) AND {scope.client_ids('p.client_id')} "
            "GROUP BY p.client_id",
            [rate, rate, day, previous_snapshot, day, day],
        )
        if sql.is_postgres():
            cursor.execute("RESET enable_hashagg")
        cursor.execute("CREATE UNIQUE INDEX engine_client_id ON engine_client (client_id)")

        counts.update(_open_cases(cursor, day, version, scope))

        cursor.execute(
            "DELETE FROM collections_field_caseevent WHERE business_date = %s AND case_id IN "
            f"(SELECT c.id FROM collections_field_case c WHERE {scope.cases('c')})",
            [day],
        )
        # The day's items are gathered apart, in the order they are found, and written
        # once with their order within the case (no second write of every row).
        _create_items(cursor)
        insert = (
            "INSERT INTO engine_event (business_date, case_id, kind, code, at, "
            "rank, seq, result_id, officer_code, promise_date, applied, detail) "
        )
        open_case = f"c.status <> 'closed' AND {scope.cases('c')}"

        # TR candidates, before today's figures overwrite yesterday's: a case whose
        # days past due cross some tramo's end since the previous position (checked
        # against its tramo then). Yesterday's days are held against the end as it
        # stood in the previous cycle's version, today's against this version's: a
        # shortened tramo moves the cases already past its new end.
        counts["TR"] = 0
        if previous_snapshot is not None:
            before = sql.days_between("%s", "c.overdue_since")
            cursor.execute(
                insert.replace("detail)", "detail, previous_dpd)")
                + f"SELECT %s, c.id, 'event', 'TR', %s, {RANK['TR']}, 0, NULL, '', NULL, "
                f"false, '', {before} FROM collections_field_case c "
                "JOIN engine_client ec ON ec.client_id = c.client_id "
                f"WHERE {open_case} AND c.opened_on < %s AND c.overdue_since IS NOT NULL "
                f"AND ec.max_dpd > {before} AND EXISTS (SELECT 1 FROM strategy_tramo t "
                f"{PREVIOUS_TRAMO.format(tramo='t')} "
                "WHERE t.version_id = %s AND t.type = c.management_type "
                f"AND {before} <= {previous_end('t')} AND ec.max_dpd > t.to_day)",
                [day, start, previous_snapshot, day, previous_snapshot,
                 (previous_version or version).pk, version.pk, previous_snapshot],
            )  # fmt: skip
            counts["TR"] = cursor.rowcount

        # Figures of the day for every open case (only rows that changed are written):
        # the changed ones found in one read of the cases, then updated by id (a join
        # of the cases with themselves looked every open case up by its key: 0.3 s a
        # share a night at 1M credits, for the tenth that changed).
        cursor.execute(
            "UPDATE collections_field_case AS c SET exposure = x.exposure, "
            "overdue_amount = x.overdue, overdue_since = x.overdue_since, updated_for = %s "
            "FROM (SELECT c2.id, coalesce(ec.exposure, 0) AS exposure, "
            "coalesce(ec.overdue, 0) AS overdue, ec.overdue_since "
            "FROM collections_field_case c2 "
            "LEFT JOIN engine_client ec ON ec.client_id = c2.client_id "
            f"WHERE c2.status <> 'closed' AND {scope.cases('c2')} AND ("
            "c2.exposure IS DISTINCT FROM coalesce(ec.exposure, 0) "
            "OR c2.overdue_amount IS DISTINCT FROM coalesce(ec.overdue, 0) "
            "OR c2.overdue_since IS DISTINCT FROM ec.overdue_since)) x WHERE c.id = x.id",
            [day],
        )
        # Phone collection is over: back to the field at the same code (5.2.13).
        cursor.execute(
            "UPDATE collections_field_case AS c SET status = 'active', phone_until = NULL "
            f"WHERE c.status = 'phone' AND c.phone_until < %s AND {scope.cases('c')}",
            [day],
        )

        # Registered results, in the order they happened.
        cursor.execute(
            insert + f"SELECT %s, c.id, 'result', r.result_code, r.occurred_at, {RANK['result']}, "
            "0, r.id, coalesce(o.code, ''), r.promise_date, false, r.channel "
            "FROM collections_field_fieldresult r "
            "JOIN collections_field_case c ON c.client_id = r.client_id "
            "LEFT JOIN portfolio_officer o ON o.id = r.officer_id "
            # (The share on the result too: each share looks up only its own clients' cases.)
            f"WHERE r.applied_on IS NULL AND r.occurred_at < %s AND {open_case} "
            f"AND {scope.client_ids('r.client_id')}",
            [day, end],
        )
        counts["results"] = cursor.rowcount

        # PG: the first payment of at least one installment, from core banking's
        # payments or, when none explain it, from the snapshot's fewer overdue installments.
        pieces, params = [], []
        pieces.append(
            "SELECT c.id AS case_id, pay.paid_at AS at FROM portfolio_payment pay "
            "JOIN portfolio_credit k ON k.id = pay.credit_id "
            "JOIN collections_field_case c ON c.client_id = k.client_id "
            f"WHERE pay.applied_on IS NULL AND pay.paid_at < %s AND pay.installments >= 1 "
            f"AND {open_case}"
        )
        params.append(end)
        if previous_snapshot is not None:
            pieces.append(
                "SELECT c.id, %s FROM engine_client ep "
                "JOIN collections_field_case c ON c.client_id = ep.client_id "
                f"WHERE ep.paid > 0 AND {open_case} AND NOT EXISTS ("
                "SELECT 1 FROM portfolio_payment pay JOIN portfolio_credit k "
                "ON k.id = pay.credit_id WHERE k.client_id = ep.client_id "
                "AND pay.installments >= 1 AND pay.paid_at >= %s AND pay.paid_at < %s)"
            )
            params += [start, sql.ts(sql.start_of(previous_snapshot)), start]
            held, held_params = _announced(RESCHEDULING_EVENT, day, end, previous_snapshot)
            cursor.execute(
                insert + f"SELECT %s, c.id, 'event', '80', %s, {RANK['80']}, 0, NULL, '', "
                "NULL, false, 'rescheduled' FROM engine_client ep "
                "JOIN collections_field_case c ON c.client_id = ep.client_id "
                f"WHERE ep.rescheduled = 1 AND {open_case}{held}",
                [day, start, *held_params],
            )
            counts["80"] = cursor.rowcount
        # Items of other apps' sources, one INSERT … SELECT each (sources.py).
        for source in event_sources():
            select, source_params = source.items(business_date=day, end=end, scope=scope)
            cursor.execute(
                insert + f"SELECT %s, c.id, 'event', %s, s.at, {RANK[source.code]}, 0, NULL, '', "
                f"NULL, false, s.detail FROM ({select}) s "
                f"JOIN collections_field_case c ON c.client_id = s.client_id WHERE {open_case}",
                [day, source.code, *source_params],
            )
            key = f"{source.code} ({type(source).__name__})"
            counts[key] = counts.get(key, 0) + cursor.rowcount
        cursor.execute(
            insert + f"SELECT %s, pg.case_id, 'event', 'PG', min(pg.at), {RANK['PG']}, 0, NULL, "
            "'', NULL, false, '' FROM (" + " UNION ALL ".join(pieces) + ") pg GROUP BY pg.case_id",
            [day, *params],
        )
        counts["PG"] = cursor.rowcount

        # No credit left in the snapshot: paid off (70) unless the client was still
        # overdue at the previous position and paid nothing since: then written
        # off or transferred (CA, castigo). Both close the case.
        sql.create_temp(
            cursor,
            "engine_gone",
            "SELECT c.id AS case_id, c.client_id, 0 AS written_off "
            "FROM collections_field_case c LEFT JOIN engine_client ec "
            f"ON ec.client_id = c.client_id WHERE {open_case} AND ec.client_id IS NULL",
        )
        if previous_snapshot is not None:
            # The few gone clients' credits looked up one by one (not a read of the
            # whole previous snapshot: 0.3 s a night at 1M credits).
            cursor.execute(
                "UPDATE engine_gone SET written_off = 1 WHERE EXISTS ("
                "SELECT 1 FROM portfolio_credit gk JOIN portfolio_creditposition pp "
                "ON pp.credit_id = gk.id AND pp.business_date = %s "
                "WHERE gk.client_id = engine_gone.client_id AND pp.days_past_due > 0) "
                "AND client_id NOT IN (SELECT k.client_id FROM portfolio_payment pay "
                "JOIN portfolio_credit k ON k.id = pay.credit_id WHERE pay.installments >= 1 "
                "AND pay.paid_at >= %s AND pay.paid_at < %s)",
                [previous_snapshot, sql.ts(sql.start_of(previous_snapshot)), end],
            )
        cursor.execute(
            insert + f"SELECT %s, g.case_id, 'event', 'CA', %s, {RANK['CA']}, 0, NULL, '', "
            "NULL, false, 'left the portfolio overdue' FROM engine_gone g "
            "WHERE g.written_off = 1",
            [day, start],
        )
        counts["CA"] = cursor.rowcount
        # 70: nothing overdue in the snapshot (or no credit left and not written
        # off), or the day's payments covered every overdue installment.
        cursor.execute(
            insert + f"SELECT %s, c.id, 'event', '70', %s, {RANK['70']}, 0, NULL, '', NULL, "
            "false, 'snapshot' FROM collections_field_case c "
            "LEFT JOIN engine_client ec ON ec.client_id = c.client_id "
            "LEFT JOIN engine_gone g ON g.case_id = c.id "
            f"WHERE {open_case} AND coalesce(ec.max_dpd, 0) = 0 "
            "AND coalesce(g.written_off, 0) = 0",
            [day, start],
        )
        counts["70"] = cursor.rowcount
        cursor.execute(
            insert + f"SELECT %s, c.id, 'event', '70', max(pay.paid_at), {RANK['70']}, 0, NULL, "
            "'', NULL, false, 'payments' FROM portfolio_payment pay "
            "JOIN portfolio_credit k ON k.id = pay.credit_id "
            "JOIN collections_field_case c ON c.client_id = k.client_id "
            "JOIN engine_client ec ON ec.client_id = c.client_id "
            f"WHERE pay.applied_on IS NULL AND pay.paid_at >= %s AND pay.paid_at < %s "
            f"AND {open_case} AND ec.max_dpd > 0 "
            "GROUP BY c.id, ec.overdue_inst HAVING sum(pay.installments) >= ec.overdue_inst",
            [day, start, end],
        )
        counts["70"] += cursor.rowcount

        # 60 candidates: the case's open promise, and promises made in the window.
        cursor.execute(
            insert
            + f"SELECT %s, c.id, 'event', '60', {sql.lima_midnight_after('c.promise_date')}, "
            f"{RANK['60']}, 0, NULL, '', c.promise_date, false, '' "
            "FROM collections_field_case c "
            f"WHERE {open_case} AND c.promise_date IS NOT NULL AND c.promise_date < %s",
            [day, day],
        )
        cursor.execute(
            insert + f"SELECT %s, e.case_id, 'event', '60', "
            f"{sql.lima_midnight_after('e.promise_date')}, {RANK['60']}, 0, NULL, '', "
            "e.promise_date, false, '' FROM engine_event e "
            "WHERE e.business_date = %s AND e.kind = 'result' AND e.promise_date IS NOT NULL "
            "AND e.promise_date < %s",
            [day, day, day],
        )
        # The order of each case's items: by time, then rank, then arrival.
        cursor.execute(
            "INSERT INTO collections_field_caseevent (business_date, case_id, kind, code, at, "
            "rank, seq, result_id, officer_code, promise_date, applied, detail, previous_dpd) "
            "SELECT business_date, case_id, kind, code, at, rank, row_number() OVER ("
            "PARTITION BY case_id ORDER BY at, rank, n), result_id, officer_code, promise_date, "
            "applied, detail, previous_dpd FROM engine_event ORDER BY n"
        )
        counts["items"] = cursor.rowcount
        if sql.is_postgres() and scope.share is None:  # (shares: once all are in, cycle.py)
            sql.analyze(cursor, "collections_field_caseevent")

        # Taken in: later cycles will not see these again.
        # (every result has a client and every payment a credit: no filter for all clients)
        # (a chunk's few pending payments look their credits' clients up one by one)
        results_in_scope, credits, payments_in_scope = (
            ("", "", "")
            if scope.whole
            else (
                f"AND {scope.client_ids('r.client_id')}",
                "FROM portfolio_credit k ",
                f"AND k.id = pay.credit_id AND {scope.client_ids('k.client_id')}",
            )
        )
        cursor.execute(
            "UPDATE collections_field_fieldresult AS r SET applied_on = %s "
            f"WHERE r.applied_on IS NULL AND r.occurred_at < %s {results_in_scope}",
            [day, end],
        )
        cursor.execute(
            f"UPDATE portfolio_payment AS pay SET applied_on = %s {credits}"
            f"WHERE pay.applied_on IS NULL AND pay.paid_at < %s {payments_in_scope}",
            [day, end],
        )
        for source in event_sources():
            source.take_in(cursor, business_date=day, end=end, scope=scope)
        sql.drop_temp(
            cursor,
            "engine_client",
            "engine_usd",
            "engine_gone",
            "engine_open",
            "engine_event",
            "engine_lookup",
        )
    return counts


def _announced(code: str, day: date, end, previous_snapshot: date | None) -> tuple[str, list]:
    """A condition leaving out the clients whose `code` a source raises (sources.py)."""
    pieces, params = [], []
    for source in event_sources():
        if source.code != code:
            continue
        held = source.announced(business_date=day, end=end, previous_snapshot=previous_snapshot)
        if held is not None:
            pieces.append(held[0])
            params += held[1]
    if not pieces:
        return "", []
    return " AND c.client_id NOT IN (" + " UNION ".join(pieces) + ")", params


def _create_items(cursor) -> None:
    """The day's items before they are ordered; `n` numbers them as they arrive."""
    columns = (
        "business_date date, case_id bigint, kind varchar(10), code varchar(10), "
        "at {at}, rank smallint, seq integer, result_id bigint, officer_code varchar(20), "
        "promise_date date, applied boolean, detail varchar(200), previous_dpd integer"
    )
    if sql.is_postgres():
        cursor.execute("DROP TABLE IF EXISTS engine_event")
        cursor.execute(
            "CREATE TEMP TABLE engine_event (n bigint GENERATED ALWAYS AS IDENTITY, "
            f"{columns.format(at='timestamp with time zone')}) ON COMMIT DROP"
        )
    else:
        cursor.execute("DROP TABLE IF EXISTS temp.engine_event")
        cursor.execute(
            f"CREATE TEMP TABLE engine_event (n integer PRIMARY KEY, {columns.format(at='text')})"
        )


def _open_cases(cursor, day: date, version: StrategyVersion, scope: Scope) -> dict[str, int]:
    """New delinquent clients open a case at their classification and tramo, visit 1;
    a returning client re-opens with the classification it left with (Caso 1: C11).

    The set-based twin of `strategy.selectors.opening_action_for`.
    """
    v = version.pk
    sql.create_temp(
        cursor,
        "engine_open",
        "SELECT ec.client_id, ec.max_dpd, ec.exposure, ec.overdue, ec.overdue_since, "
        "c.id AS case_id, "
        "c.classification AS kept_classification, c.action_code AS prev_code, "
        "(SELECT m.code FROM strategy_managementtype m WHERE m.version_id = %s AND "
        "(m.max_exposure IS NULL OR ec.exposure <= m.max_exposure) "
        "ORDER BY m.position LIMIT 1) AS type, "
        "CAST(NULL AS integer) AS tramo, CAST(NULL AS varchar(10)) AS classification, "
        "CAST(NULL AS varchar(10)) AS action_code "
        "FROM engine_client ec "
        "LEFT JOIN collections_field_case c ON c.client_id = ec.client_id "
        "WHERE ec.max_dpd > 0 AND (c.id IS NULL OR c.status = 'closed')",
        [v],
    )
    # Each lookup runs once per distinct key (a few hundred), not once per client:
    # a small table of the answers, then one join.
    sql.create_temp(
        cursor,
        "engine_lookup",
        "SELECT d.type, d.max_dpd, (SELECT t.number FROM strategy_tramo t "
        "WHERE t.version_id = %s AND t.type = d.type AND t.from_day <= d.max_dpd "
        "AND (t.to_day IS NULL OR d.max_dpd <= t.to_day) ORDER BY t.number LIMIT 1) AS tramo "
        "FROM (SELECT DISTINCT type, max_dpd FROM engine_open) d",
        [v],
    )
    cursor.execute(
        "UPDATE engine_open SET tramo = l.tramo FROM engine_lookup l "
        "WHERE l.type = engine_open.type AND l.max_dpd = engine_open.max_dpd"
    )
    if sql.is_postgres():
        cursor.execute("ANALYZE engine_open")  # its tramos were unknown when it was created
    sql.create_temp(
        cursor,
        "engine_lookup",
        "SELECT d.type, d.kept, d.max_dpd, coalesce("
        "(SELECT k.code FROM strategy_classification k WHERE k.version_id = %s "
        "AND k.type = d.type AND k.code = d.kept), "
        "(SELECT k.code FROM strategy_classification k WHERE k.version_id = %s "
        "AND k.type = d.type AND k.campaign = false "
        "AND (k.max_dpd IS NULL OR d.max_dpd <= k.max_dpd) "
        "ORDER BY k.position LIMIT 1), "
        "(SELECT k.code FROM strategy_classification k WHERE k.version_id = %s "
        "AND k.type = d.type AND k.campaign = false ORDER BY k.position DESC LIMIT 1)) AS code "
        "FROM (SELECT DISTINCT type, kept_classification AS kept, max_dpd FROM engine_open "
        "WHERE tramo IS NOT NULL) d",
        [v, v, v],
    )
    cursor.execute(
        "UPDATE engine_open SET classification = l.code FROM engine_lookup l "
        "WHERE l.type = engine_open.type AND l.max_dpd = engine_open.max_dpd "
        "AND coalesce(l.kept, '') = coalesce(engine_open.kept_classification, '')"
    )  # (a type and days past due with a tramo: the rows with a tramo)
    if sql.is_postgres():
        cursor.execute("ANALYZE engine_open")
    sql.create_temp(
        cursor,
        "engine_lookup",
        "SELECT d.type, d.classification, d.tramo, (SELECT a.code FROM strategy_suggestedaction a "
        "WHERE a.version_id = %s AND a.type = d.type AND a.classification = d.classification "
        "AND a.visit = 1 AND a.tramo <= d.tramo ORDER BY a.tramo DESC, a.position LIMIT 1) "
        "AS code FROM (SELECT DISTINCT type, classification, tramo FROM engine_open "
        "WHERE tramo IS NOT NULL) d",
        [v],
    )
    cursor.execute(
        "UPDATE engine_open SET action_code = l.code FROM engine_lookup l "
        "WHERE l.type = engine_open.type "
        "AND l.classification = engine_open.classification AND l.tramo = engine_open.tramo"
    )
    start = sql.ts(sql.start_of(day))
    cursor.execute(
        "INSERT INTO collections_field_case (client_id, management_type, classification, "
        "action_code, tramo, visits_in_tramo, status, promise_paid, "
        "exposure, overdue_amount, overdue_since, opened_on, updated_for, "
        "collection_address_id) "
        "SELECT eo.client_id, eo.type, eo.classification, eo.action_code, a.tramo, 0, "
        "'active', false, eo.exposure, coalesce(eo.overdue, 0), eo.overdue_since, %s, %s, "
        "(SELECT ad.id FROM portfolio_address ad WHERE ad.client_id = eo.client_id "
        "AND ad.kind = 'home' AND ad.guarantor_id IS NULL) "
        "FROM engine_open eo JOIN strategy_suggestedaction a ON a.version_id = %s "
        "AND a.type = eo.type AND a.code = eo.action_code WHERE eo.case_id IS NULL",
        [day, day, v],
    )
    opened = cursor.rowcount
    if scope.share is None:  # (shares: once all are in, cycle.py)
        sql.analyze_if_grown(cursor, "collections_field_case", opened)
    cursor.execute(
        "UPDATE collections_field_case AS c SET management_type = eo.type, "
        "classification = eo.classification, action_code = eo.action_code, tramo = a.tramo, "
        "visits_in_tramo = 0, status = 'active', phone_until = NULL, promise_date = NULL, "
        "promise_amount = NULL, promise_made_at = NULL, promise_paid = false, "
        "overdue_since = eo.overdue_since, opened_on = %s, closed_on = NULL, "
        "assigned_tramo = NULL "
        "FROM engine_open eo JOIN strategy_suggestedaction a ON a.version_id = %s "
        "AND a.type = eo.type AND a.code = eo.action_code WHERE c.id = eo.case_id",
        [day, v],
    )
    reopened = cursor.rowcount
    cursor.execute(
        "INSERT INTO collections_field_casehistory (case_id, business_date, at, seq, from_code, "
        "to_code, from_classification, to_classification, cause_kind, cause, officer_code, "
        "reason, strategy_version) "
        "SELECT c.id, %s, %s, 0, coalesce(eo.prev_code, ''), eo.action_code, "
        "coalesce(eo.kept_classification, ''), eo.classification, 'open', "
        "CASE WHEN eo.case_id IS NULL THEN 'open' ELSE 'reopen' END, '', '', %s "
        "FROM engine_open eo JOIN collections_field_case c ON c.client_id = eo.client_id "
        "WHERE eo.action_code IS NOT NULL",
        [day, start, version.number],
    )
    cursor.execute("SELECT count(*) FROM engine_open WHERE action_code IS NULL")
    return {"opened": opened, "reopened": reopened, "not_openable": cursor.fetchone()[0]}
