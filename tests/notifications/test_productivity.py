"""Productivity per channel (issue 7 part 5): the figures of `ChannelFigures` against
hand-counted ones, a refresh that is idempotent and part of the night, each role's
part on its dashboard, drill-downs, exports, and a page whose queries do not grow
with the outbox."""

import io
import zipfile
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collections_field.engine.sql import LIMA
from collections_field.models import Case, CycleStep, PlannedAction
from notifications.models import ChannelFigures, InboundMessage, Letter, OutgoingMessage
from notifications.productivity import FIGURES, channel_figures_refresh, channel_figures_step
from portfolio.models import Agency, Credit, Payment
from tests.support import person

D1, D2, D3 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)  # Mon, Tue, Wed
_orders = iter(range(100, 10_000))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LIMA)


def _action(case: Case, channel: str, day: date, status: str = "done") -> PlannedAction:
    return PlannedAction.objects.create(
        case=case, type="A", tramo=1, order=next(_orders), channel=channel, manual=False,
        from_day=1, to_day=3, window_from=day, window_to=day + timedelta(days=2),
        planned_on=day, status=status,
    )  # fmt: skip


def message(client, channel, status, created, sent=None, final=None, reason=""):
    case = Case.objects.get(client__code=client)
    gate = {"blocked": "blocked", "queued": ""}.get(status, "sent")
    return OutgoingMessage.objects.create(
        case=case, action=_action(case, channel, created.astimezone(LIMA).date()),
        channel=channel, address="+51987654321", text="Recordatorio", status=status,
        gate=gate, gate_reason=reason, due_on=created.date(), last_day=created.date(),
        created_at=created, sent_at=sent, final_at=final,
    )  # fmt: skip


def letter(client, day, status, delivered_at=None, reason=""):
    case = Case.objects.select_related("client").get(client__code=client)
    return Letter.objects.create(
        case=case, action=_action(case, "letter", day), agency_id=case.client.agency_id,
        business_date=day, status=status, gate_reason=reason, created_at=at(day, 6),
        delivered_at=delivered_at,
    )  # fmt: skip


def payment(credit, moment, reference):
    return Payment.objects.create(
        reference=reference, credit=Credit.objects.get(code=credit), amount=Decimal("150.00"),
        paid_at=moment, installments=1,
    )  # fmt: skip


def reply(client, moment, sid):
    case = Case.objects.get(client__code=client) if client else None
    return InboundMessage.objects.create(
        channel="sms", provider_id=sid, sender="+51987654321", text="Ya pagué, gracias",
        client=case.client if case else None, received_at=moment,
    )  # fmt: skip


@pytest.fixture
def outbox(world):
    """Three days of work on the world's clients: C1 (AG01, Rosa's), C2 (AG02, Juan's),
    C3 (AG01, the external agency's)."""
    message("C1", "sms", "delivered", at(D1, 9), at(D1, 10), at(D1, 10, 1))  # m1
    message("C1", "whatsapp", "failed", at(D1, 9), at(D1, 9, 30), at(D1, 9, 35))  # m2
    message("C1", "ivr", "blocked", at(D1, 9), final=at(D1, 10), reason="paid")  # m3
    message("C2", "sms", "sent", at(D1, 9), at(D1, 10))  # m4, no report yet
    message("C2", "email", "delivered", at(D2, 9), at(D2, 10), at(D2, 10))  # m5
    message("C2", "sms", "expired", at(D2, 9), final=at(D2, 20))  # m6, never sent
    message("C2", "sms", "blocked", at(D2, 9), final=at(D2, 9, 5), reason="opt_out")  # m7
    message("C3", "sms", "queued", at(D3, 8))  # m8, waiting
    letter("C3", D2, "delivered", delivered_at=at(D2, 16))
    letter("C1", D2, "blocked", reason="opt_out")
    reply("C1", at(D1, 12), "IN1")  # answers m1 (sent after m2)
    reply("C2", at(D3, 9), "IN2")  # answers m5 (the latest sent to C2)
    reply(None, at(D1, 12), "IN3")  # an unknown number: nobody's reply
    # A visit with a promise on day 2 (Rosa), a call without contact on day 3 (Juan).
    world.result(2, "C1", "10", promise_in=2, officer="AS001", channel="visit")
    world.result(3, "C2", "30", officer="AS002", channel="call")
    payment("CR1", at(D3, 11), "P1")  # after m1 (SMS) and the visit: both
    payment("CR2", at(D2, 9), "P2")  # before m5: nobody's
    payment("CR2", at(D2, 15), "P3")  # after m5 (e-mail)
    payment("CR2", at(D3, 10, 30), "P4")  # after the call (and m5): both
    channel_figures_refresh(since=D1, until=D3)
    return world


