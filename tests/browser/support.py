"""What every browser test shares: Debian's Chromium driven by Playwright, where the
screenshots go, and signing in as one of the organisation file's people."""

import shutil
from pathlib import Path

from django.conf import settings

from tests.support import person

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(settings.BASE_DIR) / "tests" / "artifacts"
PASSWORD = "clave-de-prueba-2026"
# The machine's network is closed: Chromium's own background connections only fail.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def with_passwords(*usernames: str) -> None:
    """The people of the organisation file have no password until a test gives one."""
    for username in usernames:
        user = person(username)
        user.set_password(PASSWORD)
        user.save()


def new_page(browser, *, viewport: dict = DESKTOP, **context):
    """A page in a fresh context, in Lima and in Spanish as the lender's staff use it."""
    context = browser.new_context(
        viewport=viewport, locale="es-PE", timezone_id="America/Lima", **context
    )
    return context.new_page()


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
