"""A refinancing in real Chromium on a phone: the asesor opens a delinquent client,
simulates a refinancing and sends the request; the jefe de agencia approves it.
A screenshot of the simulator is left in tests/artifacts/ (not committed)."""

import pytest

from commissions.models import RefinancingRequest
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.browser.support import ARTIFACTS, CHROMIUM, PHONE, new_page, sign_in, with_passwords
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (scripts/system-packages.sh)"
    ),
]


@pytest.fixture
def delinquent_client(transactional_db, tmp_path):
    """C1, Rosa's client, 45 days late on CR1 (balance S/ 3,200.50): REF1 applies."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(1, [overdue_row("C1", "CR1", 45, installments=2)])
    replay.cycle(1)
    with_passwords("rquispe", "jcastro")
    return replay


def test_an_asesor_simulates_and_requests_and_the_jefe_approves(
    delinquent_client, browser, live_server
):
    base = live_server.url
    page = new_page(browser, viewport=PHONE)
    errors = []
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    sign_in(page, base, "rquispe")

    # The delinquent client, found by its code, then the simulator from its page.
    page.goto(f"{base}/clients/?q=C1")
    page.click("ul.found a")
    page.wait_for_url(f"{base}/cases/C1/")
    page.click(".case-links a.button")
    page.wait_for_url(f"{base}/cases/C1/refinancing/")
    assert page.locator("select[name=product] option:not([disabled])").all_inner_texts() == [
        "REF1 · Refinanciado simple (31–120 días de atraso)"
    ]
    page.fill("input[name=term_months]", "18")
    page.fill("input[name=down_payment]", "400.00")
    page.fill("input[name=first_due_date]", "2026-11-20")  # a first period of 18 days
    page.click("form.simulator button[type=submit]")
    page.wait_for_selector("#simulation")
    assert page.locator(".new-principal").inner_text() == "S/ 2,850.50"
    assert page.locator("table.schedule tbody tr").count() == 18
    assert page.locator(".waived-late_interest").inner_text().startswith("S/ 12.30")
    assert "%" in page.locator(".tcea").inner_text()
    # One thumb: the main buttons span the phone's width.
    width = page.locator("form.simulator button[type=submit]").bounding_box()["width"]
    assert width > 300
    # Nothing wider than the phone but the schedule, which scrolls in its own box.
    assert page.evaluate("document.querySelector('main').scrollWidth") <= 390
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "refinancing-simulator-phone.png"), full_page=True)

    page.fill("textarea[name=reason]", "Su puesto estuvo cerrado por obras municipales")
    page.click("form.request-form button[type=submit]")
    page.wait_for_selector(".status-pending")
    request = RefinancingRequest.objects.get()
    assert (request.status, request.term_months, request.requested_by.username) == (
        "pending", 18, "rquispe"
    )  # fmt: skip
    assert not page.locator("button.approve").count()  # an asesor never approves
    page.context.close()

    # The jefe de agencia finds it in the inbox and approves it.
    page = new_page(browser, viewport=PHONE)
    sign_in(page, base, "jcastro")
    page.click("header nav a[href='/refinancing/requests/']")
    page.click(f"li[data-request='{request.pk}'] a.button")
    page.fill("textarea[name=note]", "Aprobado en comité")
    page.click("button.approve")
    page.wait_for_selector(".status-approved")
    assert page.locator("p.notice").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "refinancing-approved-phone.png"), full_page=True)
    page.context.close()

    request.refresh_from_db()
    assert (request.status, request.decided_by.username) == ("approved", "jcastro")
    assert errors == []