def figures(day, channel, level="company", key=0) -> dict:
    row = ChannelFigures.objects.filter(
        business_date=day, channel=channel, level=level, key=key
    ).first()
    if row is None:
        return {}
    found = {name: getattr(row, name) for name in FIGURES if getattr(row, name)}
    if row.blocked_reasons:
        found["reasons"] = row.blocked_reasons
    return found


# Counted by hand from the fixture above, per (day, channel), for the company.
EXPECTED = {
    (D1, "sms"): {"queued": 2, "sent": 2, "delivered": 1, "contacted": 1, "replies": 1,
                  "promised": 1, "paid": 1},
    (D1, "whatsapp"): {"queued": 1, "sent": 1, "failed": 1},
    (D1, "ivr"): {"queued": 1, "blocked": 1, "reasons": {"paid": 1}},
    (D2, "sms"): {"queued": 2, "expired": 1, "blocked": 1, "reasons": {"opt_out": 1}},
    (D2, "email"): {"queued": 1, "sent": 1, "delivered": 1, "contacted": 1, "replies": 1,
                    "paid": 2},
    (D2, "letter"): {"queued": 2, "sent": 1, "delivered": 1, "contacted": 1, "blocked": 1,
                     "reasons": {"opt_out": 1}},
    (D2, "visit"): {"contacted": 1, "promised": 1, "paid": 1},
    (D3, "sms"): {"queued": 1},
    (D3, "call"): {"contacted": 1, "paid": 1},
}  # fmt: skip


def test_the_table_equals_the_hand_counted_figures(outbox):
    company = {
        (f.business_date, f.channel): figures(f.business_date, f.channel)
        for f in ChannelFigures.objects.filter(level="company")
    }
    assert company == EXPECTED
    # The units add up: AG01 (C1, C3) and AG02 (C2); zones follow their agencies.
    ag01, ag02 = (Agency.objects.get(code=c).pk for c in ("AG01", "AG02"))
    assert figures(D1, "sms", "agency", ag01) == {
        "queued": 1, "sent": 1, "delivered": 1, "contacted": 1, "replies": 1, "promised": 1,
        "paid": 1,
    }  # fmt: skip
    assert figures(D1, "sms", "agency", ag02) == {"queued": 1, "sent": 1}
    assert figures(D2, "letter", "agency", ag01) == EXPECTED[(D2, "letter")]
    assert not figures(D2, "letter", "agency", ag02)
    z2 = Agency.objects.get(code="AG02").zone_id
    assert figures(D2, "email", "zone", z2) == EXPECTED[(D2, "email")]
    # Officers: the case's for messages and letters, the result's for calls and visits.
    rosa = Case.objects.get(client__code="C1").officer_id
    juan = Case.objects.get(client__code="C2").officer_id
    assert figures(D2, "visit", "officer", rosa) == EXPECTED[(D2, "visit")]
    assert figures(D3, "call", "officer", juan) == EXPECTED[(D3, "call")]


