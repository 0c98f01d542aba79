"""The outbox and `dispatch`: exactly once, within the law (DOMAIN.md 5, 7.3)."""

import threading
from datetime import date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from collections_field.engine.lights import compute_lights
from collections_field.engine.sql import LIMA
from collections_field.models import LightSummary, PlannedAction
from notifications.models import OutgoingMessage
from notifications.services import Clock, dispatch, outbox_fill
from notifications.tasks import message_send_task
from portfolio.models import ChannelConsent, Client, NonWorkingDay

from .conftest import night, start


def lima(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=LIMA).replace(hour=hour, minute=minute)


def message(client: str) -> OutgoingMessage:
    return OutgoingMessage.objects.get(case__client__code=client)


def sent_to(gateway) -> list[str]:
    return sorted(m.to for m in gateway.sent)


def test_each_due_action_becomes_one_message_and_is_sent_once(replay, recording_gateway):
    at = replay.at(1, 10)
    assert outbox_fill(at=at) == 2
    assert outbox_fill(at=at) == 0  # one row per action, whatever the re-runs
    first = dispatch(at=at)
    assert first.counts["sent"] == 2
    assert sent_to(recording_gateway) == ["+51912345678", "+51987654321"]
    again = dispatch(at=at)  # the same instant twice sends nothing more
    later = dispatch(at=replay.at(1, 15))
    assert again.counts["sent"] == later.counts["sent"] == 0
    assert len(recording_gateway.sent) == 2
    row = message("C1")
    assert (row.status, row.gate, row.gate_reason) == ("sent", "sent", "")
    assert row.valid_until == replay.at(1, 20)  # never delivered after 20:00 Lima
    assert row.provider_id == f"REC{row.pk}" and row.sent_at == at
    assert row.text.startswith("Rosa, your credit at agency Comas has an overdue balance")
    assert [(e.from_status, e.to_status) for e in row.events.all()] == [
        ("queued", "sending"),
        ("sending", "sent"),
    ]


