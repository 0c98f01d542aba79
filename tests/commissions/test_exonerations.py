"""Exonerations (thesis 5.2.6; DOMAIN.md 6 and 7.4): the strategy's limits by role,
classification and installments paid; approved at once within the requester's
limit, else pending for the jefe de agencia (or the gerente); an asesor never
approves; every decision audited with who, when, before and after."""

from decimal import Decimal

import pytest
from django.test import Client

from commissions.exonerations.services import (
    exoneration_approve,
    exoneration_reject,
    exoneration_request,
)
from commissions.models import Exoneration
from portfolio.exceptions import InvalidInput, NotFound, PermissionDenied
from tests.support import api_as, person

pytestmark = pytest.mark.django_db(transaction=True)


def ask(username="rquispe", client="C1", credit="CR1", late="0", fees="0", commissions="0",
        reason="cliente con voluntad de pago"):  # fmt: skip
    return exoneration_request(
        user=person(username), client_code=client, credit_code=credit,
        late_interest_pct=Decimal(late), collection_fees_pct=Decimal(fees),
        commissions_pct=Decimal(commissions), reason=reason,
    )  # fmt: skip


def paid_one_installment(money):
    money.payment(1, "CR1", installments=1)


def test_within_the_asesors_limit_it_is_approved_at_once(money):
    paid_one_installment(money)  # the default strategy's asesor rows need 1 paid
    exoneration = ask(late="0.30", fees="0.10")  # classification A: the asesor's limit is 30 %
    assert exoneration.status == Exoneration.Status.APPROVED
    assert exoneration.required_role == "asesor" and exoneration.requester_limit == Decimal("0.3")
    # The strategy's delegation approved it, not the asesor.
    assert exoneration.decided_by is None and "within the asesor limit" in exoneration.decision_note
    # Waived amounts: 30 % of S/ 200.00 late interest, 10 % of S/ 50.00 fees, 0 % of 30.00.
    waived = (exoneration.late_interest_waived, exoneration.collection_fees_waived,
              exoneration.commissions_waived)  # fmt: skip
    assert waived == (Decimal("60.00"), Decimal("5.00"), Decimal("0.00"))
    assert exoneration.installments_paid == 1 and exoneration.classification == "A"


def test_above_the_limit_it_waits_and_the_jefe_approves_it(money):
    paid_one_installment(money)
    exoneration = ask(late="0.50")  # above the asesor's 30 %, within the jefe's 60 %
    assert exoneration.status == Exoneration.Status.PENDING
    assert exoneration.required_role == "jefe_agencia"
    with pytest.raises(PermissionDenied):  # an asesor never approves, not even its own
        exoneration_approve(user=person("rquispe"), exoneration_id=exoneration.pk)
    with pytest.raises(NotFound):  # the jefe of another agency: not in its scope
        exoneration_approve(user=person("pvargas"), exoneration_id=exoneration.pk)
    approved = exoneration_approve(user=person("jcastro"), exoneration_id=exoneration.pk,
                                   note="visto en comité")  # fmt: skip
    assert approved.status == Exoneration.Status.APPROVED
    assert approved.decided_by == person("jcastro") and approved.decided_at is not None
    # Audited: who, when, before and after, for the request and for the decision.
    trail = list(approved.history.order_by("history_date", "history_id"))
    assert [(h.history_type, h.status, h.history_user.username) for h in trail] == [
        ("+", "pending", "rquispe"),
        ("~", "approved", "jcastro"),
    ]
    delta = trail[1].diff_against(trail[0])
    assert {(c.field, c.old, c.new) for c in delta.changes if c.field == "status"} == {
        ("status", "pending", "approved")
    }
    # The gerente reads it in the audit trail, as every audited change.
    gerente = Client()
    gerente.force_login(person("gerencia"))
    page = gerente.get("/audit/", {"model": "commissions.exoneration"}).content.decode()
    assert "jcastro" in page and "pending → approved" in page
    # A repeat answers with the approved one.
    again = exoneration_approve(user=person("jcastro"), exoneration_id=exoneration.pk)
    assert (again.pk, again.status) == (approved.pk, "approved")


def test_above_the_jefes_limit_it_waits_for_the_gerente(money):
    paid_one_installment(money)
    exoneration = ask(late="0.80")  # above the jefe's 60 % for classification A
    assert (exoneration.status, exoneration.required_role) == ("pending", "gerente")
    with pytest.raises(PermissionDenied, match="waits for the"):
        exoneration_approve(user=person("jcastro"), exoneration_id=exoneration.pk)
    assert exoneration_approve(user=person("gerencia"), exoneration_id=exoneration.pk).status == (
        "approved"
    )


