"""Gate decisions and replies on the case (issue 7 parts 3 and 4): the client's messages
page, linked from the client page with its counts, scoped like the case, phones
masked, and a fixed number of queries whatever the number of messages."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collections_field.models import Case, PlannedAction
from notifications.models import MessageEvent, OutgoingMessage
from notifications.pages import mask_address, mask_phones_in
from notifications.services import dispatch, inbound_register
from portfolio.services import channel_opt_out
from tests.support import person


def whatsapp_for(replay, client: str, n: int = 1, order: int = 50) -> OutgoingMessage:
    """A WhatsApp queued for the client on day `n` (its action waiting for dispatch)."""
    case = Case.objects.get(client__code=client)
    day = replay.day(n)
    action = PlannedAction.objects.create(
        case=case, type="A", tramo=1, order=order, channel="whatsapp", manual=False,
        from_day=4, to_day=6, window_from=day, window_to=day + timedelta(days=2),
        planned_on=day, status=PlannedAction.Status.QUEUED,
    )  # fmt: skip
    return OutgoingMessage.objects.create(
        case=case, action=action, channel="whatsapp", address="+51987654321",
        text="Hola", content_sid="HX" + "0" * 32, due_on=day, last_day=day + timedelta(days=2),
        created_at=replay.at(n, 6),
    )  # fmt: skip


def letter_for(replay, client: str, status: str, reason: str = "", order: int = 80):
    from notifications.models import Letter

    case = Case.objects.select_related("client").get(client__code=client)
    day = replay.day(1)
    action = PlannedAction.objects.create(
        case=case, type="A", tramo=2, order=order, channel="letter", manual=False,
        from_day=38, to_day=42, window_from=day, window_to=day, planned_on=day,
        status=PlannedAction.Status.CANCELLED,
    )  # fmt: skip
    return Letter.objects.create(
        case=case, action=action, agency_id=case.client.agency_id, business_date=day,
        template="carta_T23", status=status, gate_reason=reason, created_at=replay.at(1, 6),
    )  # fmt: skip


@pytest.fixture
def decided(replay):
    """C1 (Rosa's): its SMS postponed before 07:00 then sent at 10:00, a WhatsApp
    blocked (C1 opted out of WhatsApp), and a reply from C1's phone at noon."""
    whatsapp_for(replay, "C1")
    dispatch(at=replay.at(1, 6))  # before 07:00: everything waits (quiet hours)
    channel_opt_out(client=Case.objects.get(client__code="C1").client, channel="whatsapp",
                    at=replay.at(1, 8))  # fmt: skip
    dispatch(at=replay.at(1, 10))
    inbound_register(
        provider_id="SM-IN-1",
        sender="+51987654321",
        text="Ya pagué. Mi otro número es 987 111 222",
        at=replay.at(1, 12),
    )
    letter_for(replay, "C1", "blocked", "opt_out")
    return replay


def browse(username: str) -> Client:
    browser = Client()
    browser.force_login(person(username))
    return browser


def test_a_blocked_and_a_sent_message_and_a_reply_are_on_the_case(decided):
    statuses = dict(
        OutgoingMessage.objects.filter(case__client__code="C1").values_list("channel", "status")
    )
    assert statuses == {"sms": "sent", "whatsapp": "blocked"}
    page = browse("rquispe").get("/cases/C1/messages/")
    assert page.status_code == 200
    rows = page.context["rows"]
    by_channel = {r["channel"]: r for r in rows}
    sms, whatsapp = by_channel["SMS"], by_channel["WhatsApp"]
    assert (whatsapp["status"], whatsapp["gate"], whatsapp["reason"]) == (
        "blocked", "Blocked", "The client opted out of the channel",
    )  # fmt: skip
    assert (sms["status"], sms["gate"]) == ("sent", "Allowed and sent")
    # The SMS's trail: postponed before 07:00 (quiet hours), then claimed and sent.
    assert [(e["to_status"], e["gate"], e["reason"]) for e in sms["events"]] == [
        ("Queued", "Postponed", "Outside the hours allowed (07:00–20:00)"),
        ("Sending", "Allowed and sent", ""),
        ("Sent", "", ""),
    ]
    # Newest first (both queued at 06:00: the SMS, queued by that dispatch, is the newer).
    assert [r["channel"] for r in rows] == ["SMS", "WhatsApp"]
    (reply,) = page.context["replies"]
    assert reply["text"].startswith("Ya pagué") and reply["sender"] == "+••••••••321"
    html = page.content.decode()
    # No phone in full: the client's, nor the one the client wrote.
    assert "987654321" not in html and "987 111 222" not in html and "•••222" in html
    assert "The client opted out of the channel" in html and "style=" not in html
    # The printed letter the gate blocked at its build, and why.
    (letter,) = page.context["letters"]
    assert (letter["status"], letter["reason"]) == (
        "blocked",
        "The client opted out of the channel",
    )
    title = html[html.index("<title>") : html.index("</title>")]
    assert "<section" not in title and html.count('id="letters"') == 1
    # The client page links it with its counts.
    case_page = browse("rquispe").get("/cases/C1/").content.decode()
    assert 'href="/cases/C1/messages/"' in case_page
    assert "Messages: 2 (1 blocked), 1 reply" in case_page


def test_another_asesor_gets_404(decided):
    assert browse("jmamani").get("/cases/C1/messages/").status_code == 404
    assert browse("jmamani").get("/cases/C2/messages/").status_code == 200
    assert browse("jmamani").get("/cases/NOPE/messages/").status_code == 404
    # The jefe of C1's agency sees it; the jefe zonal of the other zone does not.
    assert browse("jcastro").get("/cases/C1/messages/").status_code == 200
    assert browse("jcastro").get("/cases/C2/messages/").status_code == 404


def test_the_client_page_has_no_link_without_messages(replay):
    page = browse("rquispe").get("/cases/C1/").content.decode()
    assert "/cases/C1/messages/" not in page


def _queries(browser: Client, url: str) -> int:
    browser.get(url)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", ["/cases/C1/messages/", "/cases/C1/"])
def test_the_page_costs_the_same_queries_whatever_the_messages(decided, url):
    few = _queries(browse("rquispe"), url)
    for i in range(8):
        message = whatsapp_for(decided, "C1", n=1 + i % 3, order=60 + i)
        for k in range(3):
            MessageEvent.objects.create(
                message=message, at=decided.at(1 + i % 3, 7 + k), source="gate",
                from_status="queued", to_status="queued", gate="postponed", reason="contact_cap",
            )  # fmt: skip
        inbound_register(provider_id=f"SM-IN-{i + 2}", sender="+51987654321", text="ok",
                         at=decided.at(2, 9 + i))  # fmt: skip
        letter_for(decided, "C1", "ready", order=90 + i)
    assert _queries(browse("rquispe"), url) == few


def test_masks():
    assert mask_address("+51987654321") == "+••••••••321"
    assert mask_address("whatsapp:+51987654321") == "+••••••••321"
    assert mask_address("rosa.quispe@example.pe") == "r•••@example.pe"
    assert mask_address("") == ""
    assert mask_phones_in("llámame al 987-111-222 o 01 555 1234, cuota 12") == (
        "llámame al ••••••222 o ••••••234, cuota 12"
    )
