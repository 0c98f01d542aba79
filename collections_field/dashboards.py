"""Reads of the jefes' and the gerente's dashboards (DOMAIN.md 1 and 4 step 7).

A dashboard is a unit (an agency, a zone or the company) and its children (the
agency's officers, the zone's agencies, the company's zones), each with its
semáforo (`LightSummary`) and its figures (`DailyFigures`), both kept by the
cycle: a page costs the same few queries whatever the portfolio. Every figure
drills down to its cases (`dashboard_cases`), listed with the SQL the night
counted them with, and within the reader's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.utils.formats import get_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from collections_field.engine import sql
from collections_field.engine.escalation import version_on
from collections_field.engine.figures import FIGURES, figure_case_ids
from collections_field.engine.lights import BUCKETS
from collections_field.exceptions import NotFound, PermissionDenied
from collections_field.models import (
    Case,
    CycleRun,
    DailyFigures,
    FieldResult,
    LightSummary,
    TeamFigures,
)
from portfolio.models import Agency, ExternalAgency, Role, Zone
from portfolio.selectors import (
    agencies_visible_to,
    clients_visible_to,
    officers_visible_to,
    role_of,
)

DASHBOARD_ROLES = (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE)
CHILD_LEVEL = {"company": "zone", "zone": "agency", "agency": "officer"}
MAP_POINTS = 500  # the day's visits drawn on the map (the latest first)
CASE_ROWS = 500  # a drill-down page; the exports carry up to EXPORT_ROWS
EXPORT_ROWS = 100_000

# Every figure a dashboard shows, with its label (drill-down and export headers).
FIGURE_LABELS = {
    "green": gettext_lazy("Actions done in time"),
    "amber": gettext_lazy("Actions in progress"),
    "red_pending": gettext_lazy("Actions overdue"),
    "red_late": gettext_lazy("Actions late or missed this month"),
    "cases_open": gettext_lazy("Open cases"),
    "overdue_amount": gettext_lazy("Overdue amount (S/)"),
    "promises_today": gettext_lazy("Promises due today"),
    "promises_due": gettext_lazy("Promises due this month"),
    "promises_kept": gettext_lazy("Promises kept this month"),
    "promises_broken": gettext_lazy("Promises broken this month"),
    "collected": gettext_lazy("Collected on the day (S/)"),
    "payments": gettext_lazy("Payments on the day"),
    "cure_base": gettext_lazy("Cases open this month"),
    "cured": gettext_lazy("Cases cured this month"),
    "tramo1_base": gettext_lazy("Cases in tramo 1 this month"),
    "tramo1_rolled": gettext_lazy("Rolled from tramo 1 to tramo 2"),
    "balance_total": gettext_lazy("Portfolio balance (S/)"),
    "balance_delinquent": gettext_lazy("Balance more than 30 days past due (S/)"),
    "visits_verified": gettext_lazy("Visits GPS-verified today"),
    "visits_off": gettext_lazy("Visits off radius today"),
    "team_cases": gettext_lazy("Open cases of the team"),
}
DRILLS = set(FIGURE_LABELS) - {"balance_total"}
# Drawn from what the cases (and their actions) are now: on an earlier date the
# drill-down lists today's state, not the night's (the page says so).
STATE_FIGURES = {"green", "amber", "red_pending", "red_late", "cases_open",
                 "overdue_amount", "promises_today", "cure_base", "tramo1_base",
                 "team_cases"}  # fmt: skip
INTERNAL_TEAM = "internal"


@dataclass(frozen=True)
class Unit:
    level: str  # company, zone, agency or officer
    key: int  # the row's id (0: the company)
    code: str
    name: str

    @property
    def param(self) -> str:
        return "company" if self.level == "company" else f"{self.level}:{self.code}"


@dataclass
class DashboardRow:
    unit: Unit
    lights: dict[str, int]
    figures: dict[str, Any]
    ratios: dict[str, Decimal | None] = field(default_factory=dict)
    bar: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TeamRow:
    """The internal team's or an outsourced agency's figures in a unit (DOMAIN.md 6):
    the day's (`TeamFigures` of D) and the month's so far (the sum of its days)."""

    unit: Unit
    team: str  # INTERNAL_TEAM or the external agency's code
    name: str
    figures: dict[str, Any]


@dataclass
class Dashboard:
    business_date: date | None
    unit: Unit
    total: DashboardRow
    rows: list[DashboardRow]
    visits: list[dict[str, Any]]
    child_level: str
    teams: list[TeamRow] = field(default_factory=list)
    child_teams: list[TeamRow] = field(default_factory=list)


def _member(user: AbstractBaseUser):
    return getattr(user, "staff_member", None)


def dashboard_unit(*, user: AbstractBaseUser, param: str | None = None) -> Unit:
    """The unit a reader asked for (default: its own), if its subtree holds it.

    An asesor, an external agency's user or a service account has no dashboard."""
    role = role_of(user)
    if role not in DASHBOARD_ROLES:
        raise PermissionDenied(_("dashboards are for the jefes and the gerente"))
    member = _member(user)
    if not param:
        if role == Role.GERENTE:
            param = "company"
        elif role == Role.JEFE_ZONAL and member and member.zone_id:
            param = f"zone:{member.zone.code}"
        elif role == Role.JEFE_AGENCIA and member and member.agency_id:
            param = f"agency:{member.agency.code}"
        else:
            raise PermissionDenied(_("no agency or zone is set for this user"))
    level, _sep, code = param.partition(":")
    found: Any = None
    if level == "company" and role == Role.GERENTE:
        return Unit("company", 0, "", _("Company"))
    if level == "zone" and role in (Role.GERENTE, Role.JEFE_ZONAL):
        zones = Zone.objects.filter(code=code)
        if role == Role.JEFE_ZONAL:
            zones = zones.filter(pk=member.zone_id)
        found = zones.first()
    elif level == "agency":
        found = agencies_visible_to(user).filter(code=code).first()
    elif level == "officer":
        found = officers_visible_to(user).filter(code=code).first()
    if found is None:
        raise NotFound(_("no such unit in your part of the organisation"))
    return Unit(level, found.pk, found.code, found.name)


