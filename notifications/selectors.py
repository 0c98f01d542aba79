"""Reads of the outbox, always through the reader's scope (portfolio's selectors)."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from collections_field.dashboards import Unit, dashboard_date, dashboard_unit, drill_down_cases
from collections_field.models import Case
from notifications.models import ChannelFigures, InboundMessage, MessageEvent, OutgoingMessage
from notifications.productivity import CHANNELS, FIGURES, channel_case_ids
from portfolio.exceptions import NotFound
from portfolio.models import Client
from portfolio.selectors import clients_visible_to


def messages_for(*, user: AbstractBaseUser, client_code: str) -> QuerySet[OutgoingMessage]:
    """A client's outgoing messages with every status change, oldest first. A client
    outside the reader's scope is not found (the two are not told apart)."""
    client_id = (
        clients_visible_to(user).filter(code=client_code).values_list("pk", flat=True).first()
    )
    if client_id is None:
        raise NotFound(_("no client with that code"))
    return (
        OutgoingMessage.objects.filter(case__client_id=client_id)
        .prefetch_related(Prefetch("events", queryset=MessageEvent.objects.order_by("at", "id")))
        .order_by("created_at", "id")
    )


# --- msgs: templates and letters -------------------------------------------------------


def template_channels() -> dict[str, str]:
    """Written templates, name → channel (the strategy validator's warnings)."""
    from notifications.models import MessageTemplate

    return dict(MessageTemplate.objects.values_list("name", "channel"))


def templates_for(*, user: AbstractBaseUser):
    """The templates, for the gerente (the risk manager edits them); anyone else is
    told there is nothing here, as for any page outside one's role."""
    from notifications.models import MessageTemplate
    from portfolio.models import Role
    from portfolio.selectors import role_of

    if role_of(user) != Role.GERENTE:
        raise NotFound(_("no templates for this user"))
    return MessageTemplate.objects.select_related("updated_by").order_by("channel", "name")


def letters_for(*, user: AbstractBaseUser, agency_code: str, business_date):
    """(agency, its batch of the date or None, the letters of that batch the user may
    see). An agency outside the scope, in which the user sees no letter either, is
    not found (the same answer as a missing one)."""
    from notifications.models import Letter, LetterBatch
    from portfolio.models import Agency
    from portfolio.selectors import agencies_visible_to

    agency = Agency.objects.filter(code=agency_code).first()
    letters = Letter.objects.none()
    if agency is not None:
        letters = Letter.objects.filter(
            agency=agency,
            business_date=business_date,
            case__client__in=clients_visible_to(user),
        )
    if agency is None or (
        not agencies_visible_to(user).filter(pk=agency.pk).exists() and not letters.exists()
    ):
        raise NotFound(_("no agency with that code"))
    batch = LetterBatch.objects.filter(agency=agency, business_date=business_date).first()
    rows = list(
        letters.select_related("case__client", "officer", "delivered_by", "action").order_by(
            "first_page", "officer__code", "case__client__code", "id"
        )
    )
    return agency, batch, rows


def letters_pdf_for(*, user: AbstractBaseUser, agency_code: str, business_date) -> bytes:
    """The agency's printable letters of the date as one PDF: the batch file when the
    user may see every letter in it (a jefe, the gerente), else the user's own letters
    rendered again from the same HTML (an asesor, an external agency)."""
    from notifications.letters import letters_pdf
    from notifications.models import Letter

    agency, batch, letters = letters_for(
        user=user, agency_code=agency_code, business_date=business_date
    )
    printable = [
        letter
        for letter in letters
        if batch is not None
        and letter.batch_id == batch.pk
        and letter.status in (Letter.Status.READY, Letter.Status.DELIVERED)
    ]
    if not printable or not batch.file:
        raise NotFound(
            _("no printed letters of agency %(agency)s on %(date)s")
            % {"agency": agency.code, "date": business_date.isoformat()}
        )
    if len(printable) == batch.letters:
        with batch.file.open("rb") as pdf:
            return pdf.read()
    ordered = sorted(printable, key=lambda letter: letter.first_page or 0)
    return letters_pdf((letter.action_id, letter.html) for letter in ordered)[0]


# --- The client's messages page (gate decisions and replies on the case) -----------------


@dataclass
class CaseMessages:
    client: Client
    messages: list[OutgoingMessage]  # newest first, each with its events (oldest first)
    replies: list[InboundMessage]  # newest first
    letters: list  # printed letters, newest first (their gate decision is the build's)


def case_messages_for(*, user: AbstractBaseUser, client_code: str) -> CaseMessages:
    """A client's outgoing messages with their gate decisions and status changes, and
    the messages the client sent us, within the reader's scope (the client page's): a
    client outside it is not found."""
    client = clients_visible_to(user).filter(code=client_code).first()
    if client is None:
        raise NotFound(_("no client with that code"))
    messages = list(
        OutgoingMessage.objects.filter(case__client_id=client.pk)
        .prefetch_related(Prefetch("events", queryset=MessageEvent.objects.order_by("at", "id")))
        .order_by("-created_at", "-id")
    )
    replies = list(
        InboundMessage.objects.filter(client_id=client.pk).order_by("-received_at", "-id")
    )
    from notifications.models import Letter

    letters = list(
        Letter.objects.filter(case__client_id=client.pk)
        .select_related("delivered_by")
        .order_by("-business_date", "-id")
    )
    return CaseMessages(client=client, messages=messages, replies=replies, letters=letters)


