"""Step 5 of the night: the action plans (CR Gestión) dated for every open case.

An action-plan item (type, tramo, order, channel, `from_day`–`to_day`) becomes a
`PlannedAction` of a case when the case is open in that type and tramo and its
days past due on the business date D have reached `from_day`. Its window opens on
the date on which the days past due reached `from_day` (`overdue_since +
from_day`) and closes at the end of the date W on which they reach `to_day`
(`overdue_since + to_day`), DOMAIN.md 4 step 7.

Rules decided here (DOMAIN.md leaves them open):

- **Only windows still to be worked are planned**: an item is materialised when
  its window opened by D and had not closed at the previous snapshot's date (on
  the first cycle: had not closed before D). A case that opens, or enters a
  tramo, late in the tramo gets no action for windows already gone by.
- **Owner**: automatic channels (sms, whatsapp, ivr, email, letter) belong to the
  system and wait in the dispatch queue (status `queued`; nothing is sent by this
  step, `dispatch` consumes them); manual ones (call, visit, refinancing_offer) go
  on the agenda (`open`) of the case's officer, and follow the case when it is
  reassigned.
- **A case that no longer matches an open action closes it**: the case closed,
  changed type or tramo, its windows moved (a payment brought its days past due
  back, so `overdue_since` changed), or the strategy no longer has that item as it
  was. A window still running is `cancelled` (no light); a window already passed is
  `missed`: red for good in the dashboards, out of the escalation inboxes. The item
  is planned again with its new dates when its new window opens.
- **Done**: a visit or call result on the case's client, GPS-verified (Kobra: a
  visit counts only within the radius; calls are always verified), on the action's
  channel, that happened once its window had opened, does every open action of
  that channel: green inside the window, late (red for good) after W. A
  refinancing offer is done by its request (money-rules issue) and an automatic
  action by its delivered message (dispatch issue), both through
  `action_mark_done`. A result registered after the cycle is matched at once
  (`plan_result_recorded`, called by `result_register`); one registered before the
  action existed is matched by this step, if it happened since the previous
  snapshot's date.

Set-based: a fixed number of statements whatever the number of cases; planning
is idempotent per business date (`INSERT … SELECT … ON CONFLICT`).
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection, transaction

from collections_field.engine import sql
from collections_field.engine.events import ALL_CLIENTS, Scope
from collections_field.models import Case, FieldResult, PlannedAction
from strategy.models import StrategyVersion

AUTOMATIC_CHANNELS = ("sms", "whatsapp", "ivr", "email", "letter")
MANUAL_CHANNELS = ("call", "visit", "refinancing_offer")
# The field-result channels that do a manual action of the same name.
RESULT_CHANNELS = ("visit", "call")
PENDING = (PlannedAction.Status.QUEUED, PlannedAction.Status.OPEN)


def plan_actions(
    *,
    business_date: date,
    version: StrategyVersion,
    previous_snapshot: date | None,
    scope: Scope = ALL_CLIENTS,
) -> dict[str, int]:
    day = business_date
    v = version.pk
    table = "collections_field_plannedaction"
    with connection.cursor() as cursor:
        # Autovacuum may be off or late: the joins below need this night's counts.
        sql.analyze(cursor, table)
        # 1. One pass over the pending actions and their case (an item is unique by
        # version, type, tramo and order: one join, not a lookup per action): close
        # those their case no longer matches (see the docstring); the others follow
        # their case to its officer (manual ones: assignment ran before) and their
        # client to another agency (a transfer in core banking: the inboxes find an
        # agency's actions by this copy). Actions planned below take both from the case.
        gone = (
            "(c.id IS NULL OR i.id IS NULL OR c.overdue_since IS NULL "
            "OR c.management_type <> p.type OR c.tramo <> p.tramo OR i.channel <> p.channel "
            "OR i.manual <> p.manual OR i.from_day <> p.from_day OR i.to_day <> p.to_day "
            f"OR p.window_from <> {sql.date_plus('c.overdue_since', 'i.from_day')})"
        )
        owner = "(p.manual AND p.status = 'open' AND p.officer_id IS DISTINCT FROM c.officer_id)"
        pending = (
            f"SELECT p.id, CASE WHEN {gone} THEN 1 ELSE 0 END AS gone, "
            f"CASE WHEN {owner} THEN 1 ELSE 0 END AS new_owner, "
            "CASE WHEN p.agency_id IS DISTINCT FROM cl.agency_id THEN 1 ELSE 0 END "
            "AS new_agency, c.officer_id, cl.agency_id "
            f"FROM {table} p "
            "LEFT JOIN collections_field_case c ON c.id = p.case_id AND c.status <> 'closed' "
            "LEFT JOIN portfolio_client cl ON cl.id = c.client_id "
            "LEFT JOIN strategy_actionplanitem i ON i.version_id = %s AND i.type = p.type "
            'AND i.tramo = p.tramo AND i."order" = p."order" '
            f"WHERE p.status IN ('queued', 'open') AND {_in_scope('p', scope)} AND ({gone} "
            f"OR {owner} OR p.agency_id IS DISTINCT FROM cl.agency_id)"
        )
        # The actions to change, apart first (a read PostgreSQL may spread over its
        # workers), then one update by id: an UPDATE … FROM this read joined the
        # actions with themselves (0.5 s a night at 1M credits).
        sql.create_temp(cursor, "engine_plan_check", pending, [v])
        cursor.execute(
            "SELECT coalesce(sum(gone), 0), "
            "coalesce(sum(CASE WHEN gone = 0 THEN new_owner ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN gone = 0 THEN new_agency ELSE 0 END), 0) "
            "FROM engine_plan_check"
        )
        closed, moved, transferred = cursor.fetchone()
        cursor.execute(
            f"UPDATE {table} AS a SET "
            "status = CASE WHEN x.gone = 0 THEN a.status "
            "WHEN a.window_to < %s THEN 'missed' ELSE 'cancelled' END, "
            "late = CASE WHEN x.gone = 1 AND a.window_to < %s THEN true ELSE a.late END, "
            "closed_on = CASE WHEN x.gone = 1 THEN %s ELSE a.closed_on END, "
            "officer_id = CASE WHEN x.gone = 0 AND x.new_owner = 1 THEN x.officer_id "
            "ELSE a.officer_id END, "
            "agency_id = CASE WHEN x.gone = 0 THEN x.agency_id ELSE a.agency_id END "
            "FROM engine_plan_check x WHERE a.id = x.id",
            [day, day, day],
        )

        # 2. Every item whose window opened by today and was still open at the
        # previous snapshot: one action per case, item and window (a re-run adds
        # nothing; a cancelled one comes back if its window is planned again).
        dpd_today = sql.days_between("%s", "c.overdue_since")
        if previous_snapshot is not None:
            still_open = f"i.to_day > {sql.days_between('%s', 'c.overdue_since')}"
            params = [day, v, day, previous_snapshot]
        else:
            still_open = f"i.to_day >= {dpd_today}"
            params = [day, v, day, day]
        cursor.execute(
            f'INSERT INTO {table} (case_id, type, tramo, "order", channel, template, manual, '
            "from_day, to_day, window_from, window_to, planned_on, officer_id, agency_id, "
            "status, late) "
            'SELECT c.id, i.type, i.tramo, i."order", i.channel, i.template, i.manual, '
            f"i.from_day, i.to_day, {sql.date_plus('c.overdue_since', 'i.from_day')}, "
            f"{sql.date_plus('c.overdue_since', 'i.to_day')}, %s, "
            "CASE WHEN i.manual THEN c.officer_id END, "
            # The client's agency looked up for the new actions only (a join read
            # every client for every open case: 0.4 s a night at 1M credits).
            "(SELECT cl.agency_id FROM portfolio_client cl WHERE cl.id = c.client_id), "
            "CASE WHEN i.manual THEN 'open' ELSE 'queued' END, false "
            "FROM collections_field_case c "
            "JOIN strategy_actionplanitem i "
            "ON i.version_id = %s AND i.type = c.management_type AND i.tramo = c.tramo "
            f"WHERE c.status <> 'closed' AND c.overdue_since IS NOT NULL AND {scope.cases('c')} "
            f"AND {dpd_today} >= i.from_day AND {still_open} "
            # Already planned (and not cancelled): nothing to write. Without this every
            # running window would meet ON CONFLICT, which locks the row it finds.
            f"AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.case_id = c.id "
            'AND x.type = i.type AND x.tramo = i.tramo AND x."order" = i."order" '
            f"AND x.window_from = {sql.date_plus('c.overdue_since', 'i.from_day')} "
            "AND x.status <> 'cancelled') "
            'ON CONFLICT (case_id, type, tramo, "order", window_from) DO UPDATE SET '
            "channel = excluded.channel, template = excluded.template, "
            "manual = excluded.manual, from_day = excluded.from_day, to_day = excluded.to_day, "
            "window_to = excluded.window_to, planned_on = excluded.planned_on, "
            "officer_id = excluded.officer_id, agency_id = excluded.agency_id, "
            "status = excluded.status, late = false, "
            f"closed_on = NULL WHERE {table}.status = 'cancelled'",
            params,
        )
        planned = cursor.rowcount

        # 4. Results registered before their action existed (a replay, a late sync).
        since = sql.start_of(previous_snapshot or day)
        sql.create_temp(
            cursor,
            "engine_plan_done",
            "SELECT a.id AS action_id, r.id AS result_id, r.occurred_at, "
            f"CASE WHEN r.occurred_at >= {sql.lima_midnight_after('a.window_to')} "
            "THEN 1 ELSE 0 END AS late, "
            "row_number() OVER (PARTITION BY a.id ORDER BY r.occurred_at, r.id) AS rn "
            f"FROM {table} a JOIN collections_field_case c ON c.id = a.case_id "
            "JOIN collections_field_fieldresult r ON r.client_id = c.client_id "
            "AND r.channel = a.channel AND r.verified = true "
            f"AND r.occurred_at >= {sql.lima_start_of('a.window_from')} "
            "AND r.occurred_at >= %s AND r.occurred_at < %s "
            f"WHERE a.status = 'open' AND a.manual = true AND {scope.cases('c')}",
            [sql.ts(since), sql.ts(sql.end_of(day))],
        )
        cursor.execute(
            f"UPDATE {table} AS a SET status = 'done', done_at = d.occurred_at, "
            "done_by_result_id = d.result_id, late = (d.late = 1), closed_on = %s "
            "FROM engine_plan_done d WHERE d.action_id = a.id AND d.rn = 1",
            [day],
        )
        done = cursor.rowcount
        sql.drop_temp(cursor, "engine_plan_check", "engine_plan_done")
    return {
        "planned": planned,
        "closed": closed,
        "owner_changed": moved,
        "agency_changed": transferred,
        "done": done,
    }


def _in_scope(alias: str, scope: Scope) -> str:
    """A condition on an action alias: its case is in the chunk's scope."""
    if scope.agency_ids is None:
        return "1 = 1"
    return (
        f"{alias}.case_id IN (SELECT pc.id FROM collections_field_case pc "
        f"WHERE {scope.cases('pc')})"
    )


