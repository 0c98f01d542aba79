"""Settle: rows left `sending` with no answer are found at the provider, sent again when
the provider certainly does not have them, or handed to a human; never sent twice."""

from datetime import timedelta

import pytest
from django.db.models import F

from notifications import moves
from notifications.gate import closing_time, lima_day
from notifications.gateways import Outgoing, gateway_for
from notifications.models import OutgoingMessage
from notifications.services import dispatch, outbox_fill
from notifications.settle import outbox_settle
from notifications.tasks import settle_task


def claimed(at, *clients: str) -> list[OutgoingMessage]:
    """The clients' messages claimed as a worker does before it calls the provider:
    then the worker dies (nothing more happens to them)."""
    outbox_fill(at=at)
    rows = list(OutgoingMessage.objects.filter(case__client__code__in=clients).order_by("id"))
    taken = moves.claim_many([r.pk for r in rows], at=at, valid_until=closing_time(lima_day(at)))
    assert len(taken) == len(rows)
    return rows


def age(*rows: OutgoingMessage) -> None:
    """As if the claim was just over SETTLE_AFTER (10 minutes) ago. Not more: the fake
    provider dates what it takes by the wall clock, and settle looks for a flight's
    messages only around its claim."""
    OutgoingMessage.objects.filter(pk__in=[r.pk for r in rows]).update(
        in_flight_since=F("in_flight_since") - timedelta(seconds=601)
    )


def to_row(fake, row: OutgoingMessage) -> int:
    """How many messages the fake provider took for this row (its callback names it)."""
    return sum(url.endswith(f"?m={row.pk}") for url in fake.callbacks())


def history(row: OutgoingMessage) -> list[tuple[str, str, str, str]]:
    return [(e.source, e.from_status, e.to_status, e.reason) for e in row.events.all()]


def test_killed_before_the_call_it_is_sent_once_by_a_later_dispatch(replay, twilio):
    (row,) = claimed(replay.at(1, 10), "C1")
    assert dispatch(at=replay.at(1, 10, 5)).counts["sent"] == 1  # C2; C1 is too young
    row.refresh_from_db()
    assert row.status == "sending" and to_row(twilio, row) == 0
    age(row)
    result = dispatch(at=replay.at(1, 10, 15))
    assert (result.counts["settled_requeued"], result.counts["sent"]) == (1, 1)
    row.refresh_from_db()
    assert (row.status, row.attempts, to_row(twilio, row)) == ("sent", 2, 1)
    assert history(row) == [
        ("gate", "queued", "sending", ""),
        ("settle", "sending", "queued", "not_sent"),
        ("gate", "queued", "sending", ""),
        ("gateway", "sending", "sent", ""),
    ]


def test_an_answer_lost_to_a_timeout_is_found_at_the_provider(replay, twilio, settings):
    conf = settings.SEMAFORO_DISPATCH
    settings.SEMAFORO_DISPATCH = {**conf, "TWILIO": {**conf["TWILIO"], "TIMEOUT": 0.3}}
    gateway_for("sms").__init__()  # the new timeout
    twilio.delay = 1.0  # Twilio takes them, its answers come too late
    assert dispatch(at=replay.at(1, 10)).counts["uncertain"] == 2
    assert set(OutgoingMessage.objects.values_list("status", "provider_id")) == {("sending", None)}
    twilio.delay = 0
    assert dispatch(at=replay.at(1, 10, 5)).counts["settled_sent"] == 0  # too young
    age(*OutgoingMessage.objects.all())
    assert outbox_settle(at=replay.at(1, 10, 15))["settled_sent"] == 2
    by_number = {m["to"]: m["sid"] for m in twilio.messages}
    for row in OutgoingMessage.objects.all():
        assert (row.status, row.provider_id) == ("sent", by_number[row.address])
        assert to_row(twilio, row) == 1
        assert history(row)[-2:] == [
            ("settle", "sending", "sending", "found"),
            ("settle", "sending", "sent", ""),
        ]
    assert dispatch(at=replay.at(1, 11)).counts["sent"] == 0
    assert len(twilio.requests) == 2


def test_two_rows_alike_each_provider_message_counts_once(replay, twilio):
    """Same text to the same number: one was taken by the provider before its worker
    died, the other never left. One is found, the other is sent again: two in all."""
    first, second = claimed(replay.at(1, 10), "C1", "C2")
    OutgoingMessage.objects.update(text="Recordatorio de su agencia", address="+51987654321")
    first.refresh_from_db()
    gateway = gateway_for("sms")
    gateway.send(Outgoing(id=first.pk, channel="sms", to=first.address, text=first.text,
                          valid_until=first.valid_until, at=replay.at(1, 10)))  # fmt: skip
    age(first, second)
    counts = outbox_settle(at=replay.at(1, 10, 15))
    assert (counts["settled_sent"], counts["settled_requeued"]) == (1, 1)
    dispatch(at=replay.at(1, 10, 16))
    assert len(twilio.messages) == 2
    assert set(OutgoingMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_when_nobody_can_tell_a_human_decides(replay, recording_gateway):
    """The gateway cannot look a message up (no `find`): failed, lost in flight, for a
    human; never resent blindly."""
    (row,) = claimed(replay.at(1, 10), "C1")
    age(row)
    assert settle_task.apply(args=(replay.at(1, 10, 15).isoformat(),)).get() == {
        "lost_in_flight": 1
    }
    row.refresh_from_db()
    assert (row.status, row.error) == ("failed", "lost_in_flight")
    assert row.final_at == replay.at(1, 10, 15)
    dispatch(at=replay.at(1, 11))
    assert [m.to for m in recording_gateway.sent] == ["+51912345678"]  # C2 only


def test_a_stalled_sender_past_its_lease_does_not_call(replay, recording_gateway, settings):
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "SETTLE_AFTER": 1e-9}
    result = dispatch(at=replay.at(1, 10))
    assert result.counts["retry"] == 2 and recording_gateway.sent == []
    row = OutgoingMessage.objects.get(case__client__code="C1")
    assert (row.status, row.attempts) == ("queued", 1)
    assert history(row)[-1] == ("gateway", "sending", "queued", "lease_passed")


def test_an_unexpected_error_mid_chunk_leaves_only_the_failing_call_in_flight(
    replay, recording_gateway
):
    recording_gateway.fail_with = RuntimeError("a bug in a gateway")
    with pytest.raises(RuntimeError):
        dispatch(at=replay.at(1, 10))
    first, second = OutgoingMessage.objects.order_by("id")
    assert first.status == "sending"  # its call raised: settle will ask
    assert (second.status, second.attempts) == ("queued", 1)  # never handed over
    assert history(second)[-1] == ("gateway", "sending", "queued", "not_called")
