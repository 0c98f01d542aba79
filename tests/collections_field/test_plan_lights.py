"""Action plans dated per case, their traffic lights and escalation (DOMAIN.md 4 steps
5 and 7), on a strategy written for these tests (its own windows and escalation days:
nothing is hard-coded)."""

from collections import Counter

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collections_field.engine.escalation import escalated_actions, escalation_levels, version_on
from collections_field.models import LightSummary, PlannedAction
from collections_field.selectors import case_lights
from collections_field.services import action_mark_done
from portfolio.models import Agency
from portfolio.services import organisation_load
from strategy.services import strategy_publish
from tests.support import ORGANISATION

from .replay import Replay, overdue_row

STRATEGY = """
name: Plan test strategy
usd_rate: 3.5
management_types:
  - {code: M, name: Mono, max_exposure: null}
tramos:
  - {type: M, number: 1, from_day: 1, to_day: 10, max_visits: 9, daily_cap: 5}
  - {type: M, number: 2, from_day: 11, to_day: null, max_visits: 9, daily_cap: 5}
classifications:
  - {type: M, code: N, name: Nuevo, max_dpd: null}
results:
  - {type: M, code: NC, name: No contactado}
events:
  - {code: "60", name: Incumplido}
  - {code: "70", name: Al día}
  - {code: "90", name: Máximo de visitas}
  - {code: PG, name: Pago}
  - {code: TR, name: Salida de tramo}
actions:
  - {type: M, code: X11, classification: N, tramo: 1, visit: 1, where: home, whom: client,
     instrument: payment_promise, message: Primera, letter_template: null}
  - {type: M, code: X21, classification: N, tramo: 2, visit: 1, where: home, whom: client,
     instrument: payment_promise, message: Segunda, letter_template: null}
bas:
  - {type: M, from: X11, on: NC, to: X11}
  - {type: M, from: X11, on: TR, to: X21}
  - {type: M, from: X21, on: NC, to: X21}
action_plans:
  - {type: M, tramo: 1, order: 1, channel: sms, from_day: 1, to_day: 3, template: null,
     manual: false}
  - {type: M, tramo: 1, order: 2, channel: visit, from_day: 2, to_day: 4, template: null,
     manual: true}
  - {type: M, tramo: 1, order: 3, channel: call, from_day: 6, to_day: 8, template: null,
     manual: true}
  - {type: M, tramo: 2, order: 1, channel: call, from_day: 11, to_day: 20, template: null,
     manual: true}
escalation:
  - {level: 2, after_days: 0}
  - {level: 3, after_days: 2}
  - {level: 4, after_days: 5}
"""

HOME = {"lat": -11.9401, "lon": -77.0610}  # C1's home: a visit there is GPS-verified


@pytest.fixture
def replay(organisation, tmp_path):
    strategy_publish(document=STRATEGY)
    return Replay(tmp_path)


def night(r: Replay, n: int, clients=("C1",)) -> None:
    """Day n's snapshot (days past due = n) and cycle."""
    r.snapshot(n, [overdue_row(c, f"CR{c}", n) for c in clients])
    r.cycle(n)


def action(channel: str, client: str = "C1") -> PlannedAction:
    return PlannedAction.objects.filter(case__client__code=client, channel=channel).latest("id")


def level_on(r: Replay, n: int, item: PlannedAction) -> int | None:
    day = r.day(n)
    levels = escalation_levels(version_on(day))
    for level, _after in levels:
        if escalated_actions(business_date=day, levels=levels, level=level).filter(pk=item.pk):
            return level
    return None


