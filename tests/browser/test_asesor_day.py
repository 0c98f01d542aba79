"""The asesor's morning in real Chromium (Debian's, driven by Playwright): sign in,
see the list with its lights, register a promise at the door with the phone's GPS,
and see the client's light turn green. A phone-size screenshot of the list is left
in tests/artifacts/ (not committed)."""

from datetime import date

import pytest
from django.utils import timezone

from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.browser.support import ARTIFACTS, CHROMIUM, PASSWORD, PHONE, new_page, with_passwords
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (scripts/system-packages.sh)"
    ),
]


@pytest.fixture
def todays_list(transactional_db, tmp_path, every_day_a_collection_day):
    """Rosa's list for today (Lima), whatever weekday the suite runs on."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    today: date = timezone.localdate()
    replay = Replay(tmp_path, first_day=today)
    replay.snapshot(1, [overdue_row("C1", "CR1", 12), overdue_row("C9", "CR9", 25)])
    replay.cycle(1)
    with_passwords("rquispe")
    return replay


@pytest.fixture
def page(browser):
    return new_page(
        browser,
        viewport=PHONE,
        geolocation={"latitude": -11.94012, "longitude": -77.06102},  # at C1's door
        permissions=["geolocation"],
    )


def test_an_asesor_registers_a_promise_and_the_light_turns_green(todays_list, page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "rquispe")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/today/")

    rows = page.locator("ol.worklist > li")
    assert rows.count() == 2
    first = page.locator("ol.worklist > li[data-client=C1]")
    assert "light-green" not in first.get_attribute("class")
    assert page.locator("#stops-map .stop-icon").count() == 2  # the map drew both stops
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "asesor-list-phone.png"), full_page=True)

    first.locator("h3 a").click()
    page.wait_for_url(f"{live_server.url}/cases/C1/")
    page.select_option("select[name=result_code]", "10")
    assert page.locator(".field-promise_date").is_visible()
    page.fill("input[name=promise_date]", "2099-12-31")
    page.fill("input[name=promise_amount]", "150.00")
    page.wait_for_selector(".gps.ok")  # the phone's position is in the form
    page.click("form.result-form button[type=submit]")
    page.wait_for_selector("p.notice")

    page.goto(f"{live_server.url}/today/")
    light = page.locator("ol.worklist > li[data-client=C1]").get_attribute("class")
    assert "light-green" in light
    page.screenshot(path=str(ARTIFACTS / "asesor-list-after-visit.png"), full_page=True)
