"""Tokens issued in the admin (shown once, stored hashed, revoked there), and the
reads core banking pulls back: results and promises since a moment, the case list."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from collections_field.models import FieldResult
from portfolio.models import ApiToken
from portfolio.services import token_hash
from tests.support import api_as, person


@pytest.mark.django_db(transaction=True)
def test_the_gerente_issues_a_token_in_the_admin_once_and_revokes_it(world):
    admin = Client()
    admin.force_login(person("gerencia"))
    form = admin.get("/admin/portfolio/apitoken/add/")
    assert form.status_code == 200 and b"scope_list" in form.content
    issued = admin.post(
        "/admin/portfolio/apitoken/add/",
        {"account": "core-banking", "name": "Core nocturno", "scope_list": ["cases:read"]},
    )
    assert issued.status_code == 200
    assert "no-store" in issued["Cache-Control"]
    raw = re.search(rb'id="issued-token">(smf_[^<]+)<', issued.content).group(1).decode()
    token = ApiToken.objects.get(name="Core nocturno")
    assert token.key_hash == token_hash(raw) and raw not in token.key_hash
    assert token.user.username == "core-banking"
    # Never shown again: not in the list nor in the token's own page.
    assert raw.encode() not in admin.get("/admin/portfolio/apitoken/").content
    assert raw.encode() not in admin.get(f"/admin/portfolio/apitoken/{token.pk}/change/").content

    core = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert core.get("/api/v1/cases/C1/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    admin.post(
        "/admin/portfolio/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert core.get("/api/v1/cases/C1/").status_code == 401
    # Issue and revocation are in the audit trail, with who did them.
    trail = list(ApiToken.history.filter(id=token.pk).order_by("history_date"))
    assert [r.history_type for r in trail] == ["+", "~"]
    assert {r.history_user.username for r in trail} == {"gerencia"}
    assert trail[-1].revoked_at is not None


@pytest.mark.django_db(transaction=True)
def test_results_and_promises_since_a_moment_in_cursor_pages(world):
    for hour in range(8, 18):
        world.result(1, "C1", "10" if hour % 2 else "30", hour=hour, promise_in=3)
    world.result(1, "C3", "30", officer="AS900")
    cut = timezone.now()
    FieldResult.objects.filter(client__code="C3").update(registered_at=cut + timedelta(seconds=1))
    core = api_as("core-banking", ["results:read"])

    first = core.get("/api/v1/results/", {"page_size": 4}).json()
    assert len(first["results"]) == 4 and first["next"]
    seen = [r["uuid"] for r in first["results"]]
    page = first
    while page["next"]:
        page = core.get(page["next"]).json()
        seen += [r["uuid"] for r in page["results"]]
    assert len(seen) == len(set(seen)) == 11  # every result once, none repeated

    since = core.get("/api/v1/results/", {"since": cut.isoformat()}).json()["results"]
    assert [r["client_code"] for r in since] == ["C3"]
    promises = core.get("/api/v1/promises/").json()["results"]
    assert len(promises) == 5 and all(p["promise_date"] for p in promises)
    assert promises[0]["promise_amount"] == "100.00"  # money as a decimal string

    bad = core.get("/api/v1/results/", {"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["field"] == "since"


@pytest.mark.django_db(transaction=True)
def test_the_case_list_filters_by_agency_tramo_classification_and_status(world):
    core = api_as("core-banking", ["cases:read"])

    def codes(**query):
        answer = core.get("/api/v1/cases/", query)
        assert answer.status_code == 200, answer.json()
        return sorted(r["client_code"] for r in answer.json()["results"])

    assert codes() == ["C1", "C2", "C3"]
    assert codes(agency="AG01") == ["C1", "C3"]
    assert codes(officer="AS002") == ["C2"]
    case = world.case("C1")
    assert codes(tramo=case.tramo, classification=case.classification, agency="AG01") == [
        "C1",
        "C3",
    ]
    assert codes(tramo=case.tramo + 1) == []
    assert codes(status="closed") == []
    bad = core.get("/api/v1/cases/", {"tramo": "first"})
    assert bad.status_code == 400 and bad.json()["field"] == "tramo"