def recount(day) -> dict[tuple[str, int], dict[str, int]]:
    """The semáforo counted straight from the actions, the long way."""
    month = day.replace(day=1)
    zones = dict(Agency.objects.values_list("id", "zone_id"))
    counts: dict[tuple[str, int], Counter] = {}
    for a in PlannedAction.objects.select_related("case__client"):
        if a.status == "cancelled" or a.window_from > day:
            continue
        if a.status in ("queued", "open"):
            bucket = "amber" if day <= a.window_to else "red_pending"
        elif a.window_to < month:
            continue
        else:
            bucket = "red_late" if a.late else "green"
        agency = a.case.client.agency_id
        keys = [("company", 0), ("agency", agency), ("zone", zones[agency])]
        if a.officer_id:
            keys.append(("officer", a.officer_id))
        for key in keys:
            counts.setdefault(key, Counter())[bucket] += 1
    return {k: dict(v) for k, v in counts.items()}


def summary(day) -> dict[tuple[str, int], dict[str, int]]:
    rows = {}
    for s in LightSummary.objects.filter(business_date=day):
        counts = {b: getattr(s, b) for b in ("green", "amber", "red_pending", "red_late")}
        counts = {b: n for b, n in counts.items() if n}
        if counts or s.level != "company":
            rows[(s.level, s.key)] = counts
    return {k: v for k, v in rows.items() if v}


@pytest.mark.django_db(transaction=True)
def test_an_action_not_done_turns_red_and_climbs_on_the_configured_days(replay):
    r = replay
    night(r, 1)
    assert not PlannedAction.objects.filter(channel="visit").exists()  # opens at DPD 2
    night(r, 2)
    visit = action("visit")
    assert (visit.window_from, visit.window_to) == (r.day(2), r.day(4))  # W = day 4
    assert visit.status == "open" and visit.officer.code == "AS001"
    expected = {3: None, 4: None, 5: 2, 6: 2, 7: 3, 8: 3, 9: 3, 10: 4}
    for n in range(3, 11):
        night(r, n)
        assert level_on(r, n, visit) == expected[n], n
    case_id = r.case("C1").pk
    assert case_lights(case_ids=[case_id], business_date=r.day(10)) == {case_id: "red"}
    summary_10 = LightSummary.objects.get(business_date=r.day(10), level="officer")
    assert summary_10.red_pending == 2  # the visit and the call (W = day 8)

    # Done late (day 10): out of the inboxes, but red for good.
    r.result(10, "C1", "NC", **HOME)
    visit.refresh_from_db()
    assert visit.status == "done" and visit.late and visit.done_by_result is not None
    assert level_on(r, 10, visit) is None
    summary_10.refresh_from_db()
    assert (summary_10.red_pending, summary_10.red_late) == (1, 1)
    assert summary(r.day(10)) == recount(r.day(10))

    # Day 11: the days cross the tramo's end (TR): tramo 1's pending actions are
    # missed (their windows had passed), tramo 2's plan starts.
    night(r, 11)
    assert r.case("C1").tramo == 2
    assert action("call").tramo == 2 and action("call").status == "open"
    tramo1 = dict(PlannedAction.objects.filter(tramo=1).values_list("channel", "status"))
    assert tramo1 == {"sms": "missed", "visit": "done", "call": "missed"}
    assert PlannedAction.objects.get(tramo=1, channel="visit").late
    assert summary(r.day(11)) == recount(r.day(11))


@pytest.mark.django_db(transaction=True)
def test_an_action_done_in_its_window_is_green(replay):
    r = replay
    night(r, 1)
    night(r, 2)
    r.result(3, "C1", "NC", **HOME)  # registered after day 2's cycle: matched at once
    visit = action("visit")
    assert visit.status == "done" and not visit.late
    case_id = r.case("C1").pk
    assert case_lights(case_ids=[case_id], business_date=r.day(2)) == {case_id: "amber"}  # sms
    officer = LightSummary.objects.get(business_date=r.day(2), level="officer")
    assert (officer.green, officer.amber) == (1, 0)
    night(r, 3)
    night(r, 5)
    assert level_on(r, 5, action("visit")) is None
    detail = {a.channel: a for a in PlannedAction.objects.all()}
    assert detail["visit"].status == "done"
    assert summary(r.day(5)) == recount(r.day(5))


