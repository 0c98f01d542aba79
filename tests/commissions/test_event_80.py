"""An approved refinancing raises event 80 on the case, and the BAS table of a strategy
written only for this test moves it in the next cycle. The engine knows nothing of
refinancing: the request reaches it through the settings-declared item source."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from collections_field.engine.sql import LIMA
from collections_field.models import CaseEvent
from commissions.models import RefinancingRequest
from commissions.refinancing.services import (
    refinancing_request_approve,
    refinancing_request_create,
)
from portfolio.services import organisation_load
from strategy.services import strategy_publish
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION, person

STRATEGY = """
name: Refinanciación de prueba
usd_rate: 3.5
management_types:
  - {code: M, name: Mono, max_exposure: null}
tramos:
  - {type: M, number: 1, from_day: 1, to_day: 10, max_visits: 3, daily_cap: 5}
  - {type: M, number: 2, from_day: 11, to_day: 40, max_visits: 3, daily_cap: 5}
  - {type: M, number: 3, from_day: 41, to_day: null, max_visits: 3, daily_cap: 5}
classifications:
  - {type: M, code: N, name: Nuevo, max_dpd: 10}
  - {type: M, code: R, name: Riesgoso, max_dpd: null}
results:
  - {type: M, code: NC, name: No contactado}
events:
  - {code: "70", name: Al día}
  - {code: "80", name: Refinanciado}
  - {code: PG, name: Pago}
actions:
  - {type: M, code: X21, classification: N, tramo: 2, visit: 1, where: home, whom: client,
     instrument: payment_promise, message: Tramo dos, letter_template: null}
  - {type: M, code: Y21, classification: R, tramo: 2, visit: 1, where: home, whom: client,
     instrument: payment_promise, message: Seguimiento del refinanciado, letter_template: null}
  - {type: M, code: Y31, classification: R, tramo: 3, visit: 1, where: home, whom: client,
     instrument: restructuring_offer_a, message: Ofrecer refinanciar, letter_template: null}
bas:
  - {type: M, from: Y31, on: "80", to: Y21}
  - {type: M, from: Y21, on: "80", to: X21}
action_plans:
  - {type: M, tramo: 3, order: 1, channel: refinancing_offer, from_day: 41, to_day: 90,
     template: null, manual: true}
escalation:
  - {level: 2, after_days: 0}
refinancing_products:
  - {code: RM, name: Refinanciado mono, min_dpd: 30, max_dpd: null, max_term_months: 12,
     tea: 0.36}
"""

OFFICERS = """
officers:
  - {code: AS001, name: Rosa Quispe, agency: AG01, external_agency: null,
     subzones: [SZ01], tramos: [1, 2, 3], username: rquispe}
"""


@pytest.fixture
def replay(transactional_db, tmp_path) -> Replay:
    organisation_load(document=ORGANISATION)
    organisation_load(document=OFFICERS)
    strategy_publish(document=STRATEGY)
    replay = Replay(tmp_path)
    replay.snapshot(1, [overdue_row("C1", "CR1", 45, installments=2)])
    replay.cycle(1)
    assert replay.case("C1").action_code == "Y31"
    return replay


def approve(replay: Replay, n: int, hour: int = 15) -> RefinancingRequest:
    """Rosa requests on day n at 10:00; the jefe approves at `hour`."""
    request = refinancing_request_create(
        user=person("rquispe"), credit_code="CR1", product="RM", term_months=12,
        down_payment=Decimal("0"), first_due_date=replay.day(n) + timedelta(days=30),
        reason="Ventas bajas", at=replay.at(n, 10),
    )  # fmt: skip
    assert request.status == RefinancingRequest.Status.PENDING
    return refinancing_request_approve(
        user=person("jcastro"), request_id=request.pk, at=replay.at(n, hour)
    )


def eighties(client: str = "C1") -> list[tuple[date, str]]:
    return list(
        CaseEvent.objects.filter(case__client__code=client, code="80")
        .order_by("business_date")
        .values_list("business_date", "detail")
    )


def test_the_approval_moves_the_case_in_the_next_cycle(replay):
    r = replay
    request = approve(r, 1)
    # Nothing moves until a cycle takes the approval in.
    assert r.case("C1").action_code == "Y31"
    r.snapshot(2, [overdue_row("C1", "CR1", 46, installments=2)])
    r.cycle(2)
    assert r.moves("C1")[-1] == ("Y31", "Y21", "80")
    assert eighties() == [(r.day(2), f"refinancing request {request.pk}")]
    history = r.case("C1").history.filter(cause="80").get()
    assert history.at == datetime(2026, 11, 2, 15, 0, tzinfo=LIMA)  # the approval's moment
    request.refresh_from_db()
    assert request.event_on == r.day(2)

    # Core banking booked it: the credit comes back with 24 installments instead of 12
    # and still one overdue. That change is this refinancing's: no second 80.
    r.snapshot(3, [overdue_row("C1", "CR1", 5, installments=1, total_installments="24")])
    r.cycle(3)
    assert r.case("C1").action_code == "Y21"
    assert len(eighties()) == 1

    # A later rescheduling by core banking is an 80 of its own, as before.
    r.snapshot(4, [overdue_row("C1", "CR1", 6, installments=1, total_installments="30")])
    r.cycle(4)
    assert r.moves("C1")[-1] == ("Y21", "X21", "80")
    assert eighties()[-1] == (r.day(4), "rescheduled")


def test_booked_before_the_next_snapshot_it_is_still_one_80(replay):
    r = replay
    approve(r, 1, hour=11)
    # Booked the same evening: the very next snapshot already shows the new schedule.
    r.snapshot(2, [overdue_row("C1", "CR1", 46, installments=2, total_installments="24")])
    r.cycle(2)
    assert [e[1].startswith("refinancing request") for e in eighties()] == [True]
    assert r.moves("C1")[-1] == ("Y31", "Y21", "80")


def test_an_approval_after_the_business_date_waits_for_its_cycle(replay):
    r = replay
    r.snapshot(2, [overdue_row("C1", "CR1", 46, installments=2)])
    request = approve(r, 3)  # approved on day 3 at 15:00, before day 2's cycle runs
    r.cycle(2)  # the cycle for day 2 takes in only what happened before the end of day 2
    assert eighties() == []
    assert RefinancingRequest.objects.get(pk=request.pk).event_on is None
    r.snapshot(3, [overdue_row("C1", "CR1", 47, installments=2)])
    r.cycle(3)
    assert eighties() == [(r.day(3), f"refinancing request {request.pk}")]
    assert r.moves("C1")[-1] == ("Y31", "Y21", "80")


def test_the_commission_line_of_a_refinancing_names_its_request(replay):
    """A disputed refinancing commission is traced to the request the jefe approved,
    not only to the case's move (DOMAIN.md 6: every line names its record)."""
    from commissions.models import CommissionLine
    from commissions.statements.services import commissions_compute

    r = replay
    strategy_publish(
        document=STRATEGY + "commission_scheme: {per_cured_client: 15.00, collected_share: 0.01,"
        " per_refinanced_client: 20.00, office_target_multiplier: 1.2,"
        " external_agency_share: 0.08, effective_days: 7}\n"
    )
    request = approve(r, 1)
    r.snapshot(2, [overdue_row("C1", "CR1", 46, installments=2)])
    r.cycle(2)
    commissions_compute(month=r.day(2).replace(day=1))
    [line] = CommissionLine.objects.filter(kind="refinancing", statement__officer__isnull=False)
    assert (line.reference, line.credit_code) == (f"request:{request.pk}", "CR1")
    assert line.value == Decimal("20.00")
