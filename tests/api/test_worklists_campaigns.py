"""GET worklists/ and POST/GET campaigns/ (DOMAIN.md 7.4): scope by role, errors that
name their field, campaigns' teams and their report."""

import pytest

from tests.collections_field.replay import overdue_row
from tests.support import api_as


def world_rows(n: int) -> list[dict]:
    """The `world` fixture's three clients on day n (its day 1 has 20 days past due)."""
    dpd = 19 + n
    return [
        overdue_row("C1", "CR1", dpd),
        overdue_row(
            "C2", "CR2", dpd, agency_code="AG02", lat="-16.4", lon="-71.54",
            origin_officer_code="AS002",
        ),
        overdue_row("C3", "CR3", dpd, lat="-11.9300", lon="-77.0500", origin_officer_code=""),
    ]  # fmt: skip


def worklist(username: str, officer: str, day: str = "2026-11-02"):
    return api_as(username, ["cases:read"]).get(f"/api/v1/worklists/?officer={officer}&date={day}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("username", "officer", "expected"),
    [
        ("rquispe", "AS001", 200),
        ("rquispe", "AS002", 404),  # another asesor's list
        ("rquispe", "NOPE", 404),
        ("jcastro", "AS001", 200),
        ("jcastro", "AS900", 200),  # the external agency's officer working in AG01
        ("jcastro", "AS002", 404),  # a jefe of another agency's officer
        ("mflores", "AS001", 200),
        ("mflores", "AS002", 404),  # another zone
        ("gerencia", "AS002", 200),
        ("recupera", "AS900", 200),
        ("recupera", "AS001", 404),
        ("core-banking", "AS001", 200),
    ],
)
def test_worklist_scope(world, username, officer, expected):
    answer = worklist(username, officer)
    assert answer.status_code == expected, answer.content
    if expected == 404:
        assert answer.json()["code"] == "not_found"


@pytest.mark.django_db(transaction=True)
def test_worklist_fields(world):
    answer = worklist("rquispe", "AS001")
    assert answer.status_code == 200
    (entry,) = answer.json()
    assert {
        k: entry[k]
        for k in ("position", "client_code", "reason", "action_code", "quadrant_code",
                  "amount", "days_past_due")
    } == {
        "position": 1, "client_code": "C1", "reason": "quadrant", "action_code": "A11",
        "quadrant_code": "Q0001", "amount": "150.00", "days_past_due": 20,
    }  # fmt: skip
    assert entry["light"] in ("amber", "red")
    # A Saturday: no list, an empty answer.
    assert worklist("rquispe", "AS001", "2026-11-07").json() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("query", "field"),
    [("officer=AS001&date=2026-13-01", "date"), ("date=2026-11-02", "officer")],
)
def test_worklist_errors_name_the_field(world, query, field):
    answer = api_as("gerencia", ["cases:read"]).get(f"/api/v1/worklists/?{query}")
    assert answer.status_code == 400 and answer.json()["field"] == field


CAMPAIGN = {"code": "OP-NOV", "name": "Operativo noviembre", "date_from": "2026-11-03",
            "date_to": "2026-11-03"}  # fmt: skip


def post_campaign(username: str, **body):
    return api_as(username, ["campaigns:write"]).post(
        "/api/v1/campaigns/", {**CAMPAIGN, **body}, format="json"
    )


@pytest.mark.django_db(transaction=True)
def test_a_jefe_campaigns_within_its_agency(world):
    made = post_campaign("jcastro", client_codes=["C1", "C3"])
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["agency_code"], body["team"], body["clients_targeted"]) == ("AG01", "internal", 2)
    # A client of another agency is as unknown to it as a code that does not exist.
    other = post_campaign("jcastro", code="OP2", client_codes=["C1", "C2"])
    assert other.status_code == 400 and other.json()["field"] == "client_codes"
    assert "C2" in other.json()["message"]
    segment = post_campaign("jcastro", code="OP3", segment={"agency": "AG02"})
    assert segment.status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("username", ["rquispe", "recupera", "mflores", "core-banking"])