def test_a_refresh_twice_gives_the_same_rows(outbox):
    def rows():
        return sorted(
            ChannelFigures.objects.values_list(
                "business_date", "channel", "level", "key", *FIGURES, "blocked_reasons"
            )
        )

    first = rows()
    assert channel_figures_refresh(since=D1, until=D3)["channel_rows"] == len(first)
    assert rows() == first
    # A day outside the range is left alone; a range of one day rebuilds only it.
    channel_figures_refresh(since=D2, until=D2)
    assert rows() == first


def test_the_night_refreshes_the_last_days_as_its_last_step(outbox):
    # The world's first night ran the step (nothing to count then) and recorded it.
    steps = list(CycleStep.objects.filter(run__business_date=D1).values_list("name", flat=True))
    assert steps[-1] == "productivity"
    ChannelFigures.objects.all().delete()
    counts = channel_figures_step(business_date=D3 + timedelta(days=1))
    assert counts["channel_rows"] == ChannelFigures.objects.count() > 0
    company = {
        (f.business_date, f.channel): figures(f.business_date, f.channel)
        for f in ChannelFigures.objects.filter(level="company")
    }
    assert company == EXPECTED


def test_beats_task_refreshes_a_range_or_today(outbox):
    from notifications.tasks import channel_figures_task

    ChannelFigures.objects.all().delete()
    channel_figures_task.apply(args=(D1.isoformat(), D3.isoformat())).get()
    assert figures(D2, "email") == EXPECTED[(D2, "email")]
    channel_figures_task.apply().get()  # today (Lima): nothing happened today here
    assert figures(D2, "email") == EXPECTED[(D2, "email")]


def browse(username: str) -> Client:
    browser = Client()
    browser.force_login(person(username))
    return browser


