"""The thesis' Caso 1 replayed from outside on the shipped default strategy."""

import pytest

from collections_field.models import CaseHistory, CaseStatus
from strategy.services import strategy_load_default

from .replay import Replay, overdue_row


@pytest.fixture
def replay(organisation, tmp_path):
    strategy_load_default()
    return Replay(tmp_path)


def day_snapshot(replay, n, dpd, installments=2):
    replay.snapshot(n, [overdue_row("C1", "CR1", dpd, installments)])


@pytest.mark.django_db(transaction=True)
def test_caso_1(replay):
    r = replay
    day_snapshot(r, 1, 5)
    r.result(1, "C1", "10", promise_in=1)  # promise at A11 -> A11
    r.cycle(1)
    assert r.case("C1").action_code == "A11"
    assert r.case("C1").promise_date == r.day(2)

    day_snapshot(r, 2, 6)
    r.cycle(2)  # the promise is due today: not broken yet
    day_snapshot(r, 3, 7)
    r.result(3, "C1", "20")  # broken promise at 00:00 -> A12, then message to third party -> A13
    r.cycle(3)
    assert r.case("C1").action_code == "A13"

    day_snapshot(r, 4, 8)
    r.result(4, "C1", "10", promise_in=1)  # promise -> A13
    r.cycle(4)
    day_snapshot(r, 5, 9)
    r.cycle(5)
    day_snapshot(r, 6, 10)
    r.result(6, "C1", "20")  # broken promise -> B21; message to third party -> C21
    r.cycle(6)
    assert (r.case("C1").action_code, r.case("C1").classification) == ("C21", "C")

    day_snapshot(r, 7, 11)
    r.result(7, "C1", "10", promise_in=1)  # promise -> C21
    r.cycle(7)
    day_snapshot(r, 8, 12)
    r.cycle(8)
    day_snapshot(r, 9, 13)
    r.result(9, "C1", "10", promise_in=1)  # broken promise -> C22; promise -> C22
    r.cycle(9)
    day_snapshot(r, 10, 14)
    r.payment(10, "CR1", installments=1)  # payment -> C11
    r.cycle(10)

    assert r.moves("C1") == [
        ("", "A11", "open"),
        ("A11", "A11", "10"),
        ("A11", "A12", "60"),
        ("A12", "A13", "20"),
        ("A13", "A13", "10"),
        ("A13", "B21", "60"),
        ("B21", "C21", "20"),
        ("C21", "C21", "10"),
        ("C21", "C22", "60"),
        ("C22", "C22", "10"),
        ("C22", "C11", "PG"),
    ]
    case = r.case("C1")
    assert (case.action_code, case.classification, case.tramo) == ("C11", "C", 1)

    # The payment covered the promise due that day: kept, not broken, and the
    # snapshot that shows the paid installment raises no second PG.
    day_snapshot(r, 11, 0, installments=0)
    r.cycle(11)
    case = r.case("C1")
    assert case.status == CaseStatus.CLOSED and case.promise_date is None
    assert r.moves("C1")[-1] == ("C11", "C11", "70")
    assert not CaseHistory.objects.filter(cause="60", business_date=r.day(11)).exists()

    # Delinquent again: the case re-opens at C11, not A11.
    day_snapshot(r, 12, 3)
    r.cycle(12)
    case = r.case("C1")
    assert (case.status, case.action_code, case.classification) == ("active", "C11", "C")
    assert r.moves("C1")[-1] == ("C11", "C11", "reopen")


@pytest.mark.django_db(transaction=True)
def test_history_records_who_and_when(replay):
    r = replay
    day_snapshot(r, 1, 5)
    r.result(1, "C1", "20", hour=9)
    r.cycle(1)
    entry = r.case("C1").history.get(cause="20")
    assert entry.officer_code == "AS001"
    assert entry.at == r.at(1, 9) and entry.business_date == r.day(1)
    assert (entry.from_classification, entry.to_classification) == ("A", "A")
    assert entry.strategy_version == 1


@pytest.mark.django_db(transaction=True)
def test_dollar_exposure_is_converted_for_the_management_type(replay):
    r = replay
    r.snapshot(
        1,
        [
            # US$ 8,500 at 3.75 is S/ 31,875: above Masiva's S/ 30,000 -> Selectiva.
            overdue_row("C1", "CR1", 10, currency="USD", principal_balance="8500.00"),
            # The same figure in soles stays Masiva.
            overdue_row("C2", "CR2", 10, principal_balance="8500.00", client_name="Ana"),
        ],
    )
    r.cycle(1)
    assert r.case("C1").management_type == "B"
    assert r.case("C2").management_type == "A"
    assert r.case("C1").exposure == 31875


@pytest.mark.django_db(transaction=True)
def test_a_client_gone_from_the_snapshot_is_written_off_unless_it_paid(replay):
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 40), overdue_row("C2", "CR2", 40, client_name="Ana")])
    r.cycle(1)
    r.payment(2, "CR2", installments=2, hour=9)  # C2 pays everything, then leaves
    r.snapshot(2, [overdue_row("C3", "CR3", 0, client_name="Otro")])
    r.cycle(2)
    gone = r.case("C1")
    assert (gone.status, gone.action_code) == ("closed", "E51")  # default: CA -> E51
    assert r.moves("C1")[-1] == ("B21", "E51", "CA")
    paid = r.case("C2")
    assert paid.status == "closed" and r.moves("C2")[-1][2] == "70"
