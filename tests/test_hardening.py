"""Security by default: deploy checks, CSP, login lock-out, API throttling, and no
personal data in the logs."""

import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from rest_framework.test import APIClient

from config.logging import PersonalDataFilter
from portfolio.services import token_issue

ROOT = Path(settings.BASE_DIR)


def manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update(env, SEMAFORO_VAR_DIR=env.get("SEMAFORO_VAR_DIR", "/tmp/semaforo-deploy"))
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_settings_pass_the_deploy_checks():
    done = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="semaforo.example.pe",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    refused = manage("check", DJANGO_SETTINGS_MODULE="config.settings.production", SECRET_KEY="")
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy():
    policy = Client().get("/accounts/login/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


@pytest.mark.django_db
def test_the_api_docs_are_served_from_local_files():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert "<script>" not in html  # no inline script: the CSP would refuse it
    for source in sources:
        if source.startswith(settings.STATIC_URL):
            assert finders.find(source.removeprefix(settings.STATIC_URL)), source


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_username_out(django_user_model):
    django_user_model.objects.create_user("rosa", password="clave-correcta-123")
    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        failed = browser.post("/accounts/login/", {"username": "rosa", "password": "mala"})
        assert failed.status_code == 200  # the form again, with its error
    last = browser.post("/accounts/login/", {"username": "rosa", "password": "mala"})
    assert last.status_code == 429
    locked = browser.post(
        "/accounts/login/", {"username": "rosa", "password": "clave-correcta-123"}
    )
    assert locked.status_code == 429 and b"Sign-in locked" in locked.content
    # Another username from the same address still signs in.
    django_user_model.objects.create_user("juan", password="otra-clave-456")
    assert (
        Client()
        .post("/accounts/login/", {"username": "juan", "password": "otra-clave-456"})
        .status_code
        == 302
    )


@pytest.mark.django_db
def test_each_token_has_its_own_request_budget(organisation):
    first, second = APIClient(), APIClient()
    first.credentials(
        HTTP_AUTHORIZATION="Bearer " + token_issue(name="a", scopes=["cases:read"]).raw
    )
    second.credentials(
        HTTP_AUTHORIZATION="Bearer " + token_issue(name="b", scopes=["cases:read"]).raw
    )
    with override_settings(SEMAFORO={**settings.SEMAFORO, "API_RATE": "3/min"}):
        answers = [first.get("/api/v1/cases/").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        throttled = first.get("/api/v1/cases/")
        assert throttled.json()["code"] == "throttled" and "Retry-After" in throttled
        assert second.get("/api/v1/cases/").status_code == 200


def test_personal_data_never_reaches_a_log_line():
    handlers = [h for h in logging.getLogger().handlers if h.filters]
    assert any(isinstance(f, PersonalDataFilter) for h in handlers for f in h.filters)
    record = logging.LogRecord(
        "portfolio", logging.WARNING, __file__, 1,
        "client %s phone %s mail %s on %s line %d", ("C1", "+51 987 654 321", "ana@correo.pe",
        "2026-11-02", 12), None,
    )  # fmt: skip
    PersonalDataFilter().filter(record)
    line = logging.Formatter("%(message)s").format(record)
    assert line == "client C1 phone [number] mail [email] on 2026-11-02 line 12"
    try:
        raise ValueError("bad document 40123456")
    except ValueError:
        failure = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    PersonalDataFilter().filter(failure)
    assert "40123456" not in logging.Formatter().format(failure)
