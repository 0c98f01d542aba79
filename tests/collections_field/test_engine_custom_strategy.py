"""A strategy written only for this test: other type, tramos, classifications,
result and action codes. The engine must follow it exactly: nothing hard-coded."""

import pytest

from collections_field.models import CaseStatus
from strategy.services import strategy_publish

from .replay import Replay, overdue_row

STRATEGY = """
name: Test strategy
usd_rate: 3.5
management_types:
  - {code: M, name: Mono, max_exposure: null}
tramos:
  - {type: M, number: 1, from_day: 1, to_day: 10, max_visits: 2, daily_cap: 5}
  - {type: M, number: 2, from_day: 11, to_day: 40, max_visits: 3, daily_cap: 5}
  - {type: M, number: 3, from_day: 41, to_day: null, max_visits: 3, daily_cap: 5}
classifications:
  - {type: M, code: N, name: Nuevo, max_dpd: 10}
  - {type: M, code: R, name: Riesgoso, max_dpd: null}
results:
  - {type: M, code: OK, name: Promete, promise: true}
  - {type: M, code: NC, name: No contactado}
  - {type: M, code: TEL, name: Al teléfono, to_phone_days: 2}
events:
  - {code: "60", name: Incumplido}
  - {code: "70", name: Al día}
  - {code: "90", name: Máximo de visitas}
  - {code: PG, name: Pago}
  - {code: TR, name: Salida de tramo}
actions:
  - {type: M, code: X11, classification: N, tramo: 1, visit: 1, where: home, whom: client,
     instrument: payment_promise, message: Primera visita, letter_template: null}
  - {type: M, code: X12, classification: N, tramo: 1, visit: 2, where: home, whom: client,
     instrument: payment_promise, message: Segunda visita, letter_template: null}
  - {type: M, code: X21, classification: N, tramo: 2, visit: 1, where: business, whom: client,
     instrument: payment_promise, message: Tramo dos, letter_template: null}
  - {type: M, code: Y21, classification: R, tramo: 2, visit: 1, where: home, whom: guarantor,
     instrument: payment_promise, message: Riesgoso, letter_template: null}
  - {type: M, code: Y31, classification: R, tramo: 3, visit: 1, where: home, whom: guarantor,
     instrument: payment_promise, message: Último, letter_template: null}
bas:
  - {type: M, from: X11, on: NC, to: X12}
  - {type: M, from: X12, on: NC, to: X12}
  - {type: M, from: X12, on: "90", to: Y21}
  - {type: M, from: X11, on: TR, to: X21}
  - {type: M, from: Y21, on: TR, to: Y31}
  - {type: M, from: Y21, on: "60", to: Y31}
  - {type: M, from: Y31, on: PG, to: Y21}
  - {type: M, from: X11, on: "60", to: Y21}
action_plans:
  - {type: M, tramo: 1, order: 1, channel: sms, from_day: 1, to_day: 3, template: null,
     manual: false}
escalation:
  - {level: 2, after_days: 0}
"""


