"""The escalation inbox in real Chromium (Debian's, driven by Playwright): a jefe de
agencia signs in, opens the inbox from the top bar, sees the red action of its
agency (and not the other agency's), comments on it and marks it handled; it leaves
the level-2 inbox and the trail keeps who did it. A screenshot of the inbox goes to
tests/artifacts/ (not committed)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from collections_field.engine.lights import compute_lights
from collections_field.models import Case, EscalationNote, PlannedAction
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.browser.support import ARTIFACTS, CHROMIUM, PASSWORD, new_page, with_passwords
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION, person

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (scripts/system-packages.sh)"
    ),
]


@pytest.fixture
def red_visits(transactional_db, tmp_path, every_day_a_collection_day):
    """Today's cycle, and for C1 (Comas) and C2 (Arequipa) a visit whose window closed
    two days ago, not done: red, at level 2 (the jefe de agencia's) today."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path, first_day=timezone.localdate())
    replay.snapshot(
        1,
        [
            overdue_row("C1", "CR1", 20),
            overdue_row("C2", "CR2", 20, agency_code="AG02", lat="-16.4", lon="-71.54",
                        origin_officer_code="AS002"),
        ],
    )  # fmt: skip
    replay.cycle(1)
    day = replay.day(1)
    actions = {}
    for case in Case.objects.select_related("client"):
        window_to = day - timedelta(days=2)
        actions[case.client.code] = PlannedAction.objects.create(
            case=case, type=case.management_type, tramo=case.tramo, order=99, channel="visit",
            manual=True, from_day=1, to_day=3, window_from=window_to - timedelta(days=2),
            window_to=window_to, planned_on=day, officer=case.officer, status="open",
        )  # fmt: skip
    with transaction.atomic():
        compute_lights(business_date=day)
    with_passwords("jcastro")
    return actions


@pytest.fixture
def page(browser):
    return new_page(browser)


def test_a_jefe_de_agencia_opens_the_inbox_and_handles_one(red_visits, page, live_server):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "jcastro")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.click("header nav a[href='/escalations/']")
    page.wait_for_url(f"{live_server.url}/escalations/")

    mine, other = red_visits["C1"], red_visits["C2"]
    card = page.locator(f"#action-{mine.pk}")
    assert card.is_visible()
    assert page.locator(f"#action-{other.pk}").count() == 0  # Arequipa is not its agency
    text = card.inner_text()
    assert "2 días en rojo" in text and "nivel 2" in text and "AS001" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "escalation-inbox.png"), full_page=True)

    card.locator("textarea[name=text]").fill("Visitar hoy sin falta")
    card.locator("form:has(input[value=comment]) button").click()
    page.wait_for_selector("p.notice")
    assert "Comentario guardado" in page.locator("p.notice").inner_text()
    page.locator(f"#action-{mine.pk} form:has(input[value=handle]) button").click()
    page.wait_for_selector("p.notice")
    assert "atendido" in page.locator("p.notice").inner_text().lower()
    assert page.locator(f"#action-{mine.pk}").count() == 0  # out of this level's inbox
    page.screenshot(path=str(ARTIFACTS / "escalation-inbox-handled.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e]

    mine.refresh_from_db()
    assert (mine.handled_level, mine.handled_by) == (2, person("jcastro"))
    notes = EscalationNote.objects.filter(action=mine).order_by("id")
    assert [(n.kind, n.by.username) for n in notes] == [
        ("comment", "jcastro"),
        ("handled", "jcastro"),
    ]
    assert notes[0].text == "Visitar hoy sin falta"
    assert notes[1].history.get().history_user == person("jcastro")
    connection.close()  # this context's own connection (see test_strategy_editor)