def dashboard_date(requested: date | None = None) -> date | None:
    """The business date shown: the one asked for, else the last finished cycle's."""
    if requested is not None:
        return requested
    return (
        CycleRun.objects.filter(status=CycleRun.Status.DONE)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )


def _children(user: AbstractBaseUser, unit: Unit) -> list[Unit]:
    if unit.level == "company":
        items = Zone.objects.order_by("code")
    elif unit.level == "zone":
        items = agencies_visible_to(user).filter(zone_id=unit.key).order_by("code")
    elif unit.level == "agency":
        items = officers_visible_to(user).filter(agency_id=unit.key).order_by("code")
    else:
        return []
    level = CHILD_LEVEL[unit.level]
    return [Unit(level, i.pk, i.code, i.name) for i in items.only("pk", "code", "name")]


def _ratio(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole) * 100).quantize(Decimal("0.1"))


def _row(unit: Unit, light: LightSummary | None, figures: DailyFigures | None) -> DashboardRow:
    lights = {b: getattr(light, b, 0) for b in BUCKETS}
    values: dict[str, Any] = {name: getattr(figures, name, 0) if figures else 0 for name in FIGURES}
    values["promises_broken"] = values["promises_due"] - values["promises_kept"]
    rolled, base = values["tramo1_rolled"], values["tramo1_base"]
    ratios = {
        "delinquency": _ratio(values["balance_delinquent"], values["balance_total"]),
        "contention": _ratio(base - rolled, base),
        "cure": _ratio(values["cured"], values["cure_base"]),
        "promise_kept": _ratio(values["promises_kept"], values["promises_due"]),
    }
    return DashboardRow(unit=unit, lights=lights, figures=values, ratios=ratios)


def _bars(rows: list[DashboardRow], width: int = 240) -> None:
    """A stacked bar per row (green, amber, red pending, red late), to one scale:
    the SVG's rectangles, drawn by the template (no script, no style attribute)."""
    most = max((sum(r.lights.values()) for r in rows), default=0) or 1
    for r in rows:
        x = 0.0
        r.bar = []
        for bucket in BUCKETS:
            w = r.lights[bucket] * width / most
            if w:
                r.bar.append({"bucket": bucket, "x": round(x, 1), "w": round(w, 1),
                              "n": r.lights[bucket]})  # fmt: skip
            x += w


