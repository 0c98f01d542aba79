"""IVR calls through the real twilio library against the local fake Twilio server: the
call, its signed TwiML: first a neutral greeting that asks whoever answered to confirm
they are the client (no debt told to a third party, Ley 29571 art. 62), then the
message, the key that records a payment promise with the strategy's own promise code,
the call's status callbacks and the legal gate."""

import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.test import Client as WebClient
from django.utils import timezone
from twilio.request_validator import RequestValidator

from collections_field.models import FieldResult, PlannedAction
from notifications.gateways import gateways_reset
from notifications.ivr import promise_day, result_uuid, spoken
from notifications.models import OutgoingMessage
from notifications.services import dispatch
from notifications.templating import debt_words_in
from portfolio.models import NonWorkingDay
from portfolio.services import organisation_load
from strategy.services import strategy_publish
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

from .fakes import FakeTwilio
from .test_twilio import PUBLIC, SID, TOKEN, post_signed

ROSA = "+51987654321"
VOICE_FROM = "+15005550007"

# A strategy written for these tests: one type whose promise code is "PR" (not the
# thesis' "10", which does not even exist here), and an IVR call on days 1 to 3.
STRATEGY = """
name: IVR test strategy
usd_rate: 3.5
management_types:
  - {code: M, name: Mono, max_exposure: null}
tramos:
  - {type: M, number: 1, from_day: 1, to_day: 30, max_visits: 3, daily_cap: 5}
  - {type: M, number: 2, from_day: 31, to_day: null, max_visits: 3, daily_cap: 5}
classifications:
  - {type: M, code: N, name: Nuevo, max_dpd: 30}
  - {type: M, code: R, name: Riesgoso, max_dpd: null}
results:
  - {type: M, code: NC, name: No contactado}
  - {type: M, code: PR, name: Promete pagar, promise: true}
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
  - {type: M, code: Y21, classification: R, tramo: 2, visit: 1, where: home, whom: client,
     instrument: payment_promise, message: Riesgoso, letter_template: null}
bas:
  - {type: M, from: X11, on: NC, to: X12}
  - {type: M, from: X11, on: PR, to: X11}
  - {type: M, from: X11, on: TR, to: Y21}
action_plans:
  - {type: M, tramo: 1, order: 1, channel: ivr, from_day: 1, to_day: 3, template: null,
     manual: false}
escalation:
  - {level: 2, after_days: 0}
"""


@pytest.fixture
def replay(db, tmp_path) -> Replay:
    """C1 (Rosa, Comas, S/ 150.00 overdue) 1 day late on Monday 2 November 2026: the
    cycle queues her IVR call (days 1 to 3)."""
    organisation_load(document=ORGANISATION)
    strategy_publish(document=STRATEGY)
    replay = Replay(tmp_path)
    night(replay, 1)
    assert list(PlannedAction.objects.filter(manual=False).values_list("channel", flat=True)) == [
        "ivr"
    ]
    return replay


def night(replay: Replay, n: int) -> None:
    replay.snapshot(n, [overdue_row("C1", "CR1", n)])
    replay.cycle(n)


@pytest.fixture
def twilio(settings):
    with FakeTwilio(SID, TOKEN) as fake:
        settings.SEMAFORO_DISPATCH = {
            **settings.SEMAFORO_DISPATCH,
            "GATEWAYS": {
                "default": "tests.notifications.fakes.RecordingGateway",
                "ivr": "notifications.gateways.TwilioVoiceGateway",
            },
            "PUBLIC_URL": PUBLIC,
            "TWILIO": {
                **settings.SEMAFORO_DISPATCH["TWILIO"],
                "ACCOUNT_SID": SID,
                "AUTH_TOKEN": TOKEN,
                "FROM": "+15005550006",
                "VOICE_FROM": VOICE_FROM,
                "API_BASE_URL": fake.url,
                "TIMEOUT": 5,
            },
        }
        gateways_reset()
        yield fake
    gateways_reset()


@pytest.fixture
def clock(monkeypatch):
    """Webhooks take their instant from the wall clock: pin it."""

    def pin(at: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: at)

    return pin


def row() -> OutgoingMessage:
    return OutgoingMessage.objects.get(case__client__code="C1")


def voice_path(message: OutgoingMessage) -> str:
    return f"/webhooks/twilio/voice/{message.pk}/"


