"""Reads of the collections work, always through the reader's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_field.engine.sql import LIMA, start_of
from collections_field.exceptions import NotFound
from collections_field.models import (
    Campaign,
    CampaignClient,
    Case,
    CycleRun,
    FieldResult,
    WorklistEntry,
)
from portfolio.models import Client, Payment, Role
from portfolio.selectors import (
    COLLECTION_TO,
    clients_visible_to,
    is_collection_day,
    officers_visible_to,
    role_of,
)
from strategy.models import SuggestedAction
from strategy.selectors import active_strategy


def cases_visible_to(user: AbstractBaseUser) -> QuerySet[Case]:
    return Case.objects.filter(client__in=clients_visible_to(user))


def case_for(*, user: AbstractBaseUser, client_code: str) -> Case:
    """The client's case, if the user may see it; otherwise the same 404 as a
    missing one (an asesor learns nothing about other asesores' clients)."""
    case = (
        cases_visible_to(user)
        .select_related("client", "officer", "external_agency", "collection_address")
        .filter(client__code=client_code)
        .first()
    )
    if case is None:
        raise NotFound(f"case {client_code} not found")
    return case


def case_detail(*, user: AbstractBaseUser, client_code: str) -> dict[str, Any]:
    """The case as DOMAIN.md 7.4 `GET cases/{client_code}/` shows it."""
    case = case_for(user=user, client_code=client_code)
    address = case.collection_address
    today = current_business_date()
    overdue_days = (today - case.overdue_since).days if today and case.overdue_since else 0
    history = case.history.select_related("by").order_by("at", "seq", "id")
    return {
        "client_code": case.client.code,
        "client_name": case.client.name,
        "phone": case.client.phone,
        "credits": _credits_of(case.client_id),
        "management_type": case.management_type,
        "classification": case.classification,
        "action_code": case.action_code,
        "tramo": case.tramo,
        "visits_in_tramo": case.visits_in_tramo,
        "days_past_due": overdue_days if case.status != "closed" else 0,
        "overdue_amount": case.overdue_amount,
        "officer_code": case.officer.code if case.officer else None,
        "external_agency_code": case.external_agency.code if case.external_agency else None,
        "status": case.status,
        "promise": (
            {"date": case.promise_date, "amount": case.promise_amount}
            if case.promise_date
            else None
        ),
        "collection_address": (
            {
                "kind": address.kind,
                "text": address.text,
                "lat": address.lat,
                "lon": address.lon,
                "quadrant_code": address.quadrant.code if address.quadrant_id else None,
            }
            if address
            else None
        ),
        "history": [
            {
                "at": h.at,
                "business_date": h.business_date,
                "from": h.from_code,
                "to": h.to_code,
                "from_classification": h.from_classification,
                "to_classification": h.to_classification,
                "cause": h.cause,
                "cause_kind": h.cause_kind,
                "by": h.by.username if h.by else (h.officer_code or "system"),
                "reason": h.reason,
            }
            for h in history
        ],
        "results": [
            {
                "at": r.occurred_at,
                "result_code": r.result_code,
                "officer_code": r.officer.code if r.officer else None,
                "channel": r.channel,
                "verified": r.verified,
                "flags": r.flags,
                "promise_date": r.promise_date,
                "promise_amount": r.promise_amount,
            }
            for r in case.client.results.select_related("officer").order_by("occurred_at", "id")
        ],
        "actions": case_actions(case=case, business_date=today),
    }


def current_business_date():
    """The business date of the last finished cycle: what the lists are for."""
    return (
        CycleRun.objects.filter(status=CycleRun.Status.DONE)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )


def cycle_status(*, business_date) -> CycleRun:
    run = CycleRun.objects.filter(business_date=business_date).first()
    if run is None:
        raise NotFound(f"no cycle for {business_date}")
    return run


def override_choices(*, user: AbstractBaseUser, client_code: str) -> list[tuple[str, str]]:
    """The codes a case may be moved to by hand: every action of its type."""
    from strategy.models import SuggestedAction
    from strategy.selectors import active_strategy

    case = case_for(user=user, client_code=client_code)
    actions = SuggestedAction.objects.filter(
        version=active_strategy(), type=case.management_type
    ).order_by("classification", "tramo", "visit")
    return [(a.code, f"{a.code} · {a.message[:60]}") for a in actions]


def results_visible_to(
    user: AbstractBaseUser, *, since: datetime | None = None, promises_only: bool = False
) -> QuerySet[FieldResult]:
    """Results (or only those carrying a promise) registered since a moment, within
    the user's scope: what core banking pulls back every day."""
    results = FieldResult.objects.filter(client__in=clients_visible_to(user)).select_related(
        "client", "officer"
    )
    if since is not None:
        results = results.filter(registered_at__gte=since)
    if promises_only:
        results = results.filter(promise_date__isnull=False)
    return results


def case_list(
    *,
    user: AbstractBaseUser,
    agency: str | None = None,
    officer: str | None = None,
    management_type: str | None = None,
    tramo: int | None = None,
    classification: str | None = None,
    status: str | None = None,
) -> QuerySet[Case]:
    """Cases within the user's scope, filtered as the list endpoint and pages ask."""
    cases = cases_visible_to(user).select_related("client", "officer", "external_agency")
    if agency:
        cases = cases.filter(client__agency__code=agency)
    if officer:
        cases = cases.filter(officer__code=officer)
    if management_type:
        cases = cases.filter(management_type=management_type)
    if tramo is not None:
        cases = cases.filter(tramo=tramo)
    if classification:
        cases = cases.filter(classification=classification)
    if status:
        cases = cases.filter(status=status)
    return cases


# --- Daily lists (hoja de ruta) -----------------------------------------------------


@dataclass(frozen=True)
class WorklistRow:
    """One client of an officer's day, with what to do there and how it is going."""

    position: int
    client_code: str
    client_name: str
    reason: str
    campaign_code: str | None
    action_code: str
    where: str
    whom: str
    instrument: str
    message: str
    tramo: int
    quadrant_code: str | None
    amount: Decimal
    days_past_due: int
    phones: tuple[str, ...]
    address_text: str | None
    lat: float | None
    lon: float | None
    light: str


def worklist_for(*, user: AbstractBaseUser, officer_code: str, business_date: date) -> list:
    """An officer's list for a date, in order, if the user may see that officer (else
    the same 404 as for an unknown one). A fixed number of queries for any length.

    light: green once a visit or call result for the client is registered at or
    after the start of the date (Lima); red when not done and the day is over (a
    past date, or today after the allowed hours); amber otherwise.
    """
    officer = officers_visible_to(user).filter(code=officer_code).first()
    if officer is None:
        raise NotFound(_("officer %(code)s not found") % {"code": officer_code})
    if not is_collection_day(business_date):
        return []
    done = FieldResult.objects.filter(
        client_id=OuterRef("client_id"),
        channel__in=(FieldResult.ChannelKind.VISIT, FieldResult.ChannelKind.CALL),
        occurred_at__gte=start_of(business_date),
    )
    entries = list(
        WorklistEntry.objects.filter(business_date=business_date, officer=officer)
        .select_related("client", "quadrant", "campaign", "case__collection_address")
        .annotate(done=Exists(done))
        .order_by("position")
    )
    if not entries:
        return []
    actions = {
        (a.type, a.code): a
        for a in SuggestedAction.objects.filter(
            version=active_strategy(), code__in={e.action_code for e in entries}
        )
    }
    now = timezone.now().astimezone(LIMA)
    over = business_date < now.date() or (
        business_date == now.date() and now.time() >= COLLECTION_TO
    )
    rows = []
    for e in entries:
        action = actions.get((e.management_type, e.action_code))
        address = e.case.collection_address
        rows.append(
            WorklistRow(
                position=e.position,
                client_code=e.client.code,
                client_name=e.client.name,
                reason=e.reason,
                campaign_code=e.campaign.code if e.campaign else None,
                action_code=e.action_code,
                where=action.where if action else "",
                whom=action.whom if action else "",
                instrument=action.instrument if action else "",
                message=action.message if action else "",
                tramo=e.tramo,
                quadrant_code=e.quadrant.code if e.quadrant else None,
                amount=e.amount,
                days_past_due=e.days_past_due,
                phones=(e.client.phone,) if e.client.phone else (),
                address_text=address.text if address else None,
                lat=address.lat if address else None,
                lon=address.lon if address else None,
                light="green" if e.done else "red" if over else "amber",
            )
        )
    return rows


# --- Campaigns ----------------------------------------------------------------------


def campaigns_visible_to(user: AbstractBaseUser) -> QuerySet[Campaign]:
    """The jefes see their agency's campaigns (a zone's agencies for the jefe zonal)
    and the company-wide ones; the gerente and core banking all; nobody else any."""
    role = role_of(user)
    campaigns = Campaign.objects.all()
    if role in (Role.GERENTE, Role.SERVICIO):
        return campaigns
    member = getattr(user, "staff_member", None)
    if role == Role.JEFE_ZONAL:
        return campaigns.filter(Q(agency__isnull=True) | Q(agency__zone_id=member.zone_id))
    if role == Role.JEFE_AGENCIA:
        return campaigns.filter(Q(agency__isnull=True) | Q(agency_id=member.agency_id))
    return campaigns.none()


@dataclass(frozen=True)
class CampaignReport:
    """A campaign's figures, counted over the clients the reader may see.

    targeted: clients of its uploaded list, or that matched its segment on one of
    its days; listed: those put on a list for it; visited: targeted clients with a
    visit or call result during its days; promised: with a payment promise made
    during its days; paid: with a payment of core banking from its first day on.
    """

    code: str
    name: str
    date_from: date
    date_to: date
    team: str
    agency_code: str | None
    by_list: bool
    clients_targeted: int
    clients_listed: int
    clients_visited: int
    clients_promised: int
    clients_paid: int


def campaign_report(*, user: AbstractBaseUser, code: str) -> CampaignReport:
    campaign = campaigns_visible_to(user).select_related("team", "agency").filter(code=code).first()
    if campaign is None:
        raise NotFound(_("campaign %(code)s not found") % {"code": code})
    start = start_of(campaign.date_from)
    end = start_of(min(campaign.date_to, date.max - timedelta(days=1)) + timedelta(days=1))
    targeted = CampaignClient.objects.filter(
        campaign=campaign, client__in=clients_visible_to(user)
    ).values("client_id")
    contacts = FieldResult.objects.filter(
        client_id=OuterRef("pk"), occurred_at__gte=start, occurred_at__lt=end
    )
    figures = Client.objects.filter(pk__in=targeted).aggregate(
        targeted=Count("pk"),
        listed=Count(
            "pk",
            filter=Exists(
                WorklistEntry.objects.filter(
                    campaign=campaign, reason="campaign", client_id=OuterRef("pk")
                )
            ),
        ),
        visited=Count(
            "pk",
            filter=Exists(
                contacts.filter(
                    channel__in=(FieldResult.ChannelKind.VISIT, FieldResult.ChannelKind.CALL)
                )
            ),
        ),
        promised=Count("pk", filter=Exists(contacts.filter(promise_date__isnull=False))),
        paid=Count(
            "pk",
            filter=Exists(
                Payment.objects.filter(credit__client_id=OuterRef("pk"), paid_at__gte=start)
            ),
        ),
    )
    return CampaignReport(
        code=campaign.code,
        name=campaign.name,
        date_from=campaign.date_from,
        date_to=campaign.date_to,
        team=campaign.team.code if campaign.team else "internal",
        agency_code=campaign.agency.code if campaign.agency else None,
        by_list=campaign.by_list,
        clients_targeted=figures["targeted"],
        clients_listed=figures["listed"],
        clients_visited=figures["visited"],
        clients_promised=figures["promised"],
        clients_paid=figures["paid"],
    )


def _credits_of(client_id: int) -> list[dict[str, Any]]:
    """The client's credits in the portfolio, with their latest position."""
    from portfolio.models import Credit, CreditPosition
    from portfolio.selectors import latest_business_date

    # Positions are found by their primary key (date, credit): the table has no
    # client index, and one would cost every night's import more than it saves.
    credits = list(
        Credit.objects.filter(client_id=client_id, left_on__isnull=True).order_by("code")
    )
    positions = {
        p.credit_id: p
        for p in CreditPosition.objects.filter(
            business_date=latest_business_date(), credit_id__in=[c.id for c in credits]
        )
    }
    rows = []
    for credit in credits:
        position = positions.get(credit.id)
        rows.append(
            {
                "code": credit.code,
                "product": credit.product,
                "currency": credit.currency,
                "principal_balance": position.principal_balance if position else None,
                "overdue_amount": position.overdue_amount if position else None,
                "overdue_installments": position.overdue_installments if position else None,
                "total_installments": position.total_installments if position else None,
                "days_past_due": position.days_past_due if position else None,
                "next_due_date": position.next_due_date if position else None,
            }
        )
    return rows


def case_timeline(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Suggested versus done (thesis 5.2.10): the moves of the suggested action and
    the results registered, in the order they happened, each with who."""
    moves = [{"kind": "move", **h} for h in detail["history"]]
    done = [{"kind": "result", **r} for r in detail["results"]]
    return sorted(moves + done, key=lambda item: item["at"], reverse=True)


def result_codes_for(*, user: AbstractBaseUser, client_code: str):
    """The result codes an officer may register for this client: its type's."""
    from strategy.models import ResultCode
    from strategy.selectors import active_strategy

    case = case_for(user=user, client_code=client_code)
    return list(
        ResultCode.objects.filter(version=active_strategy(), type=case.management_type).order_by(
            "code"
        )
    )


def client_search(*, user: AbstractBaseUser, query: str, limit: int = 30) -> list[dict[str, Any]]:
    """Among the clients the user may see: by code, document or part of the name."""
    from django.db.models import Q

    query = query.strip()
    if len(query) < 2:
        return []
    cases = (
        cases_visible_to(user)
        .filter(
            Q(client__code__iexact=query)
            | Q(client__document_id=query)
            | Q(client__name__icontains=query)
        )
        .select_related("client", "officer")
        .order_by("client__name")[:limit]
    )
    return [
        {
            "client_code": c.client.code,
            "client_name": c.client.name,
            "action_code": c.action_code,
            "tramo": c.tramo,
            "status": c.status,
            "officer_code": c.officer.code if c.officer else None,
        }
        for c in cases
    ]


def case_actions(*, case: Case, business_date) -> list[dict[str, Any]]:
    """The current tramo's plan items with their dates (DOMAIN.md 7.4 `actions[...]`):
    the case's latest action of each item, or, before its window opens, the dates it
    will have if the days past due keep running (light null)."""
    from datetime import timedelta

    from collections_field.engine.escalation import version_on
    from collections_field.engine.lights import light_bucket, light_of
    from collections_field.models import PlannedAction
    from strategy.models import ActionPlanItem

    if case.status == "closed":
        return []
    version = version_on(business_date) if business_date else None
    items = ActionPlanItem.objects.filter(
        version=version, type=case.management_type, tramo=case.tramo
    ).order_by("order")
    latest: dict[int, PlannedAction] = {}
    planned = PlannedAction.objects.filter(
        case=case, type=case.management_type, tramo=case.tramo
    ).exclude(status=PlannedAction.Status.CANCELLED)
    for action in planned.order_by("window_from", "id"):
        latest[action.order] = action
    rows = []
    for item in items:
        action = latest.get(item.order)
        if action is not None:
            bucket = light_bucket(
                status=action.status, window_from=action.window_from,
                window_to=action.window_to, late=action.late, day=business_date,
            )  # fmt: skip
            rows.append(
                {
                    "order": item.order, "channel": action.channel, "manual": action.manual,
                    "window_from": action.window_from, "window_to": action.window_to,
                    "done_at": action.done_at, "status": action.status, "id": action.pk,
                    "light": light_of(bucket) if bucket else light_of(_closed(action)),
                }
            )  # fmt: skip
            continue
        since = case.overdue_since
        rows.append(
            {
                "order": item.order, "channel": item.channel, "manual": item.manual,
                "window_from": since + timedelta(days=item.from_day) if since else None,
                "window_to": since + timedelta(days=item.to_day) if since else None,
                "done_at": None, "status": None, "id": None, "light": None,
            }
        )  # fmt: skip
    return rows


def _closed(action) -> str | None:
    """An action closed in an earlier month still shows how it ended."""
    if action.status in ("done", "missed"):
        return "red_late" if action.late else "green"
    return None


def case_lights(*, case_ids: list[int], business_date) -> dict[int, str]:
    """Each case's light: the worst of its pending actions (red when one is past its
    window, else amber); green when nothing is pending; absent before any action."""
    from django.db.models import Min, Q

    from collections_field.models import PlannedAction

    pending = Q(status__in=("queued", "open"), window_from__lte=business_date)
    rows = (
        PlannedAction.objects.filter(case_id__in=case_ids)
        .exclude(status="cancelled")
        .values("case_id")
        .order_by()
        .annotate(oldest=Min("window_to", filter=pending))
    )
    lights = {}
    for row in rows:
        if row["oldest"] is None:
            lights[row["case_id"]] = "green"
        else:
            lights[row["case_id"]] = "red" if row["oldest"] < business_date else "amber"
    return lights


def escalations_for(*, user: AbstractBaseUser, business_date=None, level: int | None = None):
    """The escalated actions the user may see on a date (default: the current business
    date), at one level or at all: (day, levels, queryset oldest first)."""
    from collections_field.engine.escalation import (
        escalated_actions,
        escalation_levels,
        version_on,
    )

    day = business_date or current_business_date()
    if day is None:
        from collections_field.models import PlannedAction

        return None, [], PlannedAction.objects.none()
    levels = escalation_levels(version_on(day))
    actions = escalated_actions(business_date=day, levels=levels, level=level)
    agencies = _agencies_of(user)
    if agencies is not None:
        # By index first (the action's copy of its client's agency; none on rows made
        # outside the plan step), then the reader's scope, which alone decides.
        actions = actions.filter(Q(agency__in=agencies) | Q(agency__isnull=True))
    actions = (
        actions.filter(case__client__in=clients_visible_to(user))
        .select_related("case__client__agency", "officer")
        .order_by("window_to", "id")
    )
    return day, levels, actions


def _agencies_of(user: AbstractBaseUser) -> list[int] | None:
    """The agencies a jefe's scope is, as a list (constants let PostgreSQL use the
    index for them and for the rows without a copy together); None for any other
    reader, whose scope is not a set of agencies (the company, an asesor's or an
    outsourced agency's own cases)."""
    from portfolio.models import Agency

    role = role_of(user)
    member = getattr(user, "staff_member", None)
    if role == Role.JEFE_ZONAL and member is not None:
        return list(Agency.objects.filter(zone_id=member.zone_id).values_list("id", flat=True))
    if role == Role.JEFE_AGENCIA and member is not None:
        return [member.agency_id] if member.agency_id else []
    return None


def escalation_row(action, *, day, levels) -> dict[str, Any]:
    """One line of an inbox (DOMAIN.md 7.4 `escalations/`)."""
    from collections_field.engine.escalation import level_for

    days_red = (day - action.window_to).days
    return {
        "id": action.pk,
        "client_code": action.case.client.code,
        "client_name": action.case.client.name,
        "channel": action.channel,
        "manual": action.manual,
        "window_from": action.window_from,
        "window_to": action.window_to,
        "officer_code": action.officer.code if action.officer else None,
        "agency_code": action.case.client.agency.code if action.case.client.agency else None,
        "agency_id": action.case.client.agency_id,
        "level": level_for(days_red, levels),
        "days_red": days_red,
    }


def light_summary_for(*, user: AbstractBaseUser, business_date=None) -> dict[str, Any] | None:
    """The semáforo counts of the user's own subtree (officer, agency, zone or the
    company), read from the summary the cycle keeps: no page counts the portfolio."""
    from collections_field.engine.lights import latest_summary_date
    from collections_field.models import LightSummary
    from portfolio.models import Role
    from portfolio.selectors import role_of

    day = business_date or latest_summary_date()
    if day is None:
        return None
    role = role_of(user)
    member = getattr(user, "staff_member", None)
    if role in (Role.GERENTE, Role.SERVICIO):
        level, key = LightSummary.Level.COMPANY, 0
    elif role == Role.JEFE_ZONAL and member and member.zone_id:
        level, key = LightSummary.Level.ZONE, member.zone_id
    elif role == Role.JEFE_AGENCIA and member and member.agency_id:
        level, key = LightSummary.Level.AGENCY, member.agency_id
    elif getattr(user, "officer", None) is not None:
        level, key = LightSummary.Level.OFFICER, user.officer.pk
    else:
        return None
    row = LightSummary.objects.filter(business_date=day, level=level, key=key).first()
    counts = {b: getattr(row, b, 0) for b in ("green", "amber", "red_pending", "red_late")}
    return {"business_date": day, "level": level, **counts}
