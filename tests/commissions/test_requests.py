"""Refinancing requests: the requester's limits, the jefe's approval, the audit, the
role scope and core banking's pull of the approved ones."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from collections_field.engine.sql import LIMA
from collections_field.models import PlannedAction
from commissions.models import RefinancingRequest
from commissions.refinancing.services import (
    AlreadyDecided,
    StaleSimulation,
    refinancing_request_approve,
    refinancing_request_create,
    refinancing_request_reject,
)
from portfolio.exceptions import InvalidInput, NotFound, PermissionDenied
from tests.support import api_as, person

pytestmark = pytest.mark.django_db

URL = "/api/v1/refinancing/requests/"
INPUTS = {
    "credit_code": "CR1",
    "product": "REF1",
    "term_months": 12,
    "down_payment": "400.00",
    "first_due_date": "2026-11-20",
}


def request_as(username: str, credit_code: str = "CR1", **extra) -> RefinancingRequest:
    values = {**INPUTS, "credit_code": credit_code, "reason": "Perdió su puesto", **extra}
    values["down_payment"] = Decimal(values["down_payment"])
    values["first_due_date"] = date.fromisoformat(values["first_due_date"])
    if credit_code == "CR5":
        values.update(product="REF2", down_payment=Decimal("1200.00"))
    return refinancing_request_create(user=person(username), **values)


def test_an_asesor_requests_and_the_jefe_approves(refi):
    request = request_as("rquispe")
    assert request.status == RefinancingRequest.Status.PENDING
    # Recorded with the simulation it came from: inputs and results.
    assert (request.product_code, request.term_months, request.principal) == (
        "REF1", 12, Decimal("2850.50")
    )  # fmt: skip
    assert request.simulation["installment"] == str(request.installment)
    assert len(request.simulation["schedule"]) == 12
    assert request.simulation["schedule"][0]["due_date"] == "2026-11-20"
    assert (request.business_date, request.principal_balance) == (
        date(2026, 11, 2), Decimal("3200.50")
    )  # fmt: skip

    # An asesor never approves, not even its own request.
    with pytest.raises(PermissionDenied):
        refinancing_request_approve(user=person("rquispe"), request_id=request.pk)
    approved = refinancing_request_approve(user=person("jcastro"), request_id=request.pk)
    assert approved.status == RefinancingRequest.Status.APPROVED
    assert approved.decided_by == person("jcastro")
    # Audited: who, when, before and after.
    trail = list(approved.history.order_by("history_date", "history_id"))
    assert [(h.status, h.history_user.username) for h in trail] == [
        ("pending", "rquispe"), ("approved", "jcastro")
    ]  # fmt: skip
    assert trail[1].history_change_reason == "approved"
    delta = trail[1].diff_against(trail[0])
    assert {c.field: (c.old, c.new) for c in delta.changes}["status"] == ("pending", "approved")
    # And in the gerente's audit trail, with the other audited models.
    gerente = Client()
    gerente.force_login(person("gerencia"))
    page = gerente.get("/audit/", {"model": "commissions.refinancingrequest"}).content.decode()
    assert "jcastro" in page and "pending → approved" in page
    # Decided once.
    with pytest.raises(AlreadyDecided):
        refinancing_request_reject(user=person("jcastro"), request_id=request.pk, note="no")
    assert RefinancingRequest.objects.get(pk=request.pk).status == "approved"


def test_within_the_requesters_limits_it_is_approved_at_once(refi):
    request = request_as("jcastro")
    assert request.status == RefinancingRequest.Status.APPROVED
    assert (request.requested_by, request.decided_by) == (person("jcastro"),) * 2
    assert request.history.get().history_change_reason.startswith("requested and approved")


def test_rejection_needs_a_note_and_a_second_request_waits(refi):
    request = request_as("rquispe")
    with pytest.raises(InvalidInput) as info:
        request_as("rquispe")
    assert info.value.field == "credit_code"  # one pending request per credit
    with pytest.raises(InvalidInput) as info:
        refinancing_request_reject(user=person("jcastro"), request_id=request.pk, note=" ")
    assert info.value.field == "note"
    rejected = refinancing_request_reject(
        user=person("jcastro"), request_id=request.pk, note="Cuota muy alta para su flujo"
    )
    assert (rejected.status, rejected.decision_note) == ("rejected", "Cuota muy alta para su flujo")
    assert request_as("rquispe", term_months=24).status == "pending"  # a new one may follow
    with pytest.raises(InvalidInput) as info:
        request_as("rquispe", reason="")
    assert info.value.field == "reason"


def test_who_may_request_and_decide(refi):
    # Juan's client belongs to another agency: 404 for Rosa and for Castro.
    with pytest.raises(NotFound):
        request_as("rquispe", credit_code="CR2")
    juan = request_as("jmamani", credit_code="CR2")
    with pytest.raises(NotFound):
        refinancing_request_approve(user=person("jcastro"), request_id=juan.pk)
    # The jefe zonal of Z1 does not see AG02 either; the gerente sees all.
    with pytest.raises(NotFound):
        refinancing_request_approve(user=person("mflores"), request_id=juan.pk)
    assert refinancing_request_approve(user=person("gerencia"), request_id=juan.pk).status == (
        "approved"
    )


def test_the_request_does_the_refinancing_offer_of_the_plan(refi):
    # C5 (tramo 4 of type A, 100 days late) has the plan's refinancing offer open.
    offer = PlannedAction.objects.filter(case__client__code="C5", channel="refinancing_offer")
    assert offer.filter(status="open").exists()
    at = datetime(2026, 11, 2, 11, 0, tzinfo=LIMA)
    request_as("rquispe", credit_code="CR5", at=at)
    assert offer.filter(status="done", done_at=at).exists()


@pytest.mark.django_db(transaction=True)
def test_a_stale_simulation_is_not_approved(refi):
    from .conftest import refinancing_rows

    request = request_as("rquispe")
    rows = refinancing_rows()
    rows[0]["principal_balance"] = "3050.50"  # a payment came in
    refi.snapshot(2, rows)
    with pytest.raises(StaleSimulation):
        refinancing_request_approve(user=person("jcastro"), request_id=request.pk)
    assert RefinancingRequest.objects.get(pk=request.pk).status == "pending"


# --- The API -----------------------------------------------------------------------------


def test_the_api_requests_decides_and_core_banking_pulls(refi):
    rosa = api_as("rquispe", ["refinancing:write", "refinancing:read"])
    answer = rosa.post(URL, {**INPUTS, "reason": "Negocio cerrado un mes"}, format="json")
    assert answer.status_code == 201, answer.json()
    pending = answer.json()
    assert (pending["status"], pending["credit_code"], pending["principal"]) == (
        "pending", "CR1", "2850.50"
    )  # fmt: skip
    assert len(pending["simulation"]["schedule"]) == 12
    # Rosa cannot approve; a token without the write scope cannot either.
    approve = f"{URL}{pending['id']}/approve/"
    assert rosa.post(approve, {}, format="json").status_code == 403
    reader = api_as("jcastro", ["refinancing:read"])
    assert reader.post(approve, {}, format="json").status_code == 403
    jefe = api_as("jcastro", ["refinancing:write"])
    assert jefe.post(f"{URL}999999/approve/", {}, format="json").status_code == 404
    answer = jefe.post(approve, {"note": "Visto en comité"}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "approved"
    again = jefe.post(approve, {}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "already_decided"
    # A rejection without a note names the field.
    cr5 = {**INPUTS, "credit_code": "CR5", "product": "REF2", "down_payment": "1200.00"}
    other = rosa.post(URL, {**cr5, "reason": "x"}, format="json").json()
    refused = jefe.post(f"{URL}{other['id']}/reject/", {}, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "note"

    # Core banking reads the approved ones (only those), scope refinancing:read.
    bank = api_as("core", ["refinancing:read"])
    pulled = bank.get(URL).json()
    assert [r["id"] for r in pulled["results"]] == [pending["id"]]
    assert pulled["results"][0]["simulation"]["installment"] == pending["installment"]
    assert api_as("core2", ["results:read"]).get(URL).status_code == 403
    # A service account books; it does not request.
    assert bank.post(URL, {**INPUTS, "reason": "x"}, format="json").status_code == 403


def test_the_pull_is_in_approval_order_with_cursor_pages(refi):
    jefe, gerente = person("jcastro"), person("gerencia")
    first = datetime(2026, 11, 2, 9, 0, tzinfo=LIMA)
    late = request_as("rquispe")  # requested first, approved last
    early = request_as("rquispe", credit_code="CR5")
    juan = request_as("jmamani", credit_code="CR2")
    refinancing_request_approve(user=jefe, request_id=early.pk, at=first)
    refinancing_request_approve(user=gerente, request_id=juan.pk, at=first + timedelta(hours=1))
    refinancing_request_approve(user=jefe, request_id=late.pk, at=first + timedelta(hours=2))
    bank = api_as("core", ["refinancing:read"])
    seen, url = [], f"{URL}?page_size=2"
    while url:
        page = bank.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert seen == [early.pk, juan.pk, late.pk]
    since = (first + timedelta(minutes=30)).isoformat()
    assert [r["id"] for r in bank.get(URL, {"since": since}).json()["results"]] == [
        juan.pk, late.pk
    ]  # fmt: skip
    bad = bank.get(URL, {"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["field"] == "since"
    # Scoped by role: Castro (AG01) reads his agency's only.
    castro = api_as("jcastro", ["refinancing:read"]).get(URL).json()
    assert [r["id"] for r in castro["results"]] == [early.pk, late.pk]
    assert api_as("jcastro", ["refinancing:read"]).get(f"{URL}{juan.pk}/").status_code == 404


def test_the_jefes_pages(refi):
    request = request_as("rquispe")
    jefe = Client()
    jefe.force_login(person("jcastro"))
    inbox = jefe.get("/refinancing/requests/").content.decode()
    assert f'data-request="{request.pk}"' in inbox
    page = jefe.get(f"/refinancing/requests/{request.pk}/")
    assert page.status_code == 200 and b'value="approve"' in page.content
    # Rejecting without a note shows the error on the page and changes nothing.
    page = jefe.post(f"/refinancing/requests/{request.pk}/", {"decision": "reject", "note": ""})
    assert page.status_code == 200 and "say why" in page.content.decode()
    answer = jefe.post(f"/refinancing/requests/{request.pk}/", {"decision": "approve"})
    assert answer.status_code == 302
    assert RefinancingRequest.objects.get(pk=request.pk).status == "approved"
    pdf = jefe.get(f"/refinancing/requests/{request.pk}/schedule.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # Rosa sees her request but cannot decide it; Juan does not see it at all.
    rosa = Client()
    rosa.force_login(person("rquispe"))
    assert b'value="approve"' not in rosa.get(f"/refinancing/requests/{request.pk}/").content
    juan = Client()
    juan.force_login(person("jmamani"))
    assert juan.get(f"/refinancing/requests/{request.pk}/").status_code == 404
    assert juan.get(f"/refinancing/requests/{request.pk}/schedule.pdf").status_code == 404
