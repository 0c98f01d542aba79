"""The collection address follows the payments (thesis 5.2.9 b): a payment after a
verified visit at an address makes that address the one to go to next time."""

import pytest

from portfolio.models import Address, Client
from strategy.services import strategy_load_default

from .replay import Replay, overdue_row

SHOP = {"lat": -11.93001, "lon": -77.05002}  # Comas Alto, far from the home address


@pytest.fixture
def rosa_client(organisation, tmp_path):
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(1, [overdue_row("C1", "CR1", 20)])
    replay.cycle(1)
    client = Client.objects.get(code="C1")
    Address.objects.create(client=client, kind="business", text="Mercado Comas, puesto 12", **SHOP)
    assert replay.case("C1").collection_address.kind == "home"
    return replay


def visit(replay, n, *, kind, lat, lon, hour=10):
    return replay.result(n, "C1", "30", hour=hour, address_kind=kind, lat=lat, lon=lon)


@pytest.mark.django_db(transaction=True)
def test_a_payment_after_a_verified_visit_moves_the_collection_address(rosa_client):
    r = rosa_client
    shop_visit = visit(r, 2, kind="business", lat=-11.93002, lon=-77.05001)
    assert shop_visit.verified and shop_visit.address.kind == "business"
    r.payment(2, "CR1", hour=15)
    r.snapshot(2, [overdue_row("C1", "CR1", 21)])
    r.cycle(2)
    assert r.case("C1").collection_address.kind == "business"


@pytest.mark.django_db(transaction=True)
def test_an_unverified_visit_or_no_payment_leaves_it_alone(rosa_client):
    r = rosa_client
    visit(r, 2, kind="business", lat=-11.9600, lon=-77.0900)  # far away: off radius
    r.payment(2, "CR1", hour=15)
    r.snapshot(2, [overdue_row("C1", "CR1", 21)])
    r.cycle(2)
    assert r.case("C1").collection_address.kind == "home"
    visit(r, 3, kind="business", lat=-11.93002, lon=-77.05001)  # verified, but no payment
    r.snapshot(3, [overdue_row("C1", "CR1", 22)])
    r.cycle(3)
    assert r.case("C1").collection_address.kind == "home"


@pytest.mark.django_db(transaction=True)
def test_a_payment_before_the_visit_does_not_count(rosa_client):
    r = rosa_client
    r.payment(2, "CR1", hour=9)
    visit(r, 2, kind="business", lat=-11.93002, lon=-77.05001, hour=11)
    r.snapshot(2, [overdue_row("C1", "CR1", 21)])
    r.cycle(2)
    assert r.case("C1").collection_address.kind == "home"