def test_installments_paid_decide_who_may_grant_it(money):
    # No installment paid yet: neither the asesor's nor the jefe's rows apply (they need
    # 1), only the gerente's (0): even 5 % waits for the gerente.
    exoneration = ask(late="0.05")
    assert (exoneration.installments_paid, exoneration.required_role) == (0, "gerente")
    exoneration_reject(user=person("gerencia"), exoneration_id=exoneration.pk, note="no")
    # Once one is paid, a jefe's own request within its limit is approved at once, by
    # the strategy too.
    paid_one_installment(money)
    own = ask("jcastro", late="0.50")
    assert (own.status, own.required_role, own.decided_by) == ("approved", "jefe_agencia", None)


def test_the_jefe_rejects_with_a_reason(money):
    paid_one_installment(money)
    exoneration = ask(late="0.50")
    with pytest.raises(InvalidInput) as refused:
        exoneration_reject(user=person("jcastro"), exoneration_id=exoneration.pk, note=" ")
    assert refused.value.field == "note"
    rejected = exoneration_reject(user=person("jcastro"), exoneration_id=exoneration.pk,
                                  note="sin sustento")  # fmt: skip
    assert rejected.status == "rejected" and rejected.decided_by == person("jcastro")
    with pytest.raises(InvalidInput):
        exoneration_approve(user=person("jcastro"), exoneration_id=exoneration.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"late": "1.5"}, "late_interest_pct"),
        ({"fees": "-0.1"}, "collection_fees_pct"),
        ({"late": "0", "fees": "0", "commissions": "0"}, "late_interest_pct"),
        ({"credit": "CR2"}, "credit_code"),  # a credit of another client
        ({"reason": "  "}, "reason"),
    ],
)
def test_each_refusal_names_its_field(money, changes, field):
    with pytest.raises(InvalidInput) as refused:
        ask(**{"late": "0.1", **changes})
    assert refused.value.field == field


def test_one_pending_request_per_credit_and_clients_outside_the_scope(money):
    paid_one_installment(money)
    ask(late="0.5")
    with pytest.raises(InvalidInput) as refused:
        ask(late="0.4")
    assert refused.value.field == "credit_code"
    with pytest.raises(NotFound):  # Juan's client, for Rosa
        ask(client="C2", credit="CR2", late="0.1")


def test_the_api_requests_approves_and_refuses_an_asesor(money):
    paid_one_installment(money)
    asesor = api_as("rquispe", ["exonerations:write", "exonerations:read"])
    body = {"client_code": "C1", "credit_code": "CR1", "late_interest_pct": "0.5",
            "collection_fees_pct": "0", "commissions_pct": "0", "reason": "acuerdo"}  # fmt: skip
    created = asesor.post("/api/v1/exonerations/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "pending"
    assert created.json()["waived"]["late_interest"] == "100.00"
    number = created.json()["id"]
    refused = asesor.post(f"/api/v1/exonerations/{number}/approve/", {}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    # A token without the scope is refused whatever the role.
    reader = api_as("jcastro", ["exonerations:read"])
    assert reader.post(f"/api/v1/exonerations/{number}/approve/", {}).status_code == 403
    jefe = api_as("jcastro", ["exonerations:write"])
    approved = jefe.post(f"/api/v1/exonerations/{number}/approve/", {"note": "ok"}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "jcastro"
    # Outside the scope: the same 404 as a missing one.
    juan = api_as("jmamani", ["exonerations:read"])
    assert juan.get(f"/api/v1/exonerations/{number}/").status_code == 404
    assert juan.get("/api/v1/exonerations/99999/").status_code == 404
    bad = asesor.post("/api/v1/exonerations/", {**body, "late_interest_pct": "2"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "late_interest_pct"


def test_the_jefes_page_lists_the_pending_ones_and_approves(money):
    paid_one_installment(money)
    exoneration = ask(late="0.5")
    jefe = Client()
    jefe.force_login(person("jcastro"))
    page = jefe.get("/exonerations/")
    assert page.status_code == 200 and [e.pk for e in page.context["to_decide"]] == [exoneration.pk]
    answer = jefe.post("/exonerations/", {"exoneration": exoneration.pk, "op": "approve",
                                          "note": ""})  # fmt: skip
    assert answer.status_code == 302
    exoneration.refresh_from_db()
    assert exoneration.status == "approved" and exoneration.decided_by == person("jcastro")
    # The asesor's page has nothing to decide; it sees its request.
    asesor = Client()
    asesor.force_login(person("rquispe"))
    mine = asesor.get("/exonerations/")
    assert mine.context["to_decide"] == [] and [e.pk for e in mine.context["recent"]] == [
        exoneration.pk
    ]
    # The request form shows the waiver's base and sends it.
    form = asesor.get("/exonerations/new/?client=C1&credit=CR1")
    assert form.status_code == 200 and form.context["base"].late_interest == Decimal("200.00")
    sent = asesor.post("/exonerations/new/", {"client_code": "C1", "credit_code": "CR1",
                       "late_interest_pct": "20", "collection_fees_pct": "0",
                       "commissions_pct": "0", "reason": "pago hoy"})  # fmt: skip
    assert sent.status_code == 302
    assert Exoneration.objects.latest("id").late_interest_pct == Decimal("0.2")
