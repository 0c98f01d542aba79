"""The officer's client page: credits, suggested versus done, and the result form
(GPS, promise, new contact data), plus the search among own clients."""

import re

import pytest
from django.test import Client

from collections_field.models import FieldResult
from portfolio.models import Address
from tests.support import person


def logged_in(username: str) -> Client:
    browser = Client()
    browser.force_login(person(username))
    return browser


def form_uuid(page) -> str:
    return re.search(rb'name="uuid" value="([0-9a-f-]+)"', page.content).group(1).decode()


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_credits_and_the_case_history(world):
    page = logged_in("rquispe").get("/cases/C1/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "CR1" in text and "S/ 3,200.50" in text  # the credit and its balance
    assert "tel:987654321" in text
    assert "Suggested" in text and "open" in text  # the opening move in the timeline
    assert 'name="result_code"' in text and 'data-promise-codes="10"' in text


@pytest.mark.django_db(transaction=True)
def test_a_promise_registered_at_the_door_is_verified_and_sent_twice_counts_once(world):
    rosa = logged_in("rquispe")
    page = rosa.get("/cases/C1/")
    body = {
        "uuid": form_uuid(page),
        "result_code": "10",
        "channel": "visit",
        "promise_date": "2099-12-31",
        "promise_amount": "150.00",
        "notes": "Pagará el viernes",
        "lat": "-11.94012",  # a few metres from the home address
        "lon": "-77.06102",
        "address_kind": "",
    }
    answer = rosa.post("/cases/C1/", body)
    assert answer.status_code == 302
    again = rosa.post("/cases/C1/", body)  # the phone retried on a bad connection
    assert again.status_code == 302
    result = FieldResult.objects.get()
    assert result.verified and result.officer.code == "AS001"
    assert (str(result.promise_date), str(result.promise_amount)) == ("2099-12-31", "150.00")
    shown = rosa.get("/cases/C1/").content.decode()
    assert "Result registered." in shown and "2099" in shown


@pytest.mark.django_db(transaction=True)
def test_far_from_the_address_the_visit_is_kept_but_flagged(world):
    rosa = logged_in("rquispe")
    body = {"uuid": form_uuid(rosa.get("/cases/C1/")), "result_code": "30",
            "channel": "visit", "lat": "-11.9500", "lon": "-77.0700"}  # fmt: skip
    assert rosa.post("/cases/C1/", body).status_code == 302
    result = FieldResult.objects.get()
    assert not result.verified and "off_radius" in result.flags


@pytest.mark.django_db(transaction=True)
def test_a_promise_without_its_date_is_refused_naming_the_field(world):
    rosa = logged_in("rquispe")
    body = {"uuid": form_uuid(rosa.get("/cases/C1/")), "result_code": "10", "channel": "call"}
    page = rosa.post("/cases/C1/", body)
    assert page.status_code == 200 and b"a payment promise needs its date" in page.content
    assert not FieldResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_new_phone_and_address_from_the_field_update_the_client_audited(world):
    rosa = logged_in("rquispe")
    body = {
        "uuid": form_uuid(rosa.get("/cases/C1/")),
        "result_code": "30",
        "channel": "visit",
        "lat": "-11.93001",
        "lon": "-77.05002",
        "new_phone": "912 345 678",
        "new_address": "Jr. Las Flores 221, Comas",
        "address_kind": "business",
    }
    assert rosa.post("/cases/C1/", body).status_code == 302
    client = world.case("C1").client
    client.refresh_from_db()
    assert client.phone == "912 345 678"
    trail = client.history.latest()
    assert trail.history_user == person("rquispe") and trail.phone == "912 345 678"
    business = Address.objects.get(client=client, kind="business")
    assert business.text == "Jr. Las Flores 221, Comas"
    assert business.quadrant.code == "Q0002"  # placed by the GPS point


@pytest.mark.django_db(transaction=True)
def test_the_search_finds_only_own_clients(world):
    rosa = logged_in("rquispe")
    found = rosa.get("/clients/", {"q": "C1"}).content.decode()
    assert "/cases/C1/" in found
    for other in ("C2", "C3"):
        assert f"/cases/{other}/" not in rosa.get("/clients/", {"q": other}).content.decode()
    jefe = logged_in("jcastro").get("/clients/", {"q": "Rosa"}).content.decode()
    assert "/cases/C1/" in jefe and "/cases/C3/" in jefe and "/cases/C2/" not in jefe


@pytest.mark.django_db(transaction=True)
def test_another_officers_client_is_a_404_and_cannot_be_written(world):
    rosa = logged_in("rquispe")
    assert rosa.get("/cases/C2/").status_code == 404
    body = {"uuid": "2f1d4b6e-4c1e-4a57-9d44-0c7a3e2b1a10", "result_code": "30",
            "channel": "call"}  # fmt: skip
    assert rosa.post("/cases/C2/", body).status_code == 404
    assert not FieldResult.objects.exists()