def call_params(message: OutgoingMessage, **extra) -> dict:
    return {"CallSid": message.provider_id, "AccountSid": SID, "To": ROSA, **extra}


def xml(response) -> ET.Element:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    return ET.fromstring(response.content)


def press(message: OutgoingMessage, digits: str | None, endpoint: str = "key"):
    params = call_params(message)
    if digits is not None:
        params["Digits"] = digits
    return post_signed(f"{voice_path(message)}{endpoint}/", params)


def identify(message: OutgoingMessage, digits: str | None = "1"):
    """The answer to "if you are Rosa, press 1"."""
    return press(message, digits, endpoint="identity")


def identity_events(message: OutgoingMessage) -> list[str]:
    return list(message.events.filter(reason="ivr_identity").values_list("detail", flat=True))


def confirmed(replay, twilio) -> OutgoingMessage:
    """A placed call whose client confirmed who she is."""
    message = placed(replay, twilio)
    xml(identify(message, "1"))
    return message


def placed(replay, twilio) -> OutgoingMessage:
    assert dispatch(at=replay.at(1, 10)).counts["sent"] == 1
    return row()


# --- The call -----------------------------------------------------------------------


def test_a_dispatched_ivr_message_places_one_call_at_twilio(replay, twilio):
    message = placed(replay, twilio)
    [call] = twilio.calls
    assert (call["To"], call["From"]) == (ROSA, VOICE_FROM)
    assert call["Url"] == f"{PUBLIC}/webhooks/twilio/voice/{message.pk}/"
    assert call["Method"] == "POST"
    assert call["StatusCallback"] == f"{PUBLIC}/webhooks/twilio/status/?m={message.pk}"
    assert twilio.call_lists[0]["StatusCallbackEvent"] == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert (call["Timeout"], call["TimeLimit"]) == ("30", "120")
    assert (message.status, message.provider) == ("sent", "twilio")
    assert message.provider_id.startswith("CA")
    assert twilio.requests == []  # a call, not an SMS
    assert dispatch(at=replay.at(1, 10)).counts["sent"] == 0
    assert dispatch(at=replay.at(1, 15)).counts["sent"] == 0
    assert len(twilio.calls) == 1


def test_a_call_is_cut_to_end_by_2000_or_not_placed(replay, twilio):
    assert dispatch(at=replay.at(1, 19, 59)).counts["retry"] == 1  # one minute left
    assert twilio.calls == []
    assert (row().status, row().error) == ("queued", "ivr_closing")
    assert dispatch(at=replay.at(1, 19, 58)).counts["sent"] == 1  # two minutes left
    assert (twilio.calls[0]["Timeout"], twilio.calls[0]["TimeLimit"]) == ("30", "90")


def test_the_legal_gate_postpones_an_ivr_call_at_2030(replay, twilio):
    assert dispatch(at=replay.at(1, 20, 30)).counts["postponed"] == 1
    message = row()
    assert (message.status, message.gate, message.gate_reason) == (
        "queued",
        "postponed",
        "quiet_hours",
    )
    assert [(e.to_status, e.gate, e.reason) for e in message.events.all()] == [
        ("queued", "postponed", "quiet_hours")
    ]
    assert twilio.calls == []
    assert dispatch(at=replay.at(2, 7, 30)).counts["sent"] == 1  # the next morning
    assert len(twilio.calls) == 1


# --- The greeting: nothing but the first name before the client is known ---------------


def test_the_first_answer_asks_who_answered_and_names_no_debt(replay, twilio, clock):
    message = placed(replay, twilio)
    clock(replay.at(1, 10, 1))
    response = post_signed(voice_path(message), call_params(message, CallStatus="in-progress"))
    script = xml(response)
    [gather] = script.findall("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC}/webhooks/twilio/voice/{message.pk}/identity/"
    [said] = gather.findall("Say")
    assert said.get("language") == "es-MX"
    assert said.text == "Good morning. This is a message for Rosa. If you are Rosa, press 1."
    # No key: the identity endpoint without one (it says goodbye and stores that).
    assert [child.tag for child in script] == ["Gather", "Redirect"]
    assert script.find("Redirect").text == gather.get("action")
    assert script.find("Redirect").get("method") == "POST"
    # Not the message, not the amount (in any spelling), not the full name or document.
    body = response.content.decode()
    for named in ("150", "soles", "S/", "Quispe", "Mamani", "40123456", "Comas", "reminder"):
        assert named not in body
    assert message.text not in body
    assert spoken(message.text) not in body
    assert debt_words_in(said.text) == []
    assert not message.events.filter(reason="ivr_identity").exists()  # nothing answered yet


def test_the_first_answer_by_get_is_signed_over_the_url(replay, twilio):
    message = placed(replay, twilio)
    path = f"{voice_path(message)}?CallSid={message.provider_id}"
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, {})
    response = WebClient().get(path, HTTP_X_TWILIO_SIGNATURE=signature)
    assert xml(response).find("Gather").get("action").endswith("/identity/")
    assert "150" not in response.content.decode()