def dashboard_for(
    *, user: AbstractBaseUser, param: str | None = None, business_date: date | None = None
) -> Dashboard:
    """The unit's dashboard for a business date (default: the last finished cycle)."""
    unit = dashboard_unit(user=user, param=param)
    day = dashboard_date(business_date)
    children = _children(user, unit)
    child_level = CHILD_LEVEL.get(unit.level, "")
    wanted = Q(level=unit.level, key=unit.key)
    if children:
        wanted |= Q(level=child_level, key__in=[c.key for c in children])
    lights = {(s.level, s.key): s for s in LightSummary.objects.filter(wanted, business_date=day)}
    figures = {(f.level, f.key): f for f in DailyFigures.objects.filter(wanted, business_date=day)}
    rows = [_row(c, lights.get((c.level, c.key)), figures.get((c.level, c.key))) for c in children]
    _bars(rows)
    total = _row(unit, lights.get((unit.level, unit.key)), figures.get((unit.level, unit.key)))
    teams, child_teams = _teams(unit, children, day)
    return Dashboard(
        business_date=day,
        unit=unit,
        total=total,
        rows=rows,
        visits=_visits(user, unit, day) if day else [],
        child_level=child_level,
        teams=teams,
        child_teams=child_teams,
    )


# The charts' words (legend, axis): short, as the lights' headings of the page.
LIGHT_LABELS = {
    "green": gettext_lazy("Done in time"),
    "amber": gettext_lazy("In progress"),
    "red_pending": pgettext_lazy("actions", "Overdue"),
    "red_late": pgettext_lazy("actions", "Late or missed"),
}
RATIO_CHART_LABELS = {
    "delinquency": gettext_lazy("Delinquency ratio"),
    "contention": gettext_lazy("Contention"),
    "cure": gettext_lazy("Cure rate"),
    "promise_kept": gettext_lazy("Promise-kept rate"),
}
CHILD_TITLES = {
    "officer": gettext_lazy("Semáforo per officer"),
    "agency": gettext_lazy("Semáforo per agency"),
    "zone": gettext_lazy("Semáforo per zone"),
}


def dashboard_charts(board: Dashboard) -> dict[str, Any]:
    """What the page's charts draw (`static/js/dashboard-charts.js`, Chart.js): the
    semáforo per child unit (stacked bars) and the unit's indicators of the month.

    `data` goes to the page as a `json_script` island: labels translated here,
    figures as JSON numbers (a ratio with no base is null: no bar). `lights_label`
    and `ratios_label` are the canvases' `aria-label`s, the charts summed up in
    words; the tables stay the accessible figures."""
    rows = board.rows
    ratios = {
        key: None if board.total.ratios[key] is None else float(board.total.ratios[key])
        for key in RATIO_CHART_LABELS
    }
    data = {
        # The page's number format (Django's, as the pct filter writes it: 12,5 %).
        "format": {
            "decimal": get_format("DECIMAL_SEPARATOR"),
            "thousands": get_format("THOUSAND_SEPARATOR")
            if settings.USE_THOUSAND_SEPARATOR
            else "",
        },
        "lights": {
            "labels": [r.unit.code for r in rows],
            "names": [r.unit.name for r in rows],
            "datasets": [
                {"bucket": b, "label": str(LIGHT_LABELS[b]), "data": [r.lights[b] for r in rows]}
                for b in BUCKETS
            ],
            "axis": _("Actions"),
        },
        "ratios": {
            "keys": list(ratios),
            "labels": [str(label) for label in RATIO_CHART_LABELS.values()],
            "data": list(ratios.values()),
            "axis": _("Percentage"),
        },
    }
    totals = "; ".join(
        f"{LIGHT_LABELS[b]}: {number_format(sum(r.lights[b] for r in rows))}" for b in BUCKETS
    )
    figures = "; ".join(
        f"{label}: {'—' if ratios[key] is None else number_format(ratios[key], 1) + ' %'}"
        for key, label in RATIO_CHART_LABELS.items()
    )
    return {
        "data": data,
        "lights_label": _(
            "%(title)s: stacked bars of the actions by light of %(count)s units; in all, "
            "%(totals)s. The table below has each unit's figures."
        )
        % {"title": CHILD_TITLES.get(board.child_level, ""), "count": len(rows), "totals": totals},
        "ratios_label": _("Indicators of the month of %(unit)s, as bars: %(figures)s.")
        % {"unit": board.unit.name, "figures": figures},
    }


TEAM_DAY = ("cases_open", "cases_shared", "overdue_amount", "collected", "payments", "cured",
            "results", "visits_verified", "promises")  # fmt: skip
TEAM_MONTH = ("collected", "payments", "cured", "results")


