"""The daily list (DOMAIN.md 4 step 6, thesis 5.2.9): order, cap, phone days, monthly
coverage, allowed days, campaigns; the same lists on SQLite and PostgreSQL."""

from datetime import date, datetime, time

import pytest
from django.db import transaction
from django.utils import timezone

from collections_field.engine.sql import LIMA
from collections_field.models import CycleStep, WorklistEntry
from collections_field.selectors import worklist_for
from collections_field.services import campaign_create
from portfolio.models import NonWorkingDay
from portfolio.selectors import is_collection_day
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.support import ORGANISATION, person, row

from .replay import Replay

# A second quadrant in Comas Centro (SZ01), so Rosa's (AS001) clients sit in two.
SECOND_QUADRANT = """
quadrants: [{code: Q0003, subzone: SZ01, lat: -11.9500, lon: -77.0700, size_m: 200}]
"""
IN_Q3 = {"lat": "-11.9500", "lon": "-77.0700"}


@pytest.fixture
def replay(db, tmp_path):
    organisation_load(document=ORGANISATION)
    organisation_load(document=SECOND_QUADRANT)
    strategy_load_default()
    return Replay(tmp_path)


def client(code: str, dpd: int, amount: str, installments: int = 1, **extra) -> dict:
    """One client, one PEN credit of type A (small exposure), held by Rosa (AS001)."""
    return row(
        client_code=code,
        credit_code=f"CR-{code}",
        client_name=f"Cliente {code}",
        days_past_due=str(dpd),
        overdue_installments=str(installments),
        overdue_amount=amount,
        **extra,
    )


def listed(day: date, officer: str = "AS001") -> list[tuple[int, str, str]]:
    return list(
        WorklistEntry.objects.filter(business_date=day, officer__code=officer)
        .order_by("position")
        .values_list("position", "client__code", "reason")
    )


def people(n: int) -> list[dict]:
    """The portfolio of the order test on day n (days past due grow a day a day)."""
    return [
        client("K1", 10 + n, "100.00"),  # a campaign's client on day 2
        client("K2", 10 + n, "200.00"),  # broken promise, smaller amount x days
        client("K3", 20 + n, "300.00"),  # broken promise, larger
        client("K4", 5 + n, "100.00", phone=""),  # promise due on day 2, no phone
        client("K5", 5 + n, "100.00", 2),  # promise due on day 2, with a phone
        client("Q1A", 27 + n, "100.00"),  # Q0001, one day from leaving tramo 1 on day 2
        client("Q1B", 5 + n, "400.00"),  # Q0001, weeks from it
        client("Q3A", 10 + n, "500.00", **IN_Q3),  # Q0003: the heavier quadrant
        client("V", 10 + n, "900.00", **IN_Q3),  # the heaviest, but visited this month
    ]


def play_order(r: Replay) -> None:
    r.snapshot(1, people(1))
    r.result(1, "K2", "10", promise_in=0)
    r.result(1, "K3", "10", promise_in=0)
    r.result(1, "K4", "10", promise_in=1)
    r.result(1, "K5", "10", promise_in=1)
    r.result(1, "V", "30")
    r.cycle(1)
    campaign_create(
        user=person("gerencia"), code="OP1", name="Operativo K1",
        date_from=r.day(2), date_to=r.day(2), client_codes=["K1"],
    )  # fmt: skip
    r.snapshot(2, people(2))
    r.cycle(2)


