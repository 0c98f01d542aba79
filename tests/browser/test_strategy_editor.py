"""The risk manager's strategy editor in real Chromium (Debian's, driven by Playwright):
the gerente opens the editor, shortens type A's tramo 1, sees the validation errors
next to the fields and fixes them, previews the next cycle and sees its counts, and
publishes. After the next cycle, the asesor's list shows the case in tramo 2.
Screenshots of the editor (with its errors), of the preview and of the published
version's diff go to tests/artifacts/ (not committed).

On PostgreSQL with Redis the preview runs on a real Celery worker (the page follows
its progress); on the embedded database Celery is eager and it runs in the request."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portfolio.services import organisation_load
from strategy.models import StrategyVersion
from strategy.services import strategy_load_default
from tests.browser.support import ARTIFACTS, CHROMIUM, PASSWORD, with_passwords
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (scripts/system-packages.sh)"
    ),
]


def rows(n: int) -> list[dict]:
    return [
        overdue_row("C1", "CR1", 24 + n),  # 26 on day 2: past a tramo 1 ending at 20
        overdue_row("C9", "CR9", 11 + n, lat="-11.9300", lon="-77.0500"),
    ]


@pytest.fixture
def night(transactional_db, tmp_path, every_day_a_collection_day):
    """Yesterday's cycle ran; today's snapshot is in, its cycle not yet (the next one)."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path, first_day=timezone.localdate() - timedelta(days=1))
    replay.snapshot(1, rows(1))
    replay.cycle(1)
    replay.snapshot(2, rows(2))
    with_passwords("gerencia", "rquispe")
    return replay


@pytest.fixture
def preview_worker(night):
    """A Celery worker on the test database when a broker is configured."""
    if not settings.REDIS_URL:
        yield None
        return
    from config.celery import app

    app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "-n", "editor@%h"],
        cwd=Path(settings.BASE_DIR), env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1):
        assert process.poll() is None, "the worker died on start-up"
        assert time.monotonic() < deadline, "the worker did not answer in time"
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def sign_in(browser, live_server, username: str, **context):
    page = browser.new_context(locale="es-PE", timezone_id="America/Lima", **context).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page, errors


def test_the_risk_manager_shortens_a_tramo_previews_and_publishes(
    night, preview_worker, browser, live_server
):
    desktop, phone = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
    page, errors = sign_in(browser, live_server, "gerencia", viewport=desktop)
    page.click("header nav a[href='/strategy/']")
    page.fill("#id_title", "Tramo 1 hasta el día 20")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/strategy/drafts/*/")
    page.click("#sections a:has-text('tramos')")
    page.wait_for_url("**/sections/tramos/")

    # Type A's tramo 1 is the first row; a typo first.
    page.fill("input[name='r0-to_day']", "2O")
    page.click("form.editor-form button[value=save] >> nth=0")
    page.wait_for_selector("#row-0 td.bad input[name='r0-to_day']")
    cell = page.locator("td:has(input[name='r0-to_day'])")
    assert "to_day debe ser un número entero" in cell.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "strategy-editor.png"), full_page=True)
    # Fixed to 20: the gap it leaves is shown on tramo 2's row.
    page.fill("input[name='r0-to_day']", "20")
    page.click("form.editor-form button[value=save] >> nth=0")
    page.wait_for_selector("tr.row-problems")
    assert "no pertenecen a ningún tramo" in page.locator("#row-1 + tr.row-problems").inner_text()
    page.screenshot(path=str(ARTIFACTS / "strategy-editor-row-error.png"), full_page=True)
    page.fill("input[name='r1-from_day']", "21")
    page.click("form.editor-form button[value=save] >> nth=0")
    page.wait_for_load_state()
    assert page.locator("td.bad").count() == 0 and page.locator("tr.row-problems.bad").count() == 0

    page.click(".crumbs a >> nth=1")  # the breadcrumb back to the draft
    assert "Sin errores" in page.locator("#check-summary").inner_text()
    page.click("#preview form[action$='/preview/'] button")
    page.wait_for_selector("#cases-changed", timeout=120_000)  # the page follows the task
    assert page.locator("#cases-changed").inner_text() == "1"
    assert "C1" in page.locator("#moved-cases").inner_text()
    assert int(page.locator("#actions-disappear").inner_text()) >= 1
    page.screenshot(path=str(ARTIFACTS / "strategy-preview.png"), full_page=True)

    page.click("#preview-status button.publish")
    page.wait_for_url("**/strategy/versions/2/")
    assert "gerencia" in page.locator("#published").inner_text()
    assert "30 → 20" in page.locator("#diff").inner_text()
    page.screenshot(path=str(ARTIFACTS / "strategy-version.png"), full_page=True)
    assert StrategyVersion.objects.get(is_active=True).number == 2
    assert not [e for e in errors if "Content Security Policy" in e]

    # The next cycle runs on the new version: Rosa's list shows C1 in tramo 2.
    night.cycle(2)
    # Queries made while Playwright runs use their own connection: close it, or the
    # test database cannot be dropped at the end.
    connection.close()
    asesor, _errors = sign_in(browser, live_server, "rquispe", viewport=phone)
    asesor.wait_for_url(f"{live_server.url}/today/")
    c1 = asesor.locator("ol.worklist > li[data-client=C1]").inner_text()
    assert "B21" in c1 and "tramo 2" in c1
