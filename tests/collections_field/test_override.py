"""The jefe de agencia's manual move: the only backwards move, always audited."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from collections_field.models import CaseHistory
from portfolio.services import token_issue
from strategy.services import strategy_load_default

from .replay import Replay, overdue_row


@pytest.fixture
def case_at_b21(organisation, tmp_path):
    strategy_load_default()
    r = Replay(tmp_path)
    r.snapshot(1, [overdue_row("C1", "CR1", 40)])
    r.cycle(1)
    assert r.case("C1").action_code == "B21"
    return r


def user(name):
    return get_user_model().objects.get(username=name)


@pytest.mark.django_db(transaction=True)
def test_the_jefe_moves_a_case_back_and_the_move_is_audited(case_at_b21, client):
    jefe = user("jcastro")
    client.force_login(jefe)
    page = client.get("/cases/C1/")
    assert page.status_code == 200 and b"Move the case" in page.content
    response = client.post("/cases/C1/", {"to_code": "A11", "reason": "Pagó en ventanilla"})
    assert response.status_code == 302
    case = case_at_b21.case("C1")
    assert (case.action_code, case.classification, case.tramo) == ("A11", "A", 1)
    entry = CaseHistory.objects.get(cause_kind="override")
    assert (entry.from_code, entry.to_code, entry.by, entry.reason) == (
        "B21",
        "A11",
        jefe,
        "Pagó en ventanilla",
    )
    assert (entry.from_classification, entry.to_classification) == ("B", "A")


@pytest.mark.django_db(transaction=True)
def test_an_asesor_cannot_move_a_case_by_hand(case_at_b21):
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION="Bearer " + token_issue(name="rquispe", scopes=["cases:read"]).raw
    )
    answer = api.post(
        "/api/v1/cases/C1/override/", {"to_code": "A11", "reason": "x"}, format="json"
    )
    assert answer.status_code == 403
    assert case_at_b21.case("C1").action_code == "B21"


@pytest.mark.django_db(transaction=True)
def test_the_override_needs_a_reason_and_a_real_code(case_at_b21):
    api = APIClient()
    api.force_authenticate(user("jcastro"))
    no_reason = api.post(
        "/api/v1/cases/C1/override/", {"to_code": "A11", "reason": " "}, format="json"
    )
    assert no_reason.status_code == 400
    bad = api.post("/api/v1/cases/C1/override/", {"to_code": "Z9", "reason": "x"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "to_code"
    ok = api.post(
        "/api/v1/cases/C1/override/", {"to_code": "C21", "reason": "Salto"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["action_code"] == "C21"


@pytest.mark.django_db(transaction=True)
def test_another_agencys_jefe_gets_404(case_at_b21, client):
    other = get_user_model().objects.create(username="otro")
    from portfolio.models import Agency, Role
    from portfolio.services import staff_member_set_role

    staff_member_set_role(
        user=other, role=Role.JEFE_AGENCIA, agency=Agency.objects.get(code="AG02")
    )
    client.force_login(other)
    assert client.get("/cases/C1/").status_code == 404
    assert client.post("/cases/C1/", {"to_code": "A11", "reason": "x"}).status_code == 404
