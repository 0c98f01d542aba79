"""Reads of the collections work, always through the reader's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from collections_field.exceptions import NotFound
from collections_field.models import Case, CycleRun, FieldResult
from portfolio.selectors import clients_visible_to


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


def _credits_of(client_id: int) -> list[dict[str, Any]]:
    """The client's credits in the portfolio, with their latest position."""
    from portfolio.models import Credit, CreditPosition

    day = (
        CreditPosition.objects.filter(client_id=client_id)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )
    positions = {
        p.credit_id: p
        for p in CreditPosition.objects.filter(business_date=day, client_id=client_id)
    }
    credits = Credit.objects.filter(client_id=client_id, left_on__isnull=True).order_by("code")
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
                    "done_at": action.done_at, "status": action.status,
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
                "done_at": None, "status": None, "light": None,
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
    actions = (
        escalated_actions(business_date=day, levels=levels, level=level)
        .filter(case__client__in=clients_visible_to(user))
        .select_related("case__client__agency", "officer")
        .order_by("window_to", "id")
    )
    return day, levels, actions


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