@pytest.fixture
def replay(organisation, tmp_path):
    strategy_publish(document=STRATEGY)
    return Replay(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_the_engine_follows_any_strategy(replay):
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 4, installments=2), overdue_row("C2", "CR2", 0)])
    r.result(1, "C1", "NC", hour=9)  # X11 -> X12, visit 1 of tramo 1
    r.result(1, "C1", "NC", hour=10)  # X12 -> X12, visit 2: the maximum, no 90 yet
    r.cycle(1)
    case = r.case("C1")
    assert (case.management_type, case.classification, case.action_code) == ("M", "N", "X12")
    assert (case.tramo, case.visits_in_tramo) == (1, 2)
    assert not r.case_exists("C2")  # not delinquent

    r.snapshot(2, [overdue_row("C1", "CR1", 5, installments=2)])
    r.result(2, "C1", "NC")  # visit 3 > 2: its own row (X12 -> X12), then 90 -> Y21
    r.cycle(2)
    case = r.case("C1")
    assert (case.action_code, case.classification, case.tramo) == ("Y21", "R", 2)
    assert case.visits_in_tramo == 0  # visits restart in the new tramo
    assert r.moves("C1")[-2:] == [("X12", "X12", "NC"), ("X12", "Y21", "90")]

    # After the Salto the case is ahead of its days (DPD 6 < tramo 2): never pulled back.
    r.snapshot(3, [overdue_row("C1", "CR1", 6, installments=2)])
    r.result(3, "C1", "OK", promise_in=1)  # no BAS row for (Y21, OK): the code stays
    r.cycle(3)
    assert r.case("C1").action_code == "Y21"
    assert r.case("C1").promise_date == r.day(4)

    # The promise passes unpaid: 60 -> Y31; then DPD past tramo 3's start raises no TR
    # (tramo 3 is open-ended).
    r.snapshot(5, [overdue_row("C1", "CR1", 45, installments=2)])
    r.cycle(5)
    assert r.case("C1").action_code == "Y31"
    assert r.moves("C1")[-1] == ("Y21", "Y31", "60")

    # A phone result sends the case to phone collection for 2 days, same code.
    r.snapshot(6, [overdue_row("C1", "CR1", 46, installments=2)])
    r.result(6, "C1", "TEL")
    r.cycle(6)
    case = r.case("C1")
    assert (case.status, case.phone_until, case.action_code) == ("phone", r.day(7), "Y31")
    r.snapshot(7, [overdue_row("C1", "CR1", 47, installments=2)])
    r.cycle(7)
    assert r.case("C1").status == CaseStatus.PHONE
    r.snapshot(8, [overdue_row("C1", "CR1", 48, installments=2)])
    r.cycle(8)
    assert r.case("C1").status == CaseStatus.ACTIVE

    # A partial payment (1 of 2 installments): PG -> Y21 (Baja), case stays open.
    r.snapshot(9, [overdue_row("C1", "CR1", 49, installments=1)])
    r.cycle(9)
    case = r.case("C1")
    assert (case.action_code, case.status) == ("Y21", "active")
    assert r.moves("C1")[-1] == ("Y31", "Y21", "PG")


@pytest.mark.django_db(transaction=True)
def test_tramo_exit_by_days_raises_tr_once(replay):
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 9)])
    r.cycle(1)
    assert r.case("C1").action_code == "X11"
    r.snapshot(2, [overdue_row("C1", "CR1", 11)])  # past tramo 1's end (10)
    r.cycle(2)
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("X21", 2)
    assert r.moves("C1")[-1] == ("X11", "X21", "TR")
    r.snapshot(3, [overdue_row("C1", "CR1", 12)])
    r.cycle(3)
    assert [m for m in r.moves("C1") if m[2] == "TR"] == [("X11", "X21", "TR")]


@pytest.mark.django_db(transaction=True)
def test_a_new_client_opens_at_its_classification_and_tramo(replay):
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 25), overdue_row("C2", "CR2", 3, client_name="Ana")])
    r.cycle(1)
    # DPD 25: classification R (N ends at 10), tramo 2 -> Y21; DPD 3 -> N, tramo 1 -> X11.
    assert (r.case("C1").classification, r.case("C1").action_code) == ("R", "Y21")
    assert (r.case("C2").classification, r.case("C2").action_code) == ("N", "X11")


@pytest.mark.django_db(transaction=True)
def test_a_partial_payment_keeps_the_classification_from_worsening(replay):
    r = replay
    r.snapshot(1, [overdue_row("C1", "CR1", 4, installments=2)])
    r.result(1, "C1", "OK", promise_in=1)
    r.cycle(1)
    # Day 3: the promise of day 2 is broken (X11 on 60 -> Y21, classification R), but
    # the client pays one of two installments that day: N is kept, at tramo 2 visit 1.
    r.snapshot(3, [overdue_row("C1", "CR1", 6, installments=2)])
    r.payment(3, "CR1", installments=1)
    r.cycle(3)
    case = r.case("C1")
    assert (case.action_code, case.classification) == ("X21", "N")
    broken = case.history.get(cause="60")
    assert (broken.from_code, broken.to_code) == ("X11", "X21")
    assert broken.reason == "partial payment: classification kept"