def _teams(unit: Unit, children: list[Unit], day: date | None):
    """The internal team beside each outsourced agency in the unit, and per child
    agency or zone where an agency worked (two queries). Nothing when no outsourced
    agency worked there."""
    if day is None or unit.level == "officer":
        return [], []
    rows = TeamFigures.objects.filter(business_date__range=(day.replace(day=1), day))
    if unit.level == "agency":
        rows = rows.filter(agency_key=unit.key)
    elif unit.level == "zone":
        rows = rows.filter(agency_key__in=Agency.objects.filter(zone_id=unit.key).values("pk"))
    child = {"zone": "agency_key", "company": "zone_key"}.get(unit.level)
    if child == "zone_key":
        zone = Agency.objects.filter(pk=OuterRef("agency_key")).values("zone_id")[:1]
        rows = rows.annotate(zone_key=Subquery(zone))
    today = Q(business_date=day)
    sums = {f"day_{name}": Sum(name, filter=today) for name in TEAM_DAY}
    sums.update({f"month_{name}": Sum(name) for name in TEAM_MONTH})
    found = list(rows.values("team", *([child] if child else [])).annotate(**sums).order_by())
    if not any(values["team"] for values in found):
        return [], []
    codes = dict(
        ExternalAgency.objects.filter(pk__in={v["team"] for v in found}).values_list("pk", "code")
    )

    def team_row(where: Unit, team: int, values: dict) -> TeamRow:
        figures = {k: values.get(k) or 0 for k in sums}
        if not team:
            return TeamRow(where, INTERNAL_TEAM, _("Internal team"), figures)
        return TeamRow(where, codes.get(team, "?"), codes.get(team, "?"), figures)

    def order(team: int) -> tuple:
        return (team != 0, codes.get(team, ""))

    totals: dict[int, dict] = {}
    for values in found:
        total = totals.setdefault(values["team"], {})
        for key in sums:
            total[key] = total.get(key, 0) + (values[key] or 0)
    teams = [team_row(unit, team, totals[team]) for team in sorted(totals, key=order)]
    child_teams = []
    if child:
        by_key = {c.key: c for c in children}
        worked = {v[child] for v in found if v["team"] and v[child] in by_key}
        for values in sorted(
            (v for v in found if v[child] in worked),
            key=lambda v: (by_key[v[child]].code, *order(v["team"])),
        ):
            child_teams.append(team_row(by_key[values[child]], values["team"], values))
    return teams, child_teams


def _visits(user: AbstractBaseUser, unit: Unit, day: date) -> list[dict[str, Any]]:
    """The day's visits with a GPS point in the unit: verified (within the radius of
    the address) or off radius. The latest MAP_POINTS; the counts are in the figures."""
    visits = FieldResult.objects.filter(
        channel=FieldResult.ChannelKind.VISIT,
        occurred_at__gte=sql.start_of(day),
        occurred_at__lt=sql.end_of(day),
        lat__isnull=False,
        lon__isnull=False,
        client__in=clients_visible_to(user),
    )
    if unit.level == "agency":
        visits = visits.filter(client__agency_id=unit.key)
    elif unit.level == "zone":
        visits = visits.filter(client__agency__zone_id=unit.key)
    elif unit.level == "officer":
        visits = visits.filter(officer_id=unit.key)
    rows = visits.order_by("-occurred_at").values(
        "lat", "lon", "verified", "occurred_at", "result_code",
        "client__code", "client__name", "officer__code",
    )[:MAP_POINTS]  # fmt: skip
    return [
        {
            "lat": v["lat"], "lon": v["lon"], "ok": v["verified"],
            "code": v["client__code"], "name": v["client__name"],
            "officer": v["officer__code"] or "", "result": v["result_code"],
            "at": v["occurred_at"].astimezone(sql.LIMA).strftime("%H:%M"),
        }
        for v in rows
    ]  # fmt: skip


def _unit_sql(unit: Unit) -> tuple[str, list]:
    """A condition on the client (`cl`) and the figure's officer (`{officer}`)."""
    if unit.level == "officer":
        return "{officer} = %s", [unit.key]
    if unit.level == "agency":
        return "cl.agency_id = %s", [unit.key]
    if unit.level == "zone":
        return "cl.agency_id IN (SELECT za.id FROM portfolio_agency za WHERE za.zone_id = %s)", [
            unit.key
        ]
    return "1 = 1", []