def case_message_counts(*, client_code: str) -> dict[str, int]:
    """Messages (blocked among them) and replies of a client the caller already may see
    (the client page's link)."""
    counts = OutgoingMessage.objects.filter(case__client__code=client_code).aggregate(
        messages=Count("pk"), blocked=Count("pk", filter=Q(status=OutgoingMessage.Status.BLOCKED))
    )
    counts["replies"] = InboundMessage.objects.filter(client__code=client_code).count()
    return counts


# --- Productivity per channel (the dashboards' panel, its export and drill-downs) --------


@dataclass
class ChannelRow:
    channel: str
    day: dict[str, int] = field(default_factory=dict)
    month: dict[str, int] = field(default_factory=dict)
    day_reasons: dict[str, int] = field(default_factory=dict)
    month_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Productivity:
    unit: Unit
    business_date: date | None
    rows: list[ChannelRow]
    refreshed_at: datetime | None = None


def channel_figures_of(*, unit: Unit, business_date: date | None) -> Productivity:
    """A unit's productivity per channel on a business date and over its month so far,
    from the `ChannelFigures` rows (one query). `unit` comes from `dashboard_unit`, so
    it is already within the reader's part of the organisation."""
    if business_date is None:
        return Productivity(unit=unit, business_date=None, rows=[])
    found = ChannelFigures.objects.filter(
        level=unit.level,
        key=unit.key,
        business_date__gte=business_date.replace(day=1),
        business_date__lte=business_date,
    )
    by_channel: dict[str, ChannelRow] = {}
    refreshed_at = None
    for f in found:
        row = by_channel.setdefault(
            f.channel, ChannelRow(f.channel, dict.fromkeys(FIGURES, 0), dict.fromkeys(FIGURES, 0))
        )
        periods = [(row.month, row.month_reasons)]
        if f.business_date == business_date:
            periods.append((row.day, row.day_reasons))
        for figures, reasons in periods:
            for name in FIGURES:
                figures[name] += getattr(f, name)
            for reason, n in (f.blocked_reasons or {}).items():
                reasons[reason] = reasons.get(reason, 0) + n
        refreshed_at = max(filter(None, (refreshed_at, f.refreshed_at)), default=None)
    order = {c: i for i, c in enumerate(CHANNELS)}
    rows = sorted(by_channel.values(), key=lambda r: (order.get(r.channel, len(order)), r.channel))
    return Productivity(
        unit=unit, business_date=business_date, rows=rows, refreshed_at=refreshed_at
    )


def productivity_for(
    *, user: AbstractBaseUser, param: str | None = None, business_date: date | None = None
) -> Productivity:
    """The reader's unit (as its dashboard: its own by default) and its productivity."""
    unit = dashboard_unit(user=user, param=param)
    return channel_figures_of(unit=unit, business_date=dashboard_date(business_date))


PERIODS = ("day", "month")


def _unit_items_sql(unit: Unit) -> tuple[str, list]:
    """A condition on a productivity item's officer (`x.officer_id`) and agency."""
    if unit.level == "officer":
        return "x.officer_id = %s", [unit.key]
    if unit.level == "agency":
        return "x.agency_id = %s", [unit.key]
    if unit.level == "zone":
        return "x.agency_id IN (SELECT za.id FROM portfolio_agency za WHERE za.zone_id = %s)", [
            unit.key
        ]
    return "1 = 1", []


def productivity_cases(
    *,
    user: AbstractBaseUser,
    param: str | None,
    channel: str,
    figure: str,
    period: str,
    business_date: date | None = None,
    reason: str | None = None,
) -> tuple[Unit, date | None, QuerySet[Case]]:
    """The cases behind one figure of a channel in a unit, on the day or over the month
    to date (drill-down), listed with the SQL the refresh counted, within the scope."""
    if channel not in CHANNELS or figure not in FIGURES or period not in PERIODS:
        raise NotFound(_("no such figure"))
    if reason is not None and figure != "blocked":
        raise NotFound(_("no such figure"))
    unit = dashboard_unit(user=user, param=param)
    day = dashboard_date(business_date)
    if day is None:
        return unit, None, Case.objects.none()
    unit_sql, unit_params = _unit_items_sql(unit)
    text, params = channel_case_ids(
        metric=figure,
        since=day.replace(day=1) if period == "month" else day,
        until=day,
        channel=channel,
        unit_sql=unit_sql,
        unit_params=unit_params,
        reason=reason,
    )
    return unit, day, drill_down_cases(user=user, ids_sql=text, params=params)