def test_only_a_jefe_de_agencia_or_the_gerente_creates_campaigns(world, username):
    answer = post_campaign(username, client_codes=["C1"])
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        ({"client_codes": ["C1", "NOPE"]}, "client_codes", "NOPE"),
        ({"client_codes": []}, "client_codes", None),
        ({"date_to": "2026-11-01"}, "date_to", None),
        ({"date_to": "2028-01-01"}, "date_to", None),
        ({"team": "EX99"}, "team", "EX99"),
        ({"client_codes": ["C1"], "segment": {"tramo": 1}}, "segment", None),
        ({"segment": {"classification": "Z"}}, "segment.classification", "Z"),
        ({"segment": {"tramo": 9}}, "segment.tramo", None),
        ({"segment": {"agency": "AG99"}}, "segment.agency", "AG99"),
        ({"segment": {"min_dpd": 30, "max_dpd": 10}}, "segment.max_dpd", None),
        ({"segment": {"min_amount": "-1"}}, "segment", None),
        ({"name": ""}, "name", None),
    ],
)
def test_campaign_errors_name_the_field(world, body, field, named):
    answer = post_campaign("gerencia", **body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == field
    if named:
        assert named in answer.json()["message"]


@pytest.mark.django_db(transaction=True)
def test_a_campaign_code_is_unique(world):
    assert post_campaign("gerencia", client_codes=["C1"]).status_code == 201
    again = post_campaign("gerencia", client_codes=["C2"])
    assert again.status_code == 400 and again.json()["field"] == "code"


def entries(day: str) -> dict[str, tuple[str, str, str | None]]:
    from collections_field.models import WorklistEntry

    return {
        e.client.code: (e.officer.code, e.reason, e.campaign.code if e.campaign else None)
        for e in WorklistEntry.objects.filter(business_date=day).select_related(
            "client", "officer", "campaign"
        )
    }


@pytest.mark.django_db(transaction=True)
def test_an_external_agencys_campaign_leads_only_its_officers_lists(world):
    made = post_campaign("gerencia", team="EX01", segment={"tramo": 1})
    assert made.status_code == 201 and made.json()["agency_code"] is None
    world.snapshot(2, world_rows(2))
    world.cycle(2)
    assert entries("2026-11-03") == {
        "C1": ("AS001", "quadrant", None),  # an internal officer's client: as usual
        "C2": ("AS002", "quadrant", None),
        "C3": ("AS900", "campaign", "OP-NOV"),
    }
    report = api_as("gerencia", ["campaigns:write"]).get("/api/v1/campaigns/OP-NOV/").json()
    assert (report["clients_targeted"], report["clients_listed"]) == (3, 1)


@pytest.mark.django_db(transaction=True)
def test_the_campaign_report(world):
    assert post_campaign("jcastro", client_codes=["C1", "C3"]).status_code == 201
    world.snapshot(2, world_rows(2))
    world.cycle(2)
    assert entries("2026-11-03")["C1"] == ("AS001", "campaign", "OP-NOV")
    assert entries("2026-11-03")["C3"] == ("AS900", "quadrant", None)  # internal campaign
    world.result(2, "C1", "10", promise_in=2)
    world.result(2, "C3", "30", officer="AS900")
    world.payment(3, "CR1")
    jefe = api_as("jcastro", ["cases:read"])
    report = jefe.get("/api/v1/campaigns/OP-NOV/")
    assert report.status_code == 200
    assert {k: v for k, v in report.json().items() if k.startswith("clients_")} == {
        "clients_targeted": 2, "clients_listed": 1, "clients_visited": 2,
        "clients_promised": 1, "clients_paid": 1,
    }  # fmt: skip
    assert api_as("rquispe", ["cases:read"]).get("/api/v1/campaigns/OP-NOV/").status_code == 404
    assert jefe.get("/api/v1/campaigns/NOPE/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_of_several_campaigns_the_smallest_code_names_the_entry(world):
    assert post_campaign("gerencia", code="OP-B", client_codes=["C1", "C2"]).status_code == 201
    assert post_campaign("gerencia", code="OP-C", segment={"tramo": 1}).status_code == 201
    assert post_campaign("gerencia", code="OP-A", segment={"agency": "AG02"}).status_code == 201
    world.snapshot(2, world_rows(2))
    world.cycle(2)
    found = entries("2026-11-03")
    assert found["C1"] == ("AS001", "campaign", "OP-B")  # its list, and tramo 1's segment
    assert found["C2"] == ("AS002", "campaign", "OP-A")  # all three target it
    assert found["C3"] == ("AS900", "quadrant", None)  # internal campaigns, external officer
