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
        "actions": [],  # the current tramo's plan items arrive with the action-plan step
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