def _light_case_ids(bucket: str, unit: Unit, day: date) -> tuple[str, list]:
    """The cases with an action counted in a semáforo bucket (lights.light_bucket)."""
    month = day.replace(day=1)
    condition = {
        "amber": "a.status IN ('queued', 'open') AND a.window_to >= %s",
        "red_pending": "a.status IN ('queued', 'open') AND a.window_to < %s",
        "green": "a.status IN ('done', 'missed') AND a.late = false AND a.window_to >= %s",
        "red_late": "a.status IN ('done', 'missed') AND a.late = true AND a.window_to >= %s",
    }[bucket]
    bound = day if bucket in ("amber", "red_pending") else month
    unit_sql, unit_params = _unit_sql(unit)
    if not sql.is_postgres():
        condition = condition.replace("= false", "= 0").replace("= true", "= 1")
    return (
        "SELECT a.case_id FROM collections_field_plannedaction a "
        "JOIN collections_field_case c ON c.id = a.case_id "
        "JOIN portfolio_client cl ON cl.id = c.client_id "
        f"WHERE a.window_from <= %s AND {condition} "
        f"AND {unit_sql.replace('{officer}', 'a.officer_id')}",
        [day, bound, *unit_params],
    )


def _team_case_ids(team: str | None, unit: Unit) -> tuple[str, list]:
    """The open cases a team works in a unit: the internal team's (an asesor holds
    them, shared or not) or an outsourced agency's (alternate or simultaneous)."""
    unit_sql, unit_params = _unit_sql(unit)
    body = (
        "SELECT c.id FROM collections_field_case c "
        "JOIN portfolio_client cl ON cl.id = c.client_id "
        "LEFT JOIN portfolio_officer o ON o.id = c.officer_id "
        f"WHERE c.status <> 'closed' AND {unit_sql.replace('{officer}', 'c.officer_id')} AND "
    )
    if not team or team == INTERNAL_TEAM:
        return body + "(c.external_agency_id IS NULL OR o.external_agency_id IS NULL)", unit_params
    return (
        body + "c.external_agency_id IN (SELECT x.id FROM portfolio_externalagency x "
        "WHERE x.code = %s)",
        [*unit_params, team],
    )


def dashboard_cases(
    *,
    user: AbstractBaseUser,
    param: str | None,
    figure: str,
    business_date: date | None = None,
    team: str | None = None,
) -> tuple[Unit, date | None, QuerySet[Case]]:
    """The cases behind one figure of a unit (drill-down), within the reader's scope."""
    if figure not in DRILLS:
        raise NotFound(_("no such figure"))
    unit = dashboard_unit(user=user, param=param)
    day = dashboard_date(business_date)
    if day is None:
        return unit, None, Case.objects.none()
    if figure == "team_cases":
        text, params = _team_case_ids(team, unit)
    elif figure in BUCKETS:
        text, params = _light_case_ids(figure, unit, day)
    else:
        version = version_on(day)
        if version is None:
            return unit, day, Case.objects.none()
        unit_sql, unit_params = _unit_sql(unit)
        text, params = figure_case_ids(
            name=figure,
            business_date=day,
            version=version,
            unit_sql=unit_sql,
            unit_params=unit_params,
        )
    return unit, day, drill_down_cases(user=user, ids_sql=text, params=params)


def drill_down_cases(*, user: AbstractBaseUser, ids_sql: str, params: list) -> QuerySet[Case]:
    """The cases whose ids a figure's SQL lists, within the reader's scope, heaviest
    first: every drill-down page (the dashboards' and other apps' panels) lists these."""
    return (
        Case.objects.filter(pk__in=RawSQL(ids_sql, params))  # our SQL; the user gives only ids
        .filter(client__in=clients_visible_to(user))
        .select_related("client", "client__agency", "officer", "external_agency")
        .order_by("-overdue_amount", "client__code")
    )


def case_row(case: Case, day: date | None) -> dict[str, Any]:
    """A drill-down line (and an export row)."""
    dpd = (day - case.overdue_since).days if day and case.overdue_since else 0
    return {
        "client_code": case.client.code,
        "client_name": case.client.name,
        "agency": case.client.agency.code if case.client.agency else "",
        "officer": case.officer.code if case.officer else "",
        # The outsourced agency working it: with its own officer (alternate), or beside
        # the asesor (simultaneous, `shared`).
        "external_agency": case.external_agency.code if case.external_agency else "",
        "shared": bool(
            case.external_agency_id and case.officer and case.officer.external_agency_id is None
        ),
        "action_code": case.action_code,
        "tramo": case.tramo,
        "status": case.status,
        "days_past_due": dpd if case.status != "closed" else 0,
        "overdue_amount": case.overdue_amount,
        "promise_date": case.promise_date,
    }
