"""Links of the dashboards: a figure's drill-down and a child unit's own page."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.formats import number_format

register = template.Library()


def _query(**values) -> str:
    return urlencode({k: v for k, v in values.items() if v})


@register.simple_tag
def drill(unit, figure: str, day=None) -> str:
    """The cases behind `figure` of `unit` on `day`."""
    return (
        reverse("dashboard-cases")
        + "?"
        + _query(unit=unit.param, figure=figure, date=day.isoformat() if day else "")
    )


@register.simple_tag
def team_drill(unit, team: str, day=None) -> str:
    """The open cases a team (internal, or an outsourced agency's code) works in `unit`."""
    return (
        reverse("dashboard-cases")
        + "?"
        + _query(
            unit=unit.param, figure="team_cases", team=team, date=day.isoformat() if day else ""
        )
    )


@register.simple_tag
def unit_link(unit, day=None) -> str:
    """A zone's or agency's dashboard; an officer's list of the day."""
    when = day.isoformat() if day else ""
    if unit.level == "officer":
        return reverse("worklist") + "?" + _query(officer=unit.code, date=when)
    return reverse("dashboard") + "?" + _query(unit=unit.param, date=when)


@register.simple_tag
def export_link(query: str, fmt: str) -> str:
    return f"?{query}&format={fmt}"


@register.filter
def pct(value) -> str:
    """A percentage in the reader's number format (es-PE: 12,5 %)."""
    return "—" if value is None else f"{number_format(value, 1)} %"
