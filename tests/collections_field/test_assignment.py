"""Who works each case (thesis 5.2.7, 5.2.8; DOMAIN.md 4 step 4)."""

from collections import Counter

import pytest

from collections_field.models import Case
from portfolio.services import organisation_load
from strategy.services import strategy_load_default

from .replay import Replay, overdue_row

MORE_OFFICERS = """
officers:
  - {code: AS003, name: Ana Huamán, agency: AG01, subzones: [SZ01], tramos: [4, 5],
     username: ahuaman}
  - {code: AS004, name: Luis Torres, agency: AG01, subzones: [SZ01], tramos: [1, 2, 3],
     username: ltorres}
  - {code: EX001, name: Cobra Rápido, agency: AG01, external_agency: EX01,
     subzones: [SZ02], tramos: [1, 2, 3, 4, 5], username: crapido}
"""


@pytest.fixture
def replay(organisation, tmp_path):
    organisation_load(document=MORE_OFFICERS)
    strategy_load_default()
    return Replay(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_a_new_case_goes_to_the_officer_of_its_most_delinquent_credit(replay):
    r = replay
    r.snapshot(1, [overdue_row("C0", "CR0", 5)])
    r.cycle(1)  # the month's first cycle (the even spread) is behind us
    r.snapshot(
        2,
        [
            overdue_row("C0", "CR0", 6),
            overdue_row("C1", "CR1", 5, origin_officer_code="AS001"),
            overdue_row("C1", "CR2", 20, origin_officer_code="AS004"),
        ],
    )
    r.cycle(2)
    case = r.case("C1")
    assert case.officer.code == "AS004" and case.assigned_tramo == case.tramo == 1


@pytest.mark.django_db(transaction=True)
def test_a_tramo_jump_reassigns_at_once_to_who_covers_it(replay):
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 89, installments=3)])
    r.cycle(1)
    assert (r.case("C1").action_code, r.case("C1").officer.code) == ("C31", "AS001")
    r.snapshot(2, [overdue_row("C1", "CR1", 91, installments=4)])  # TR: tramo 3 -> 4
    r.cycle(2)
    case = r.case("C1")
    assert case.tramo == 4 and case.officer.code == "AS003"
    assignment = case.history.filter(cause_kind="assign").last()
    assert assignment.reason == "AS001 -> AS003"


@pytest.mark.django_db(transaction=True)
def test_an_external_agency_covering_the_subzone_gets_the_case(replay):
    r = replay
    # The client lives in quadrant Q0002 (subzone SZ02), covered only by EX01's officer.
    r.snapshot(1, [overdue_row("C1", "CR1", 10, quadrant_code="Q0002", origin_officer_code="")])
    r.cycle(1)
    case = r.case("C1")
    assert case.officer.code == "EX001" and case.external_agency.code == "EX01"


@pytest.mark.django_db(transaction=True)
def test_the_month_start_spreads_the_portfolio_evenly(replay):
    r = replay  # day 1 is 2 November: the first cycle of the month
    rows = [overdue_row(f"C{i:02d}", f"CR{i:02d}", 10, origin_officer_code="AS001")
            for i in range(10)]  # fmt: skip
    r.snapshot(1, rows)
    r.cycle(1)
    spread = Counter(Case.objects.values_list("officer__code", flat=True))
    assert spread == {"AS001": 5, "AS004": 5}
    # Later in the month a new case goes to its credit's officer, not spread again.
    r.snapshot(2, [*rows, overdue_row("C99", "CR99", 3, origin_officer_code="AS004")])
    r.cycle(2)
    assert r.case("C99").officer.code == "AS004"
    assert Counter(Case.objects.values_list("officer__code", flat=True)) == {
        "AS001": 5,
        "AS004": 6,
    }
