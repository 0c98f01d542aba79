"""Step 7 of the night, first half: the semáforo of every planned action and the
summary counts the pages read (DOMAIN.md 4 step 7; escalation is `escalation.py`).

The light of an action on a business date D:

- green: done inside its window;
- amber: not done, window still running (D ≤ W);
- red: not done and W passed (`red_pending`, what the escalation inboxes show), or
  done late / missed (`red_late`: red for good, for the dashboards and commissions).

A cancelled action has no light. The summary of D counts what is pending on D,
whatever its age, plus what was closed (done or missed) with a window ending in
D's month: the dashboards' month to date. A case's light is the worst of its
pending actions (red, then amber); with nothing pending it is green, and it has
none before its first action.

The summary (`LightSummary`) has one row per officer (the manual actions it
owns), agency and zone (every action of their clients) and the company, per
business date. The cycle rebuilds D's rows in a fixed number of statements; each
registered result (or delivered message, or reassignment) moves the counts of the
latest date by the difference it made, so the pages never count the portfolio.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from django.db import connection
from django.db.models import F

from collections_field.engine import sql
from collections_field.models import LightSummary, PlannedAction

GREEN, AMBER, RED_PENDING, RED_LATE = "green", "amber", "red_pending", "red_late"
BUCKETS = (GREEN, AMBER, RED_PENDING, RED_LATE)
PENDING = ("queued", "open")


def light_bucket(*, status: str, window_from: date, window_to: date, late: bool, day: date):
    """The action's count on `day` (None: not counted). The SQL of `compute_lights`
    is the set-based twin of this function."""
    if status == PlannedAction.Status.CANCELLED or window_from > day:
        return None
    if status in PENDING:
        return AMBER if day <= window_to else RED_PENDING
    if window_to < day.replace(day=1):
        return None
    return RED_LATE if late else GREEN


def light_of(bucket: str | None) -> str | None:
    """green / amber / red, as the API and the pages show it."""
    if bucket is None:
        return None
    return "red" if bucket in (RED_PENDING, RED_LATE) else bucket


def compute_lights(*, business_date: date) -> dict[str, int]:
    """Rebuild D's summary rows. Always runs whole (never in agency chunks): zones
    and the company span the chunks."""
    day = business_date
    month = day.replace(day=1)
    table = "collections_field_lightsummary"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE business_date = %s", [day])
        bucket = (
            "CASE WHEN a.status IN ('queued', 'open') THEN "
            "CASE WHEN a.window_to >= %s THEN 'amber' ELSE 'red_pending' END "
            "WHEN a.late = true THEN 'red_late' ELSE 'green' END"
        )
        sums = ", ".join(
            f"sum(CASE WHEN b.bucket = '{b}' THEN 1 ELSE 0 END) AS {b}" for b in BUCKETS
        )
        sql.create_temp(
            cursor,
            "engine_lights",
            f"SELECT b.officer_id, b.agency_id, b.zone_id, {sums} FROM ("
            f"SELECT a.officer_id, cl.agency_id, ag.zone_id, {bucket} AS bucket "
            "FROM collections_field_plannedaction a "
            "JOIN collections_field_case c ON c.id = a.case_id "
            "JOIN portfolio_client cl ON cl.id = c.client_id "
            "LEFT JOIN portfolio_agency ag ON ag.id = cl.agency_id "
            "WHERE a.status <> 'cancelled' AND a.window_from <= %s "
            "AND (a.status IN ('queued', 'open') OR a.window_to >= %s)) b "
            "GROUP BY b.officer_id, b.agency_id, b.zone_id",
            [day, day, month],
        )
        totals = ", ".join(f"coalesce(sum({b}), 0)" for b in BUCKETS)
        insert = f"INSERT INTO {table} (business_date, level, key, {', '.join(BUCKETS)}) "
        for level, column in (("officer", "officer_id"), ("agency", "agency_id"),
                              ("zone", "zone_id")):  # fmt: skip
            cursor.execute(
                insert + f"SELECT %s, '{level}', {column}, {totals} FROM engine_lights "
                f"WHERE {column} IS NOT NULL GROUP BY {column}",
                [day],
            )
        cursor.execute(insert + f"SELECT %s, 'company', 0, {totals} FROM engine_lights", [day])
        cursor.execute(
            f"SELECT {', '.join(BUCKETS)} FROM {table} "
            "WHERE business_date = %s AND level = 'company'",
            [day],
        )
        counts = dict(zip(BUCKETS, cursor.fetchone(), strict=True))
        sql.drop_temp(cursor, "engine_lights")
    return counts


def latest_summary_date() -> date | None:
    return (
        LightSummary.objects.order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )


def _zones(actions: list[PlannedAction]) -> dict[int, int | None]:
    """The zone of each agency the actions' clients belong to (one query)."""
    from portfolio.models import Agency

    agency_ids = {a.case.client.agency_id for a in actions} - {None}
    return dict(Agency.objects.filter(pk__in=agency_ids).values_list("pk", "zone_id"))


def _keys(action: PlannedAction, zones: dict[int, int | None]) -> list[tuple[str, int]]:
    """The summary rows an action counts in, as it stands."""
    agency_id = action.case.client.agency_id
    keys = [(LightSummary.Level.COMPANY, 0)]
    if action.officer_id is not None:
        keys.append((LightSummary.Level.OFFICER, action.officer_id))
    if agency_id is not None:
        keys.append((LightSummary.Level.AGENCY, agency_id))
        zone_id = zones.get(agency_id)
        if zone_id is not None:
            keys.append((LightSummary.Level.ZONE, zone_id))
    return keys


def _counted(
    action: PlannedAction, day: date, zones: dict[int, int | None]
) -> list[tuple[str, int, str]]:
    if action.planned_on > day:  # planned after that summary was drawn: not in it
        return []
    bucket = light_bucket(
        status=action.status,
        window_from=action.window_from,
        window_to=action.window_to,
        late=action.late,
        day=day,
    )
    if bucket is None:
        return []
    return [(level, key, bucket) for level, key in _keys(action, zones)]


@contextmanager
def summary_track(action: PlannedAction) -> Iterator[None]:
    """Move the latest summary's counts by what the change inside the block made to
    this action (its light, or its owner)."""
    with summary_track_many([action]):
        yield


@contextmanager
def summary_track_many(actions: list[PlannedAction]) -> Iterator[None]:
    """The same for many actions changed in one block (dispatch's delivered messages):
    their moves are added up and written in one statement per summary row touched."""
    day = latest_summary_date()
    zones = _zones(actions) if day else {}
    before = [c for a in actions for c in _counted(a, day, zones)] if day else []
    yield
    if day is None:
        return
    after = [c for a in actions for c in _counted(a, day, zones)]
    delta: dict[tuple[str, int], dict[str, int]] = {}
    for level, key, bucket in before:
        delta.setdefault((level, key), {}).setdefault(bucket, 0)
        delta[(level, key)][bucket] -= 1
    for level, key, bucket in after:
        delta.setdefault((level, key), {}).setdefault(bucket, 0)
        delta[(level, key)][bucket] += 1
    for (level, key), moves in sorted(delta.items()):  # a fixed order: no deadlock
        moves = {b: n for b, n in moves.items() if n}
        if not moves:
            continue
        rows = LightSummary.objects.filter(business_date=day, level=level, key=key)
        if not rows.update(**{b: F(b) + n for b, n in moves.items()}):
            LightSummary.objects.create(
                business_date=day, level=level, key=key, **{b: max(n, 0) for b, n in moves.items()}
            )
