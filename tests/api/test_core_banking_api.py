"""Core banking and the field drive the engine over REST (DOMAIN.md 7.4)."""

import uuid

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from collections_field.engine import cycle as cycle_module
from portfolio.models import ApiToken, Payment
from portfolio.services import token_hash, token_issue
from strategy.services import strategy_load_default
from tests.support import row, write_snapshot

ALL = ["snapshots:write", "payments:write", "results:write", "cycles:write", "cases:read"]


@pytest.fixture
def core(organisation):
    strategy_load_default()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + token_issue(name="core", scopes=ALL).raw)
    return client


def post_snapshot(client, tmp_path, day, rows):
    body = write_snapshot(tmp_path / f"{day}.csv", rows).read_bytes()
    return client.post(f"/api/v1/snapshots/?date={day}", body, content_type="text/csv")


@pytest.mark.django_db(transaction=True)
def test_a_night_and_a_day_over_the_api(core, tmp_path):
    answer = post_snapshot(core, tmp_path, "2026-11-02", [row(days_past_due="5")])
    assert answer.status_code == 201 and answer.json()["rows"] == 1
    again = post_snapshot(core, tmp_path, "2026-11-02", [row(days_past_due="5")])
    assert again.status_code == 200 and again.json()["unchanged"] is True

    cycle = core.post("/api/v1/cycles/", {"date": "2026-11-02"}, format="json")
    assert cycle.status_code == 200 and cycle.json()["status"] == "done"
    assert [s["name"] for s in cycle.json()["steps"]] == [
        "events", "transitions", "assignment", "balances", "plan", "selection", "figures",
        "teams", "lights", "productivity",
    ]  # fmt: skip
    # Client-by-client steps run in shares where steps run side by side (PostgreSQL).
    parts = {s["name"]: [p["name"] for p in s["parts"]] for s in cycle.json()["steps"]}
    shared = cycle_module.side_by_side() > 1
    assert parts["events"] == (["events#0", "events#1"] if shared else [])
    assert parts["assignment"] == []

    result = {
        "uuid": str(uuid.uuid4()),
        "client_code": "C1",
        "result_code": "20",
        "occurred_at": "2026-11-03T10:15:00-05:00",
        "officer_code": "AS001",
        "lat": -11.9401,
        "lon": -77.0610,
    }
    first = core.post("/api/v1/results/", result, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["verified"] is True and first.json()["flags"] == []
    repeat = core.post("/api/v1/results/", result, format="json")
    assert repeat.status_code == 200 and repeat.json() == first.json()

    payment = {
        "reference": "OP-1",
        "credit_code": "CR1",
        "amount": "150.00",
        "paid_at": "2026-11-03T16:00:00-05:00",
        "installments": 1,
    }
    assert core.post("/api/v1/payments/", payment, format="json").status_code == 201
    assert core.post("/api/v1/payments/", payment, format="json").status_code == 200
    assert Payment.objects.count() == 1

    post_snapshot(core, tmp_path, "2026-11-03", [row(days_past_due="6", overdue_installments="2")])
    core.post("/api/v1/cycles/", {"date": "2026-11-03"}, format="json")
    case = core.get("/api/v1/cases/C1/").json()
    assert (case["action_code"], case["classification"], case["status"]) == ("A11", "A", "active")
    assert case["days_past_due"] == 6
    assert [
        (h["from"], h["to"], h["cause"]) for h in case["history"] if h["cause"] != "assign"
    ] == [
        ("", "A11", "open"),
        ("A11", "A12", "20"),
        ("A12", "A11", "PG"),
    ]
    assert case["results"][0]["officer_code"] == "AS001"
    status = core.get("/api/v1/cycles/2026-11-03/").json()
    assert status["status"] == "done" and status["steps"][0]["counts"]["PG"] == 1


@pytest.mark.django_db(transaction=True)
def test_errors_are_json_naming_the_line_or_field(core, tmp_path):
    bad = post_snapshot(core, tmp_path, "2026-11-02", [row(), row(credit_code="CR2", currency="X")])
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_snapshot"
    assert (bad.json()["line"], bad.json()["field"]) == (3, "currency")
    missing = core.post("/api/v1/payments/", {"reference": "X"}, format="json")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid"
    assert missing.json()["field"] == "credit_code"
    assert core.get("/api/v1/cases/NOPE/").status_code == 404
    assert core.get("/api/v1/cases/NOPE/").json()["code"] == "not_found"


@pytest.mark.django_db
def test_tokens_are_hashed_scoped_and_revocable(organisation):
    issued = token_issue(name="cobranzas-externas", scopes=["cases:read"])
    stored = ApiToken.objects.get()
    assert stored.key_hash == token_hash(issued.raw) and issued.raw not in stored.key_hash
    assert issued.raw.startswith(stored.prefix)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + issued.raw)
    # The token lacks payments:write.
    denied = client.post("/api/v1/payments/", {}, format="json")
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    client.credentials(HTTP_AUTHORIZATION="Bearer smf_not-a-token")
    assert client.get("/api/v1/cases/C1/").status_code == 401
    assert APIClient().get("/api/v1/cases/C1/").status_code in (401, 403)


@pytest.mark.django_db
def test_issue_token_prints_it_once(organisation, capsys):
    call_command("issue_token", "core-banking", "--scopes", "snapshots:write,payments:write")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user__username="core-banking")
    assert token.key_hash == token_hash(raw)
    assert token.user.staff_member.role == "servicio"


@pytest.mark.django_db(transaction=True)
def test_an_asesor_reaches_only_own_clients(core, tmp_path):
    post_snapshot(
        core,
        tmp_path,
        "2026-11-02",
        [
            row(),
            row(credit_code="CR2", client_code="C2", agency_code="AG02", lat="-16.4", lon="-71.54"),
        ],
    )
    core.post("/api/v1/cycles/", {"date": "2026-11-02"}, format="json")
    rosa = APIClient()
    rosa.credentials(
        HTTP_AUTHORIZATION="Bearer "
        + token_issue(name="rquispe", scopes=["cases:read", "results:write"]).raw
    )
    assert rosa.get("/api/v1/cases/C1/").json()["officer_code"] == "AS001"
    assert rosa.get("/api/v1/cases/C2/").status_code == 404  # Juan's (AG02) client
    result = {
        "uuid": str(uuid.uuid4()),
        "client_code": "C2",
        "result_code": "30",
        "occurred_at": "2026-11-02T10:00:00-05:00",
    }
    assert rosa.post("/api/v1/results/", result, format="json").status_code == 404
    result["client_code"] = "C1"
    made = rosa.post("/api/v1/results/", result, format="json")
    assert made.status_code == 201 and made.json()["officer_code"] == "AS001"
    assert "no_gps" in made.json()["flags"]


@pytest.mark.django_db
def test_the_openapi_schema_names_every_endpoint():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/snapshots/",
        "/api/v1/payments/",
        "/api/v1/results/",
        "/api/v1/cases/{client_code}/",
        "/api/v1/cycles/",
        "/api/v1/cycles/{business_date}/",
    } <= paths
    assert "bearerAuth" in schema["components"]["securitySchemes"]
