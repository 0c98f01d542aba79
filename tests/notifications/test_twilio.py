"""The Twilio SMS gateway with the real `twilio` library against a fake Twilio server
started here (no internet), and the signed webhooks: status callbacks and replies."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client as WebClient
from twilio.request_validator import RequestValidator

from collections_field.models import PlannedAction
from notifications.gateways import gateways_reset
from notifications.models import InboundMessage, OutgoingMessage
from notifications.services import dispatch
from portfolio.models import ChannelConsent

from .conftest import PUBLIC, SID, TOKEN


def post_signed(path: str, params: dict, token: str = TOKEN, tamper: dict | None = None):
    """As Twilio calls a webhook: form-encoded, signed over the full URL and params."""
    signature = RequestValidator(token).compute_signature(PUBLIC + path, params)
    body = {**params, **(tamper or {})}
    return WebClient().post(path, body, HTTP_X_TWILIO_SIGNATURE=signature)


def callback(row: OutgoingMessage, status: str, **extra):
    params = {"MessageSid": row.provider_id, "MessageStatus": status, "AccountSid": SID, **extra}
    return post_signed(f"/webhooks/twilio/status/?m={row.pk}", params)


def c1() -> OutgoingMessage:
    return OutgoingMessage.objects.get(case__client__code="C1")


def test_the_twilio_gateway_really_talks_to_the_server(replay, twilio):
    result = dispatch(at=replay.at(1, 19, 55))
    assert result.counts["sent"] == 2
    by_to = {r["To"]: r for r in twilio.requests}
    sent = by_to["+51987654321"]
    assert sent["From"] == "+15005550006"
    assert sent["Body"].startswith("Rosa, your credit at agency Comas")
    assert sent["ValidityPeriod"] == "300"  # five minutes to 20:00 Lima, no more
    callback_url = urlsplit(sent["StatusCallback"])
    assert callback_url.path == "/webhooks/twilio/status/"
    assert parse_qs(callback_url.query) == {"m": [str(c1().pk)]}
    row = c1()
    assert row.status == "sent" and row.provider == "twilio"
    assert row.provider_id.startswith("SM")
    assert dispatch(at=replay.at(1, 19, 55)).counts["sent"] == 0
    assert len(twilio.requests) == 2


def test_callbacks_repeated_and_out_of_order_leave_one_final_status(replay, twilio):
    dispatch(at=replay.at(1, 10))
    row = c1()
    for status in ("delivered", "sent", "queued", "delivered", "undelivered"):
        assert callback(row, status).status_code == 204
    row.refresh_from_db()
    assert row.status == "delivered"
    moves = [(e.from_status, e.to_status, e.source) for e in row.events.all()]
    assert moves == [
        ("queued", "sending", "gate"),
        ("sending", "sent", "gateway"),
        ("sent", "delivered", "callback"),
    ]
    action = PlannedAction.objects.get(pk=row.action_id)
    assert action.status == "done"


def test_a_callback_may_come_before_the_providers_answer_is_stored(replay, twilio):
    dispatch(at=replay.at(1, 10))
    row = c1()
    OutgoingMessage.objects.filter(pk=row.pk).update(status="sending")  # as if mid-send
    assert callback(row, "sent").status_code == 204
    assert callback(row, "failed", ErrorCode="30036").status_code == 204
    row.refresh_from_db()
    assert (row.status, row.error) == ("expired", "twilio_30036")  # validity passed
    assert PlannedAction.objects.get(pk=row.action_id).status == "queued"


def test_an_unsigned_or_tampered_callback_gets_403_and_changes_nothing(replay, twilio):
    dispatch(at=replay.at(1, 10))
    row = c1()
    path = f"/webhooks/twilio/status/?m={row.pk}"
    params = {"MessageSid": row.provider_id, "MessageStatus": "delivered"}
    assert WebClient().post(path, params).status_code == 403  # unsigned
    assert post_signed(path, params, token="not-the-token").status_code == 403
    tampered = post_signed(path, {**params, "MessageStatus": "failed"}, tamper=params)
    assert tampered.status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    other_row = f"/webhooks/twilio/status/?m={row.pk + 1}"
    moved = WebClient().post(other_row, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert moved.status_code == 403  # the signature covers the URL too
    row.refresh_from_db()
    assert row.status == "sent" and row.events.count() == 2


def test_stop_opts_the_client_out_of_the_channel_at_once(db, tmp_path, twilio):
    from .conftest import start

    replay = start(tmp_path)
    reply = {"MessageSid": "SMin1", "From": "+51987654321", "To": "+15005550006"}
    response = post_signed("/webhooks/twilio/inbound/", {**reply, "Body": " Stop. "})
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    consent = ChannelConsent.objects.get(client__code="C1", channel="sms")
    assert consent.consent is False and consent.opted_out_at is not None
    post_signed("/webhooks/twilio/inbound/", {**reply, "Body": "stop"})  # a retry: once
    assert InboundMessage.objects.count() == 1
    dispatch(at=replay.at(1, 10))
    assert (c1().status, c1().gate_reason) == ("blocked", "opt_out")
    assert [r["To"] for r in twilio.requests] == ["+51912345678"]


@pytest.mark.parametrize("word", ["BAJA", "alto", "Cancelar!"])
def test_spanish_opt_out_words(replay, twilio, word):
    params = {"MessageSid": "SMin2", "From": "whatsapp:+51912345678", "Body": word}
    assert post_signed("/webhooks/twilio/inbound/", params).status_code == 200
    assert ChannelConsent.objects.get(client__code="C2").channel == "whatsapp"


def test_a_reply_is_stored_and_opts_nobody_out(replay, twilio):
    params = {"MessageSid": "SMin3", "From": "+51987654321", "Body": "No, pagaré el viernes"}
    assert post_signed("/webhooks/twilio/inbound/", params).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.client.code, inbound.opt_out) == ("C1", False)
    assert not ChannelConsent.objects.exists()


def test_an_unsigned_stop_changes_nothing(replay, twilio):
    params = {"MessageSid": "SMin4", "From": "+51987654321", "Body": "STOP"}
    assert WebClient().post("/webhooks/twilio/inbound/", params).status_code == 403
    assert not ChannelConsent.objects.exists() and not InboundMessage.objects.exists()


def test_twilio_errors_retry_fail_or_opt_out(replay, twilio):
    twilio.errors = [(503, 20500), (400, 21610)]  # one of each, then success
    first = dispatch(at=replay.at(1, 10))
    assert (first.counts["retry"], first.counts["failed"]) == (1, 1)
    by_status = dict(OutgoingMessage.objects.values_list("status", "case__client__code"))
    opted_out = by_status["failed"]
    assert ChannelConsent.objects.get(client__code=opted_out).consent is False
    assert dispatch(at=replay.at(1, 10, 5)).counts["sent"] == 1  # the 503 one, again
    assert len(twilio.requests) == 3


def test_an_unreachable_provider_is_retried_later(replay, twilio, settings):
    conf = settings.SEMAFORO_DISPATCH
    settings.SEMAFORO_DISPATCH = {
        **conf,
        "TWILIO": {**conf["TWILIO"], "API_BASE_URL": "http://127.0.0.1:9"},  # nothing there
    }
    gateways_reset()
    assert dispatch(at=replay.at(1, 10)).counts["retry"] == 2
    assert set(OutgoingMessage.objects.values_list("status", flat=True)) == {"queued"}
