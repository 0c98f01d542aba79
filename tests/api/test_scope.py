"""Row-level scope follows the hierarchy everywhere, pages and API alike (DOMAIN.md 1):
asesor → own cases, jefe de agencia → agency, jefe zonal → zone, gerente → all,
external agency → its assigned cases. Outside the scope is a 404, never a hint."""

import uuid

import pytest
from django.test import Client

from tests.support import api_as, person

VISIBLE = {
    "rquispe": {"C1"},  # asesor AS001
    "jmamani": {"C2"},  # asesor AS002, the other zone
    "recupera": {"C3"},  # the external agency's officer
    "jcastro": {"C1", "C3"},  # jefe de agencia AG01
    "mflores": {"C1", "C3"},  # jefe zonal Z1
    "gerencia": {"C1", "C2", "C3"},
}
CLIENTS = ("C1", "C2", "C3")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_each_role_sees_exactly_its_cases_in_pages_and_api(world, username):
    page = Client()
    page.force_login(person(username))
    api = api_as(username, ["cases:read", "results:read"])
    for code in CLIENTS:
        expected = 200 if code in VISIBLE[username] else 404
        assert page.get(f"/cases/{code}/").status_code == expected, (username, code)
        answer = api.get(f"/api/v1/cases/{code}/")
        assert answer.status_code == expected, (username, code)
        if expected == 404:  # the same answer as for a client that does not exist
            missing = api.get("/api/v1/cases/NOPE/").json()
            assert answer.json()["message"].replace(code, "?") == missing["message"].replace(
                "NOPE", "?"
            )
    listed = {row["client_code"] for row in api.get("/api/v1/cases/").json()["results"]}
    assert listed == VISIBLE[username]


@pytest.mark.django_db(transaction=True)
def test_results_pulled_back_stay_within_the_scope(world):
    world.result(1, "C1", "20", promise_in=2)
    world.result(1, "C2", "30", officer="AS002")
    world.result(1, "C3", "30", officer="AS900")
    core = api_as("core-banking", ["results:read"])
    everything = core.get("/api/v1/results/").json()["results"]
    assert sorted(r["client_code"] for r in everything) == ["C1", "C2", "C3"]
    jefe = api_as("jcastro", ["results:read"])
    assert sorted(r["client_code"] for r in jefe.get("/api/v1/results/").json()["results"]) == [
        "C1",
        "C3",
    ]
    external = api_as("recupera", ["results:read"])
    assert [r["client_code"] for r in external.get("/api/v1/results/").json()["results"]] == ["C3"]


@pytest.mark.django_db(transaction=True)
def test_an_external_agency_registers_only_on_its_cases(world):
    external = api_as("recupera", ["results:write"])
    body = {
        "uuid": str(uuid.uuid4()),
        "client_code": "C1",
        "result_code": "30",
        "occurred_at": "2026-11-02T10:00:00-05:00",
    }
    assert external.post("/api/v1/results/", body, format="json").status_code == 404
    body["client_code"] = "C3"
    made = external.post("/api/v1/results/", body, format="json")
    assert made.status_code == 201 and made.json()["officer_code"] == "AS900"


# Each endpoint, a token carrying every scope but the one it needs, and a call.
ENDPOINTS = [
    ("post", "/api/v1/snapshots/?date=2026-11-03", "snapshots:write"),
    ("post", "/api/v1/payments/", "payments:write"),
    ("post", "/api/v1/results/", "results:write"),
    ("get", "/api/v1/results/", "results:read"),
    ("get", "/api/v1/promises/", "results:read"),
    ("get", "/api/v1/cases/", "cases:read"),
    ("get", "/api/v1/cases/C1/", "cases:read"),
    ("post", "/api/v1/cycles/", "cycles:write"),
    ("get", "/api/v1/cycles/2026-11-02/", ("cycles:write", "cases:read")),
    ("get", "/api/v1/worklists/?officer=AS001&date=2026-11-02", "cases:read"),
    ("post", "/api/v1/campaigns/", "campaigns:write"),
    ("get", "/api/v1/campaigns/OP1/", ("campaigns:write", "cases:read")),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("method", "path", "needed"), ENDPOINTS)
def test_a_token_without_the_scope_is_refused(world, method, path, needed):
    from portfolio.services import SCOPES

    needed = (needed,) if isinstance(needed, str) else needed
    others = [s for s in SCOPES if s not in needed]
    answer = getattr(api_as("core-banking", others), method)(path, {}, format="json")
    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("username", "method", "path"),
    [
        ("rquispe", "post", "/api/v1/snapshots/?date=2026-11-03"),
        ("jcastro", "post", "/api/v1/payments/"),
        ("mflores", "post", "/api/v1/cycles/"),
        ("recupera", "get", "/api/v1/cycles/2026-11-02/"),
    ],
)
def test_a_role_is_refused_where_it_does_not_belong(world, username, method, path):
    from portfolio.services import SCOPES

    answer = getattr(api_as(username, list(SCOPES)), method)(path, {}, format="json")
    assert answer.status_code == 403, answer.content


@pytest.mark.django_db(transaction=True)
def test_an_asesor_may_not_move_a_case_by_hand_nor_open_the_admin_or_audit(world):
    rosa = Client()
    rosa.force_login(person("rquispe"))
    before = world.case("C1").action_code
    assert before != "B21"
    assert rosa.post("/cases/C1/", {"to_code": "B21", "reason": "x"}).status_code in (200, 403)
    assert world.case("C1").action_code == before
    assert rosa.get("/admin/").status_code == 302  # to the admin's own login
    assert rosa.get("/audit/").status_code == 403
    assert rosa.get("/audit/export.csv").status_code == 403