@pytest.mark.django_db(transaction=True)
def test_a_result_registered_before_its_action_existed_counts(replay):
    r = replay
    night(r, 1)
    r.result(2, "C1", "NC", **HOME)  # the replay registers day 2's visit, then the cycle
    r.result(2, "C1", "NC", hour=11)  # no GPS: a visit not verified does nothing
    night(r, 2)
    visit = action("visit")
    assert visit.status == "done" and not visit.late
    assert visit.done_at == r.at(2, 10)


@pytest.mark.django_db(transaction=True)
def test_automatic_actions_wait_in_the_queue_for_dispatch(replay):
    r = replay
    night(r, 1)
    sms = action("sms")
    assert (sms.status, sms.officer, sms.manual) == ("queued", None, False)
    assert (sms.window_from, sms.window_to) == (r.day(1), r.day(3))
    # Dispatch (a later issue) reports the delivery through the service.
    action_mark_done(action=sms, at=r.at(2, 9))
    sms.refresh_from_db()
    assert sms.status == "done" and not sms.late
    action_mark_done(action=sms, at=r.at(5, 9))  # twice: nothing changes
    sms.refresh_from_db()
    assert sms.done_at == r.at(2, 9)
    assert summary(r.day(1)) == recount(r.day(1))


@pytest.mark.django_db(transaction=True)
def test_a_cure_cancels_running_windows_and_misses_passed_ones(replay):
    r = replay
    for n in range(1, 7):
        night(r, n)
    assert action("call").status == "open"  # window day 6 to day 8
    r.snapshot(7, [overdue_row("C1", "CRC1", 0)])
    r.cycle(7)
    statuses = dict(PlannedAction.objects.values_list("channel", "status"))
    assert statuses == {"sms": "missed", "visit": "missed", "call": "cancelled"}
    assert summary(r.day(7)) == recount(r.day(7))


@pytest.mark.django_db(transaction=True)
def test_a_re_run_plans_nothing_twice(replay):
    r = replay
    night(r, 1)
    night(r, 2)
    before = list(PlannedAction.objects.values_list("id", "status", "window_from"))
    from collections_field.engine.plan import plan_actions
    from strategy.selectors import active_strategy

    with transaction.atomic():  # as the cycle runs a step (temporary tables)
        counts = plan_actions(
            business_date=r.day(2), version=active_strategy(), previous_snapshot=r.day(1)
        )
    assert counts["planned"] == 0
    assert list(PlannedAction.objects.values_list("id", "status", "window_from")) == before


CLIENTS = ("C1", "C2", "C3")


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    results=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=6),  # day
            st.sampled_from(CLIENTS),
            st.sampled_from(["visit", "call"]),
            st.booleans(),  # at home (verified) or far away
            st.booleans(),  # before or after the day's cycle
        ),
        max_size=12,
    )
)
def test_the_summary_equals_a_recount_after_any_results(tmp_path_factory, results):
    # The import's temporary tables need real commits: each example starts afresh.
    call_command("flush", interactive=False)
    organisation_load(document=ORGANISATION)
    strategy_publish(document=STRATEGY)
    r = Replay(tmp_path_factory.mktemp("days"))
    for n in range(1, 7):
        for day, client, channel, home, before in results:
            if day == n and before and n > 1:  # no client before day 1
                _result(r, n, client, channel, home)
        night(r, n, CLIENTS)
        for day, client, channel, home, before in results:
            if day == n and not before:
                _result(r, n, client, channel, home)
        assert summary(r.day(n)) == recount(r.day(n)), n


def _result(r: Replay, n: int, client: str, channel: str, home: bool) -> None:
    place = HOME if home else {"lat": -12.5, "lon": -76.0}
    r.result(n, client, "NC", channel=channel, **place)