def test_a_task_delivered_twice_sends_once(replay, recording_gateway):
    outbox_fill(at=replay.at(1, 9))
    row = message("C1")
    at = replay.at(1, 9).isoformat()
    # As a worker runs a task the broker delivered twice (acks_late, a redelivery).
    first = message_send_task.apply(args=(row.pk, at)).get()
    second = message_send_task.apply(args=(row.pk, at)).get()
    assert (first, second) == ("sent", "skipped")
    assert len(recording_gateway.sent) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_the_same_rows_send_each_once(tmp_path, recording_gateway):
    replay = start(tmp_path)
    outbox_fill(at=replay.at(1, 9))
    errors = []

    def worker():
        try:
            dispatch(at=replay.at(1, 9))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sent_to(recording_gateway) == ["+51912345678", "+51987654321"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_at_the_same_moment_sends_once(tmp_path, recording_gateway):
    """Two workers run the same task at once (a redelivery while the first still runs):
    both pass the gate, one claim wins."""
    replay = start(tmp_path, clients=("C1",))
    outbox_fill(at=replay.at(1, 9))
    row = message("C1")
    both = threading.Barrier(2)
    outcomes, errors = [], []

    def worker():
        try:
            both.wait()
            task = message_send_task.apply(args=(row.pk, replay.at(1, 9).isoformat()))
            outcomes.append(task.get())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(recording_gateway.sent) == 1
    assert message("C1").events.filter(to_status="sending").count() == 1


def test_the_console_gateway_delivers_and_the_action_is_done(replay, settings, tmp_path):
    spool = tmp_path / "outbox.jsonl"
    settings.SEMAFORO_DISPATCH = {
        **settings.SEMAFORO_DISPATCH,
        "GATEWAYS": {"default": "notifications.gateways.ConsoleGateway"},
        "CONSOLE_FILE": str(spool),
    }
    call_command("dispatch", "--at", "2026-11-02T10:00")
    row = message("C1")
    assert row.status == "delivered" and row.final_at == replay.at(1, 10)
    action = PlannedAction.objects.get(pk=row.action_id)
    assert action.status == "done" and action.done_at == replay.at(1, 10)
    assert len(spool.read_text().splitlines()) == 2
    call_command("dispatch", "--at", "2026-11-02T10:00")
    assert len(spool.read_text().splitlines()) == 2


def test_delivered_messages_move_the_day_lights_as_a_recount_would(replay, settings):
    """The delivered chunk's actions are done together (`actions_mark_done`): the
    summary the pages read moves exactly as drawing it again would."""
    settings.SEMAFORO_DISPATCH = {
        **settings.SEMAFORO_DISPATCH,
        "GATEWAYS": {"default": "notifications.gateways.ConsoleGateway"},
    }
    assert dispatch(at=replay.at(1, 10)).counts["delivered"] == 2
    columns = ("level", "key", "green", "amber", "red_pending", "red_late")
    summary = LightSummary.objects.filter(business_date=replay.day(1))
    moved = sorted(summary.values_list(*columns))
    compute_lights(business_date=replay.day(1))
    assert moved == sorted(summary.values_list(*columns))
    assert {level: green for level, _k, green, *_ in moved}["company"] == 2


class JumpingClock(Clock):
    """A batch that starts at 19:55 and is still running when 20:00 strikes."""

    def __init__(self, at, jump_after: int):
        super().__init__(at)
        self.calls = 0
        self.jump_after = jump_after

    def now(self):
        self.calls += 1
        return self.at if self.calls <= self.jump_after else self.at + timedelta(minutes=6)


def test_a_batch_queued_at_1955_sends_nothing_after_2000(replay, recording_gateway):
    at = replay.at(1, 19, 55)
    # The first message takes two clock readings to be sent; then it is 20:01.
    result = dispatch(at=at, clock=JumpingClock(at, jump_after=3))
    assert result.counts["sent"] == 1 and result.counts["postponed"] == 1
    assert all(m.valid_until == replay.at(1, 20) for m in recording_gateway.sent)
    waiting = OutgoingMessage.objects.get(status="queued")
    assert (waiting.gate, waiting.gate_reason, waiting.valid_until) == (
        "postponed",
        "quiet_hours",
        None,
    )
    for hour, minute in ((20, 0), (20, 1), (23, 59)):
        assert dispatch(at=replay.at(1, hour, minute)).counts["sent"] == 0
    assert len(recording_gateway.sent) == 1
    assert dispatch(at=replay.at(2, 6, 59)).counts["sent"] == 0
    assert dispatch(at=replay.at(2, 7, 0)).counts["sent"] == 1  # the next morning


def test_nothing_goes_out_on_saturday_sunday_or_a_holiday(db, tmp_path, recording_gateway):
    friday = date(2026, 11, 6)
    replay = start(tmp_path, first_day=friday, clients=("C1",))
    dispatch(at=replay.at(1, 21))
    assert message("C1").gate_reason == "quiet_hours"
    dispatch(at=replay.at(2, 10))  # Saturday
    assert message("C1").gate_reason == "weekend"
    dispatch(at=replay.at(3, 10))  # Sunday
    dispatch(at=replay.at(3, 11))  # a postponement is stored once per reason
    dispatch(at=replay.at(4, 10))  # Monday: the window (Friday to Sunday) has closed
    assert recording_gateway.sent == []
    row = message("C1")
    assert (row.status, row.gate, row.gate_reason) == ("expired", "blocked", "window_passed")
    assert [(e.to_status, e.reason) for e in row.events.all()] == [
        ("queued", "quiet_hours"),
        ("queued", "weekend"),
        ("expired", "window_passed"),
    ]


def test_nothing_goes_out_on_28_and_29_july_or_a_lender_day_off(db, tmp_path, recording_gateway):
    replay = start(tmp_path, first_day=date(2026, 7, 27), clients=("C1",))
    NonWorkingDay.objects.create(date=date(2026, 7, 27), name="Día no laborable")
    for n in (1, 2, 3):  # 27 (the lender's), 28 and 29 July (national holidays)
        dispatch(at=replay.at(n, 10))
        assert message("C1").gate_reason == "holiday"
    assert recording_gateway.sent == []


def test_a_case_that_pays_at_10_gets_no_11_oclock_reminder(replay, recording_gateway):
    dispatch(at=replay.at(1, 6))  # queued before the day's window opens
    replay.payment(1, "CR1", hour=10)
    dispatch(at=replay.at(1, 11))
    assert sent_to(recording_gateway) == ["+51912345678"]  # C2 only
    row = message("C1")
    assert (row.status, row.gate, row.gate_reason) == ("blocked", "blocked", "paid")
    assert PlannedAction.objects.get(pk=row.action_id).status == "queued"  # not done


def test_a_payment_later_that_day_does_not_block_an_earlier_send(replay, recording_gateway):
    replay.payment(1, "CR1", hour=12)
    dispatch(at=replay.at(1, 9))  # the replay knows the noon payment; 09:00 did not
    assert message("C1").status == "sent"


def test_an_opted_out_channel_is_blocked(replay, recording_gateway):
    ChannelConsent.objects.create(
        client=Client.objects.get(code="C1"), channel="sms", consent=False
    )
    dispatch(at=replay.at(1, 10))
    assert message("C1").gate_reason == "opt_out"
    assert sent_to(recording_gateway) == ["+51912345678"]


def test_a_client_without_a_mobile_number_is_blocked(replay, recording_gateway):
    Client.objects.filter(code="C1").update(phone="01 5551234")  # a Lima landline
    dispatch(at=replay.at(1, 10))
    assert message("C1").gate_reason == "no_address"


@pytest.mark.django_db(transaction=True)  # several nights: the import's temporary tables
def test_the_contact_cap_postpones(tmp_path, recording_gateway, settings):
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "CONTACT_CAP": 1}
    replay = start(tmp_path, clients=("C1",))
    dispatch(at=replay.at(1, 10))  # the SMS (days 1 to 3)
    for n in (2, 3, 4):
        night(replay, n, clients=("C1",))
    dispatch(at=replay.at(4, 10))  # the WhatsApp (days 4 to 6): 1 contact in 7 days
    whatsapp = OutgoingMessage.objects.get(channel="whatsapp")
    assert (whatsapp.status, whatsapp.gate_reason) == ("queued", "contact_cap")
    assert len(recording_gateway.sent) == 1


def test_messages_are_written_in_the_lenders_language(replay, settings, recording_gateway):
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "LANGUAGE": "es-pe"}
    dispatch(at=replay.at(1, 10))
    assert message("C1").text == (
        "Rosa, su crédito en la agencia Comas tiene un saldo vencido de S/ 150.00. Por "
        "favor, realice su pago o comuníquese con su asesor. Si ya pagó, ignore este mensaje."
    )