def test_the_dashboards_show_the_month_and_the_day_by_role(outbox):
    page = browse("gerencia").get(f"/dashboard/?date={D3.isoformat()}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Productivity per channel" in html and "comes with the dispatch" not in html
    assert 'id="productivity"' in html and "style=" not in html
    (panel,) = page.context["panels"]
    month, day = panel["context"]["tables"]
    sms = {c["figure"]: c["n"] for c in month["rows"][0]["cells"]}
    assert month["rows"][0]["channel"] == "SMS"
    assert sms == {"queued": 5, "sent": 2, "delivered": 1, "failed": 0, "expired": 1,
                   "blocked": 1, "contacted": 1, "replies": 1, "promised": 1,
                   "paid": 1}  # fmt: skip
    assert [r["channel"] for r in day["rows"]] == ["SMS", "WhatsApp", "IVR call", "E-mail",
                                                    "Letter", "Call", "Visit"]  # fmt: skip
    day_sms = {c["figure"]: c["n"] for c in day["rows"][0]["cells"]}
    assert day_sms["queued"] == 1 and day_sms["sent"] == 0
    # The jefe of AG01 sees C1's and C3's work, none of AG02's (C2's e-mail and call).
    jefe = browse("jcastro").get(f"/dashboard/?date={D3.isoformat()}")
    (panel,) = jefe.context["panels"]
    month = panel["context"]["tables"][0]
    channels = [r["channel"] for r in month["rows"]]
    assert channels == ["SMS", "WhatsApp", "IVR call", "Letter", "Visit"]
    sms = {c["figure"]: c["n"] for c in month["rows"][0]["cells"]}
    assert (sms["queued"], sms["expired"], sms["blocked"]) == (2, 0, 0)
    # … nor may it ask for AG02's, nor its drill-downs or exports.
    outside = browse("jcastro")
    for url in (
        "/dashboard/productivity/?unit=agency:AG02&format=csv",
        "/dashboard/productivity/cases/?unit=agency:AG02&channel=email&figure=paid&period=month",
    ):
        assert outside.get(url).status_code == 404
    assert browse("rquispe").get("/dashboard/productivity/?format=csv").status_code == 403


def _cases(browser, **query) -> list[str]:
    query.setdefault("date", D3.isoformat())
    query.setdefault("period", "month")
    page = browser.get("/dashboard/productivity/cases/", query)
    assert page.status_code == 200
    return sorted(r["client_code"] for r in page.context["rows"])


def test_each_figure_drills_down_to_its_cases(outbox):
    gerente = browse("gerencia")
    assert _cases(gerente, channel="sms", figure="queued") == ["C1", "C2", "C3"]
    assert _cases(gerente, channel="sms", figure="paid") == ["C1"]
    assert _cases(gerente, channel="email", figure="paid") == ["C2"]
    assert _cases(gerente, channel="email", figure="replies") == ["C2"]
    assert _cases(gerente, channel="visit", figure="promised") == ["C1"]
    assert _cases(gerente, channel="sms", figure="blocked", reason="opt_out") == ["C2"]
    assert _cases(gerente, channel="sms", figure="blocked", reason="paid") == []
    assert _cases(gerente, channel="sms", figure="queued", period="day") == ["C3"]
    assert _cases(gerente, unit="agency:AG02", channel="sms", figure="queued") == ["C2"]
    assert _cases(browse("jcastro"), channel="sms", figure="queued") == ["C1", "C3"]
    assert gerente.get("/dashboard/productivity/cases/?channel=fax&figure=sent").status_code == 404
    export = gerente.get(
        "/dashboard/productivity/cases/",
        {"channel": "sms", "figure": "queued", "period": "month", "date": D3, "format": "csv"},
    )
    assert export["Content-Type"].startswith("text/csv")
    assert all(code in export.content.decode("utf-8-sig") for code in ("C1", "C2", "C3"))


def test_the_table_exports_as_csv_and_excel(outbox):
    gerente = browse("gerencia")
    csv_page = gerente.get(f"/dashboard/productivity/?date={D3.isoformat()}&format=csv")
    assert csv_page["Content-Type"].startswith("text/csv")
    lines = csv_page.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Period,Channel,Queued,Sent,Delivered")
    assert "Month to date,SMS,5,2,1,0,1,1,1,1,1,1," in lines[1]
    assert any(line.startswith("Month to date,Letter") and "opted out" in line for line in lines)
    xlsx = gerente.get(f"/dashboard/productivity/?date={D3.isoformat()}&format=xlsx")
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "WhatsApp" in sheet and "Month to date" in sheet
    back = gerente.get(f"/dashboard/productivity/?date={D3.isoformat()}")
    assert back.status_code == 302 and back.url.endswith("#productivity")


def _queries(browser: Client, url: str) -> int:
    browser.get(url)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url).status_code == 200
    return len(captured)


PAGES = [
    ("gerencia", f"/dashboard/?date={D3.isoformat()}"),
    ("jcastro", f"/dashboard/?date={D3.isoformat()}"),
    ("gerencia", f"/dashboard/productivity/?date={D3.isoformat()}&format=csv"),
]


@pytest.mark.parametrize(("username", "url"), PAGES)
def test_a_page_costs_the_same_queries_for_3_or_30_messages(
    world, django_assert_max_num_queries, username, url
):
    for client in ("C1", "C2", "C3"):
        message(client, "sms", "delivered", at(D2, 9), at(D2, 10), at(D2, 10, 1))
    channel_figures_refresh(since=D1, until=D3)
    small = _queries(browse(username), url)
    for i in range(27):
        client = ("C1", "C2", "C3")[i % 3]
        channel = ("sms", "whatsapp", "ivr", "email")[i % 4]
        status = ("delivered", "failed", "blocked")[i % 3]
        message(client, channel, status, at(D1 + timedelta(days=i % 3), 9), at(D2, 10),
                at(D2, 11), reason="paid" if status == "blocked" else "")  # fmt: skip
    channel_figures_refresh(since=D1, until=D3)
    assert OutgoingMessage.objects.count() == 30
    browser = browse(username)
    browser.get(url)  # warm the session
    with django_assert_max_num_queries(small):
        assert browser.get(url).status_code == 200
    assert _queries(browse(username), url) == small