def action_done_late(action: PlannedAction, at: datetime) -> bool:
    """Done after the end (Lima) of the window's last date W."""
    return at >= sql.end_of(action.window_to)


@transaction.atomic
def action_mark_done(
    *, action: PlannedAction, at: datetime, result: FieldResult | None = None
) -> PlannedAction:
    """Hecho: record an action as done at `at` (a matching field result, or a delivered
    message reported by dispatch). Done late stays red; doing it twice changes nothing.
    The day's semáforo counts follow at once."""
    from collections_field.engine.lights import summary_track

    action = PlannedAction.objects.select_for_update().get(pk=action.pk)
    if action.status not in PENDING:
        return action
    with summary_track(action):
        _done(action, at, result)
        action.save(update_fields=DONE_FIELDS)
    return action


DONE_FIELDS = ["status", "done_at", "done_by_result", "late", "closed_on"]


def _done(action: PlannedAction, at: datetime, result: FieldResult | None = None) -> None:
    action.status = PlannedAction.Status.DONE
    action.done_at = at
    action.done_by_result = result
    action.late = action_done_late(action, at)
    action.closed_on = at.astimezone(sql.LIMA).date()


@transaction.atomic
def actions_mark_done(*, done: dict[int, datetime]) -> int:
    """`action_mark_done` for many actions at once (dispatch's delivered messages:
    action id → when), in a fixed number of statements. Returns how many were still
    pending, and so are done now."""
    from collections_field.engine.lights import summary_track_many

    actions = list(
        PlannedAction.objects.select_for_update(of=("self",))
        .select_related("case__client")
        .filter(pk__in=list(done), status__in=PENDING)
        .order_by("pk")
    )
    if not actions:
        return 0
    with summary_track_many(actions):
        for action in actions:
            _done(action, done[action.pk])
        _save_done(actions)
    return len(actions)


