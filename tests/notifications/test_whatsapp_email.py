"""WhatsApp through the real twilio library against the local fake Twilio server (which
refuses free text outside the 24-hour window, as Meta does), and e-mail through
Django's e-mail backend (`mail.outbox`)."""

import json
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from collections_field.models import PlannedAction
from notifications.gateways import gateways_reset
from notifications.models import InboundMessage, OutgoingMessage
from notifications.services import dispatch, inbound_register
from notifications.templating import template_save
from notifications.whatsapp import whatsapp_session_open
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

from .fakes import FailingEmailBackend, FakeTwilio
from .test_twilio import PUBLIC, SID, TOKEN, post_signed

CONTENT_SID = "HX" + "a1" * 16
ROSA = "+51987654321"


@pytest.fixture
def replay(db, tmp_path):
    """The shipped strategy. C1 (Comas) is 4 days late: its WhatsApp (days 4 to 6) is due.
    C2 (Arequipa) is 10 days late: its e-mail (days 10 to 12) is due."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(
        1,
        [
            overdue_row("C1", "CR1", 4),
            overdue_row(
                "C2", "CR2", 10, client_name="Juan Ccori Huamán", agency_code="AG02",
                lat="-16.4", lon="-71.54", origin_officer_code="AS002", phone="",
                email="juan.ccori@example.pe",
            ),
        ],
    )  # fmt: skip
    replay.cycle(1)
    automatic = PlannedAction.objects.filter(manual=False)
    assert dict(automatic.values_list("case__client__code", "channel")) == {
        "C1": "whatsapp",
        "C2": "email",
    }
    return replay


@pytest.fixture
def twilio(settings):
    with FakeTwilio(SID, TOKEN) as fake:
        settings.SEMAFORO_DISPATCH = {
            **settings.SEMAFORO_DISPATCH,
            "GATEWAYS": {
                "default": "tests.notifications.fakes.RecordingGateway",
                "whatsapp": "notifications.gateways.TwilioWhatsAppGateway",
                "email": "notifications.gateways.EmailGateway",
            },
            "PUBLIC_URL": PUBLIC,
            "TWILIO": {
                **settings.SEMAFORO_DISPATCH["TWILIO"],
                "ACCOUNT_SID": SID,
                "AUTH_TOKEN": TOKEN,
                "FROM": "+15005550006",
                "WHATSAPP_FROM": "+14155238886",
                "API_BASE_URL": fake.url,
                "TIMEOUT": 5,
            },
        }
        gateways_reset()
        yield fake
    gateways_reset()


def whatsapp_template(content_sid: str = CONTENT_SID):
    return template_save(
        user=None, name="recordatorio_2", channel="whatsapp", recipient="debtor",
        body="Hola {{ nombre }}, su crédito en {{ agencia }} tiene {{ monto_vencido }} vencido.",
        content_sid=content_sid, variables=["nombre", "monto_vencido"] if content_sid else [],
    )  # fmt: skip


def whatsapp_row() -> OutgoingMessage:
    return OutgoingMessage.objects.get(channel="whatsapp")


def test_a_whatsapp_outside_the_window_uses_the_approved_template(replay, twilio):
    whatsapp_template()
    assert dispatch(at=replay.at(1, 10)).counts["sent"] == 1
    [request] = twilio.requests
    assert (request["To"], request["From"]) == (f"whatsapp:{ROSA}", "whatsapp:+14155238886")
    assert request["ContentSid"] == CONTENT_SID
    assert json.loads(request["ContentVariables"]) == {"1": "Rosa", "2": "S/ 150.00"}
    assert "Body" not in request
    row = whatsapp_row()
    assert (row.status, row.gate, row.provider) == ("sent", "sent", "twilio")


def test_a_whatsapp_inside_the_window_is_free_text(replay, twilio):
    whatsapp_template()
    inbound_register(
        provider_id="SMin9", sender=f"whatsapp:{ROSA}", text="Hola", at=replay.at(1, 9)
    )
    twilio.whatsapp_sessions = {ROSA}  # the provider knows she wrote, too
    assert dispatch(at=replay.at(1, 10)).counts["sent"] == 1
    [request] = twilio.requests
    assert request["Body"] == "Hola Rosa, su crédito en Comas tiene S/ 150.00 vencido."
    assert "ContentSid" not in request and request["To"] == f"whatsapp:{ROSA}"


def test_without_an_approved_template_it_waits_for_the_window(replay, twilio):
    whatsapp_template(content_sid="")
    # She wrote 25 hours earlier: the window has closed.
    inbound_register(provider_id="SMold", sender=f"whatsapp:{ROSA}", text="Hola",
                     at=replay.at(1, 9) - timedelta(hours=25))  # fmt: skip
    assert dispatch(at=replay.at(1, 10)).counts["postponed"] == 1
    row = whatsapp_row()
    assert (row.status, row.gate, row.gate_reason) == ("queued", "postponed", "whatsapp_window")
    assert [(e.gate, e.reason) for e in row.events.all()] == [("postponed", "whatsapp_window")]
    assert twilio.requests == []
    inbound_register(provider_id="SMnew", sender=f"whatsapp:{ROSA}", text="¿Cuánto debo?",
                     at=replay.at(1, 10, 30))  # fmt: skip
    twilio.whatsapp_sessions = {ROSA}
    assert dispatch(at=replay.at(1, 11)).counts["sent"] == 1
    assert twilio.requests[0]["Body"].startswith("Hola Rosa")


def test_the_default_text_without_a_template_waits_for_the_window_too(replay, twilio):
    dispatch(at=replay.at(1, 10))
    assert whatsapp_row().gate_reason == "whatsapp_window"
    assert twilio.requests == []


def test_a_whatsapp_reply_to_the_webhook_opens_the_window(replay, twilio):
    params = {"MessageSid": "SMwa1", "From": f"whatsapp:{ROSA}", "Body": "Pagaré mañana"}
    assert post_signed("/webhooks/twilio/inbound/", params).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.sender, inbound.client.code) == ("whatsapp", ROSA, "C1")
    client_id, now = inbound.client_id, timezone.now()
    assert whatsapp_session_open(client_id=client_id, phone=ROSA, at=now)
    assert whatsapp_session_open(client_id=None, phone=ROSA, at=now + timedelta(hours=23))
    assert not whatsapp_session_open(client_id=client_id, phone=ROSA, at=now + timedelta(hours=25))
    assert not whatsapp_session_open(client_id=client_id, phone=ROSA, at=now - timedelta(hours=1))


def test_the_provider_refusing_free_text_fails_the_message(replay, twilio):
    # Our window and the provider's disagree (a clock, a lost inbound): Twilio's 63016.
    whatsapp_template(content_sid="")
    inbound_register(
        provider_id="SMin8", sender=f"whatsapp:{ROSA}", text="Hola", at=replay.at(1, 9)
    )
    assert dispatch(at=replay.at(1, 10)).counts["failed"] == 1
    assert (whatsapp_row().status, whatsapp_row().error) == ("failed", "twilio_63016")


# --- E-mail ------------------------------------------------------------------------------


def email_row() -> OutgoingMessage:
    return OutgoingMessage.objects.get(channel="email")


def test_the_email_goes_out_through_the_backend_with_text_and_html(replay, twilio):
    template_save(
        user=None, name="recordatorio_email", channel="email", recipient="debtor",
        subject="Recordatorio — agencia {{ agencia }}",
        body="Estimado(a) {{ nombre }}:\n\nSu crédito tiene {{ monto_vencido }} vencido.\n"
             "Su asesor: {{ asesor }} <{{ telefono_agencia }}>",
    )  # fmt: skip
    assert dispatch(at=replay.at(1, 10)).counts["delivered"] == 1
    [email] = mail.outbox
    assert email.to == ["juan.ccori@example.pe"]
    assert email.subject == "Recordatorio — agencia Arequipa Centro"
    assert email.body == (
        "Estimado(a) Juan:\n\nSu crédito tiene S/ 150.00 vencido.\nSu asesor: Juan Mamani <>"
    )
    [(html, kind)] = email.alternatives
    assert kind == "text/html"
    assert "<p>Estimado(a) Juan:</p>" in html
    assert "Su asesor: Juan Mamani &lt;&gt;" in html  # the text is escaped, never markup
    assert email.extra_headers["X-Semaforo-Message"] == str(email_row().pk)
    row = email_row()
    assert (row.status, row.provider, row.template) == ("delivered", "email", "recordatorio_email")
    assert PlannedAction.objects.get(pk=row.action_id).status == "done"


def test_an_email_without_its_template_has_the_default_text(replay, twilio):
    dispatch(at=replay.at(1, 10))
    [email] = mail.outbox
    assert email.subject == "A reminder from your agency"
    assert email.body.startswith("Juan, your credit at agency Arequipa Centro")
    assert email.alternatives[0][0].startswith("<p>Juan, your credit")


@pytest.mark.parametrize(
    ("error", "outcome", "status"),
    [
        (
            smtplib.SMTPRecipientsRefused({"juan.ccori@example.pe": (550, b"no")}),
            "failed",
            "failed",
        ),
        (ConnectionRefusedError(), "retry", "queued"),
        (smtplib.SMTPServerDisconnected(), "uncertain", "sending"),
    ],
)
def test_email_server_errors(replay, twilio, settings, error, outcome, status):
    settings.EMAIL_BACKEND = "tests.notifications.fakes.FailingEmailBackend"
    FailingEmailBackend.error = error
    assert dispatch(at=replay.at(1, 10)).counts[outcome] == 1
    assert email_row().status == status