@pytest.mark.django_db(transaction=True)
def test_the_list_follows_the_order_of_the_thesis(replay):
    play_order(replay)
    assert listed(replay.day(2)) == [
        (1, "K1", "campaign"),  # (a) though the smallest
        (2, "K3", "broken_promise"),  # (b) 300 x 22 before
        (3, "K2", "broken_promise"),  # 200 x 12
        (4, "K4", "promise_due"),  # (c) no phone; K5 has one: phone day, not listed
        (5, "Q3A", "quadrant"),  # (d) Q0003 (500 x 12) outweighs Q0001 (100 x 29 + 400 x 7)
        (6, "Q1A", "quadrant"),  # inside Q0001: 1 day from leaving tramo 1 ...
        (7, "Q1B", "quadrant"),  # ... before 23 days
        (8, "V", "quadrant"),  # visited this month: after every unvisited client
    ]
    entry = WorklistEntry.objects.get(business_date=replay.day(2), client__code="Q1A")
    assert (entry.quadrant.code, entry.tramo, entry.days_past_due) == ("Q0001", 1, 29)
    assert str(entry.amount) == "100.00" and entry.action_code == "A11"
    counts = CycleStep.objects.get(run__business_date=replay.day(2), name="selection").counts
    assert counts["entries"] == 8 and counts["campaign"] == 1 and counts["broken_promise"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_rerun_of_the_step_replaces_the_days_entries(replay):
    from collections_field.engine.selection import select_worklists
    from strategy.selectors import active_strategy

    play_order(replay)
    before = listed(replay.day(2))
    with transaction.atomic():  # as the cycle runs every step
        counts = select_worklists(business_date=replay.day(2), version=active_strategy())
    assert counts["entries"] == 8 and listed(replay.day(2)) == before


@pytest.mark.django_db(transaction=True)
def test_campaign_clients_lead_only_on_the_campaigns_days(replay):
    play_order(replay)
    replay.snapshot(3, people(3))
    replay.cycle(3)
    reasons = {code: reason for _pos, code, reason in listed(replay.day(3))}
    assert reasons["K1"] == "quadrant"


@pytest.mark.django_db(transaction=True)
def test_the_phone_collection_round_trip(replay):
    """With a phone, the promise's day is a phone day and the client comes back the
    next day as a broken promise if unpaid; without one it is on the field list."""
    play_order(replay)
    day2 = {code: reason for _pos, code, reason in listed(replay.day(2))}
    assert "K5" not in day2 and day2["K4"] == "promise_due"
    replay.snapshot(3, people(3))
    replay.cycle(3)
    day3 = {code: reason for _pos, code, reason in listed(replay.day(3))}
    assert day3["K5"] == "broken_promise" and day3["K4"] == "broken_promise"


@pytest.mark.django_db(transaction=True)
def test_a_promise_paid_on_its_phone_day_does_not_come_back_broken(replay):
    play_order(replay)
    replay.payment(2, "CR-K5", installments=1, amount="100.00")  # one of its two
    rows = people(3)
    rows[4] = client("K5", 8, "50.00", 1)
    replay.snapshot(3, rows)
    replay.cycle(3)
    day3 = {code: reason for _pos, code, reason in listed(replay.day(3))}
    assert day3["K5"] == "quadrant" and day3["K4"] == "broken_promise"


@pytest.mark.django_db(transaction=True)
def test_at_most_the_tramos_cap_per_officer_and_tramo(replay):
    # 30 clients in tramo 1 (cap 25) and 3 in tramo 2 (cap 25) for the same officer.
    rows = [client(f"T{i:02d}", 5 + i % 20, "100.00") for i in range(30)]
    rows += [client(f"U{i}", 40, "100.00") for i in range(3)]
    replay.snapshot(1, rows)
    replay.cycle(1)
    entries = WorklistEntry.objects.filter(business_date=replay.day(1), officer__code="AS001")
    assert entries.filter(tramo=1).count() == 25
    assert entries.filter(tramo=2).count() == 3
    assert sorted(entries.values_list("position", flat=True)) == list(range(1, 29))
    # The cut keeps those closest to leaving tramo 1 (one quadrant; none visited).
    kept = set(entries.filter(tramo=1).values_list("days_past_due", flat=True))
    assert min(kept) >= 6


@pytest.mark.django_db(transaction=True)
def test_every_client_rises_until_visited_once_a_month(tmp_path, db):
    """X, visited on Thursday 26 November, falls behind Y for the rest of November
    and leads again on 1 December."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    r = Replay(tmp_path, first_day=date(2026, 11, 26))

    def rows(n):  # X is closer to leaving tramo 1 than Y
        return [client("X", 20 + n, "100.00"), client("Y", 5 + n, "100.00")]

    r.snapshot(1, rows(1))
    r.result(1, "X", "30")
    r.cycle(1)
    assert listed(r.day(1)) == [(1, "X", "quadrant"), (2, "Y", "quadrant")]
    r.snapshot(2, rows(2))
    r.cycle(2)
    assert listed(r.day(2)) == [(1, "Y", "quadrant"), (2, "X", "quadrant")]
    r.snapshot(6, rows(6))  # Tuesday 1 December: a new month
    r.cycle(6)
    assert listed(r.day(6)) == [(1, "X", "quadrant"), (2, "Y", "quadrant")]


@pytest.mark.parametrize(
    ("day", "allowed"),
    [
        (date(2026, 11, 2), True),  # Monday
        (date(2026, 11, 7), False),  # Saturday
        (date(2026, 11, 8), False),  # Sunday
        (date(2026, 12, 8), False),  # Inmaculada Concepción
        (date(2026, 7, 28), False),  # Fiestas Patrias
    ],
)
@pytest.mark.django_db
def test_collection_days(day, allowed):
    assert is_collection_day(day) is allowed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("n", "why"),
    [(6, "saturday"), (7, "sunday"), (37, "holiday 2026-12-08"), (3, "lender's day")],
)
def test_no_list_on_a_day_without_collection_visits(replay, n, why):
    NonWorkingDay.objects.create(date=date(2026, 11, 4), name="Día no laborable decretado")
    replay.snapshot(n, people(n))
    run = replay.cycle(n)
    assert run.status == "done"
    counts = run.steps.get(name="selection").counts
    assert counts["collection_day"] == 0 and counts["entries"] == 0, why
    assert not WorklistEntry.objects.filter(business_date=replay.day(n)).exists()
    assert (
        worklist_for(user=person("gerencia"), officer_code="AS001", business_date=replay.day(n))
        == []
    )


@pytest.mark.django_db(transaction=True)
def test_results_on_a_day_without_visits_are_kept_but_flagged(replay):
    replay.snapshot(1, people(1))
    replay.cycle(1)
    NonWorkingDay.objects.create(date=replay.day(3), name="Feriado regional")
    saturday = replay.result(6, "K1", "30")
    lender_day = replay.result(3, "K2", "30")
    late = replay.result(1, "K3", "30", hour=21)
    fine = replay.result(1, "K4", "30")
    inbound = replay.result(6, "K5", "30", channel="inbound")
    assert "off_day" in saturday.flags and "off_hours" not in saturday.flags
    assert "off_day" in lender_day.flags and "off_hours" not in lender_day.flags
    assert "off_hours" in late.flags and "off_day" not in late.flags
    assert "off_day" not in fine.flags and "off_hours" not in fine.flags
    assert "off_day" not in inbound.flags


@pytest.mark.django_db(transaction=True)
def test_lights_of_a_list(replay, monkeypatch):
    replay.snapshot(1, people(1))
    replay.cycle(1)
    rosa = person("rquispe")

    def lights(at: datetime) -> dict[str, str]:
        monkeypatch.setattr(timezone, "now", lambda: at)
        rows = worklist_for(user=rosa, officer_code="AS001", business_date=replay.day(1))
        return {r.client_code: r.light for r in rows}

    morning = datetime.combine(replay.day(1), time(9), tzinfo=LIMA)
    assert set(lights(morning).values()) == {"amber"}
    replay.result(1, "Q1A", "30", hour=10)
    noon = lights(datetime.combine(replay.day(1), time(12), tzinfo=LIMA))
    assert noon["Q1A"] == "green" and noon["Q1B"] == "amber"
    night = lights(datetime.combine(replay.day(1), time(20, 30), tzinfo=LIMA))
    assert night["Q1A"] == "green" and night["Q1B"] == "red"
    tomorrow = lights(datetime.combine(replay.day(2), time(8), tzinfo=LIMA))
    assert tomorrow["Q1B"] == "red"


@pytest.mark.django_db(transaction=True)
def test_a_worklist_row_carries_the_action_and_the_address(replay):
    play_order(replay)
    rows = worklist_for(user=person("rquispe"), officer_code="AS001", business_date=replay.day(2))
    first = rows[0]
    assert (first.position, first.client_code, first.reason, first.campaign_code) == (
        1, "K1", "campaign", "OP1",
    )  # fmt: skip
    assert first.action_code == "A11" and first.where and first.instrument
    assert first.phones == ("987654321",) and first.lat == pytest.approx(-11.9401)
    assert first.address_text == "Av. Túpac Amaru 1234, Comas"
    k4 = next(r for r in rows if r.client_code == "K4")
    assert k4.phones == ()


@pytest.mark.django_db(transaction=True)
def test_worklist_for_reads_a_fixed_number_of_queries(replay, django_assert_max_num_queries):
    rows = [client(f"T{i:02d}", 5 + i, "100.00") for i in range(2)]
    rows += [client(f"U{i:02d}", 5 + i, "100.00", agency_code="AG02", lat="-16.4",
                    lon="-71.54", origin_officer_code="AS002") for i in range(20)]  # fmt: skip
    replay.snapshot(1, rows)
    replay.cycle(1)
    gerente = person("gerencia")
    for officer, length in (("AS001", 2), ("AS002", 20)):
        with django_assert_max_num_queries(7):
            answer = worklist_for(user=gerente, officer_code=officer, business_date=replay.day(1))
        assert len(answer) == length