def _save_done(actions: list[PlannedAction]) -> None:
    """One UPDATE with a CASE per column (`bulk_update` builds an expression per row and
    column, which costs more than the statement)."""
    fields = {
        name: PlannedAction._meta.get_field(name) for name in ("done_at", "late", "closed_on")
    }
    sets, params = [], []
    for name, model_field in fields.items():
        sets.append(
            f"{model_field.column} = CASE id {' '.join(['WHEN %s THEN %s'] * len(actions))} END"
        )
        for action in actions:
            params += [action.pk, model_field.get_db_prep_save(getattr(action, name), connection)]
    holes = ", ".join(["%s"] * len(actions))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {PlannedAction._meta.db_table} SET status = %s, done_by_result_id = NULL, "
            f"{', '.join(sets)} WHERE id IN ({holes})",
            [PlannedAction.Status.DONE, *params, *(a.pk for a in actions)],
        )


def plan_result_recorded(*, result: FieldResult) -> int:
    """A registered visit or call does the case's open actions of its channel whose
    window had opened when it happened (the same rule as the plan step's)."""
    if not result.verified or result.channel not in RESULT_CHANNELS:
        return 0
    case_id = Case.objects.filter(client_id=result.client_id).values_list("id", flat=True).first()
    if case_id is None:
        return 0
    actions = PlannedAction.objects.filter(
        case_id=case_id,
        status=PlannedAction.Status.OPEN,
        manual=True,
        channel=result.channel,
        window_from__lte=result.occurred_at.astimezone(sql.LIMA).date(),
    ).order_by("window_from", "id")
    done = 0
    for action in actions:
        action_mark_done(action=action, at=result.occurred_at, result=result)
        done += 1
    return done