def test_an_unsigned_or_misdirected_twiml_request_gets_403(replay, twilio):
    message = placed(replay, twilio)
    params = call_params(message)
    assert WebClient().post(voice_path(message), params).status_code == 403
    assert post_signed(voice_path(message), params, token="not-the-token").status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + voice_path(message), params)
    other = f"/webhooks/twilio/voice/{message.pk + 1}/"
    assert WebClient().post(other, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403


# --- The identity: 1 reads the message, anything else says goodbye ------------------------


def test_identity_confirmed_reads_the_message_and_offers_the_promise(replay, twilio, clock):
    message = placed(replay, twilio)
    clock(replay.at(1, 10, 1))
    script = xml(identify(message, "1"))
    [gather] = script.findall("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC}/webhooks/twilio/voice/{message.pk}/key/"
    said = gather.findall("Say")
    assert [s.get("language") for s in said] == ["es-MX", "es-MX"]
    assert said[0].text == spoken(message.text)
    assert said[0].text.startswith("Hello Rosa. This is a reminder from agency Comas")
    assert "150.00 soles" in said[0].text
    # Three collection days after Monday 2 November: Thursday 5 November.
    assert said[1].text == "To promise a payment by Nov. 5, 2026, press 1."
    # No key: the goodbye after the Gather, and the call ends.
    assert [child.tag for child in script] == ["Gather", "Say", "Hangup"]
    [event] = message.events.filter(reason="ivr_identity")
    assert (event.detail, event.source, event.at) == ("confirmed", "callback", replay.at(1, 10, 1))
    assert (event.from_status, event.to_status) == ("sent", "sent")
    assert not FieldResult.objects.exists()  # confirming is not promising


@pytest.mark.parametrize("digits", ["2", "0", "*", "", None])
def test_any_other_identity_key_or_none_says_goodbye_and_names_nothing(replay, twilio, digits):
    message = placed(replay, twilio)
    response = identify(message, digits)
    script = xml(response)
    assert [child.tag for child in script] == ["Say", "Hangup"]
    assert script.find("Say").text == "Thank you, goodbye."
    body = response.content.decode()
    for named in ("150", "soles", "Rosa", "Quispe", "Comas", "Gather"):
        assert named not in body
    # The evidence that the debt was not told to whoever answered.
    assert identity_events(message) == ["not_confirmed"]
    assert not FieldResult.objects.exists()
    assert not message.events.filter(reason="ivr_key").exists()


def test_the_first_identity_answer_stands(replay, twilio):
    message = placed(replay, twilio)
    xml(identify(message, "2"))
    # A late or repeated request with 1 does not read the message after a goodbye.
    retry = xml(identify(message, "1"))
    assert retry.find("Say").text == "Thank you, goodbye."
    assert retry.find("Gather") is None
    assert identity_events(message) == ["not_confirmed"]


def test_a_repeated_confirmation_reads_the_message_again_stored_once(replay, twilio):
    message = confirmed(replay, twilio)
    assert xml(identify(message, "1")).find("Gather") is not None  # a Twilio retry
    assert identity_events(message) == ["confirmed"]


def test_an_unsigned_or_other_calls_identity_changes_nothing(replay, twilio):
    message = placed(replay, twilio)
    path = f"{voice_path(message)}identity/"
    assert WebClient().post(path, call_params(message, Digits="1")).status_code == 403
    assert post_signed(path, call_params(message, Digits="1"), token="nope").status_code == 403
    other_call = {**call_params(message), "CallSid": "CA" + "9" * 32, "Digits": "1"}
    assert post_signed(path, other_call).status_code == 404
    assert identity_events(message) == []


def test_the_script_is_spanish_and_adds_no_debt_wording(replay, twilio, settings, clock):
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "LANGUAGE": "es-pe"}
    dispatch(at=replay.at(1, 10))
    message = row()
    clock(replay.at(1, 10, 1))
    greeting = xml(post_signed(voice_path(message), call_params(message)))
    ask = greeting.find("Gather/Say").text
    assert ask == "Buenos días. Este es un mensaje para Rosa. Si usted es Rosa, presione 1."
    clock(replay.at(1, 18, 30))
    evening = xml(post_signed(voice_path(message), call_params(message)))
    assert evening.find("Gather/Say").text.startswith("Buenas noches. Este es un mensaje")
    script = xml(identify(message, "1"))
    offer = script.findall("Gather/Say")[1].text
    goodbye = script.find("Say").text
    assert offer == "Para comprometerse a pagar hasta el 5 de noviembre de 2026, marque 1."
    assert goodbye == "Gracias por su atención. Hasta luego."
    thanks = xml(press(message, "1")).find("Say").text
    assert thanks == (
        "Gracias. Hemos registrado su compromiso de pagar hasta el 5 de noviembre de 2026. "
        "Hasta luego."
    )
    # Only the queued text (the template's guarantee) may name the debt; what the call
    # adds around it never does.
    assert debt_words_in(f"{ask} {offer} {goodbye} {thanks}") == []


def test_the_goodbye_to_someone_else_is_spanish(replay, twilio, settings):
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "LANGUAGE": "es-pe"}
    dispatch(at=replay.at(1, 10))
    assert xml(identify(row(), "2")).find("Say").text == "Gracias, hasta luego."


