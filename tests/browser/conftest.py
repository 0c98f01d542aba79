import os
import sys

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser(live_server):
    """One headless Chromium per test, against the test's live server."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes around it are still plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def every_day_a_collection_day(monkeypatch):
    """Pages open on the wall clock's date (Lima): the browser tests work 'today', so
    today must allow field work whatever weekday or holiday the suite runs on. Every
    module holding `is_collection_day` gets the stand-in, not only the ones a test
    happens to know of."""
    from portfolio import selectors

    original = selectors.is_collection_day
    for module in list(sys.modules.values()):
        if getattr(module, "is_collection_day", None) is original:
            monkeypatch.setattr(module, "is_collection_day", lambda day: True)