def test_amounts_are_spoken_in_soles():
    assert spoken("tiene S/ 1,234.56 vencido") == "tiene 1234.56 soles vencido"
    assert spoken("sin montos") == "sin montos"


# --- The key --------------------------------------------------------------------------


def test_pressing_1_records_one_promise_with_the_strategys_code(replay, twilio, clock):
    message = confirmed(replay, twilio)
    clock(replay.at(1, 10, 2))
    answer = xml(press(message, "1"))
    assert [child.tag for child in answer] == ["Say", "Hangup"]
    assert answer.find("Say").text == (
        "Thank you. We have recorded your promise to pay by Nov. 5, 2026. Goodbye."
    )
    assert xml(press(message, "1")).find("Say").text == answer.find("Say").text  # a retry
    [result] = FieldResult.objects.all()
    assert result.client.code == "C1"
    assert result.result_code == "PR"  # the strategy's promise row, not a fixed "10"
    assert (result.promise_date, result.promise_amount) == (date(2026, 11, 5), Decimal("150"))
    assert result.occurred_at == replay.at(1, 10, 2)
    assert (result.channel, result.officer, result.verified) == ("inbound", None, True)
    assert result.uuid == result_uuid(message.pk)
    assert "IVR" in result.notes
    [key] = message.events.filter(reason="ivr_key")
    assert (key.source, key.from_status, key.to_status) == ("callback", "sent", "sent")
    assert key.detail == "1 result PR promise 2026-11-05"


@pytest.mark.parametrize("digits", ["2", "", None])
def test_any_other_key_or_none_records_nothing(replay, twilio, digits):
    message = confirmed(replay, twilio)
    answer = xml(press(message, digits))
    assert answer.find("Say").text == "Thank you for your time. Goodbye."
    assert answer.find("Hangup") is not None
    assert not FieldResult.objects.exists()
    [key] = message.events.filter(reason="ivr_key")
    assert key.detail == (digits or "-")


def test_an_unsigned_key_or_another_calls_key_changes_nothing(replay, twilio):
    message = confirmed(replay, twilio)
    path = f"{voice_path(message)}key/"
    assert WebClient().post(path, call_params(message, Digits="1")).status_code == 403
    other_call = {**call_params(message), "CallSid": "CA" + "9" * 32, "Digits": "1"}
    assert post_signed(path, other_call).status_code == 404
    assert not FieldResult.objects.exists()
    assert not message.events.filter(reason="ivr_key").exists()


def test_a_key_before_the_identity_is_confirmed_records_nothing(replay, twilio):
    message = placed(replay, twilio)
    answer = xml(press(message, "1"))
    assert [child.tag for child in answer] == ["Say", "Hangup"]
    assert answer.find("Say").text == "Thank you, goodbye."
    assert not FieldResult.objects.exists()
    assert not message.events.filter(reason="ivr_key").exists()
    xml(identify(message, "2"))
    assert xml(press(message, "1")).find("Say").text == "Thank you, goodbye."
    assert not FieldResult.objects.exists()


def test_the_whole_call_follows_twilios_requests_and_records_one_promise(replay, twilio, clock):
    """As Twilio runs it: the first answer, its Gather's action with 1, that answer's
    Gather's action with 1 (twice: a retry)."""
    message = placed(replay, twilio)
    clock(replay.at(1, 10, 3))
    params = call_params(message, CallStatus="in-progress")
    greeting = xml(post_signed(voice_path(message), params))
    identity_path = greeting.find("Gather").get("action").removeprefix(PUBLIC)
    script = xml(post_signed(identity_path, {**params, "Digits": "1"}))
    key_path = script.find("Gather").get("action").removeprefix(PUBLIC)
    for _ in range(2):
        thanks = xml(post_signed(key_path, {**params, "Digits": "1"}))
        assert thanks.find("Say").text.startswith("Thank you. We have recorded your promise")
    [result] = FieldResult.objects.all()
    assert (result.result_code, result.promise_date) == ("PR", date(2026, 11, 5))
    assert result.uuid == result_uuid(message.pk)
    assert identity_events(message) == ["confirmed"]
    assert list(message.events.filter(reason="ivr_key").values_list("detail", flat=True)) == [
        "1 result PR promise 2026-11-05"
    ]


@pytest.mark.django_db(transaction=True)  # two nights: the import's temporary tables
def test_the_next_cycle_applies_the_ivr_promise(tmp_path, twilio, clock):
    organisation_load(document=ORGANISATION)
    strategy_publish(document=STRATEGY)
    replay = Replay(tmp_path)
    night(replay, 1)
    message = placed(replay, twilio)
    clock(replay.at(1, 10, 2))
    identify(message, "1")
    press(message, "1")
    night(replay, 2)
    case = replay.case("C1")
    assert (case.promise_date, case.promise_amount) == (date(2026, 11, 5), Decimal("150"))
    assert case.visits_in_tramo == 0  # the client's own answer, not an asesor's visit
    assert ("X11", "X11", "PR") in replay.moves("C1")


def test_the_promise_falls_on_a_collection_day(db):
    monday, friday = date(2026, 11, 2), date(2026, 11, 6)
    assert promise_day(day=monday, days=3) == date(2026, 11, 5)
    assert promise_day(day=friday, days=3) == date(2026, 11, 11)  # the weekend skipped
    # Tuesday 8 December is a national holiday; the lender took Wednesday 9 off.
    NonWorkingDay.objects.create(date=date(2026, 12, 9), name="Día no laborable")
    assert promise_day(day=date(2026, 12, 7), days=3) == date(2026, 12, 14)
    assert promise_day(day=monday, days=0) == date(2026, 11, 3)


# --- The call's status ------------------------------------------------------------------


def call_status(message: OutgoingMessage, status: str):
    path = f"/webhooks/twilio/status/?m={message.pk}"
    return post_signed(path, call_params(message, CallStatus=status, Direction="outbound-api"))


def test_a_completed_call_is_delivered_and_its_action_done(replay, twilio):
    message = placed(replay, twilio)
    for status in ("initiated", "ringing", "in-progress", "completed", "ringing", "no-answer"):
        assert call_status(message, status).status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered"
    assert [(e.from_status, e.to_status, e.source) for e in message.events.all()] == [
        ("queued", "sending", "gate"),
        ("sending", "sent", "gateway"),
        ("sent", "delivered", "callback"),
    ]
    action = PlannedAction.objects.get(pk=message.action_id)
    assert action.status == "done"


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_an_unanswered_call_fails_and_stays_failed(replay, twilio, status):
    message = placed(replay, twilio)
    assert call_status(message, status).status_code == 204
    for later in ("ringing", "in-progress", "completed"):
        call_status(message, later)
    message.refresh_from_db()
    assert (message.status, message.final_at is not None) == ("failed", True)
    assert PlannedAction.objects.get(pk=message.action_id).status == "queued"  # not done


def test_an_unsigned_call_status_changes_nothing(replay, twilio):
    message = placed(replay, twilio)
    path = f"/webhooks/twilio/status/?m={message.pk}"
    response = WebClient().post(path, call_params(message, CallStatus="completed"))
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"
