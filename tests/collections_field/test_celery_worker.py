"""One cycle through a real Celery worker on Redis, plain and fanned out by agency."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from collections_field.engine.cycle import cycle_run
from collections_field.models import Case, CycleRun, CycleStep, WorklistEntry
from collections_field.tasks import run_cycle_task
from strategy.services import strategy_load_default

from .replay import Replay, overdue_row

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def worker(live_database_url):
    """A worker process on the test database; killed after the test."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    from config.celery import app

    app.control.purge()  # tasks queued by earlier tests (e.g. async cycles) are not ours
    env = {
        **os.environ,
        "DATABASE_URL": live_database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "-n", "test@%h"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=1):
        assert process.poll() is None, "the worker died on start-up"
        assert time.monotonic() < deadline, "the worker did not answer in time"
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


@pytest.fixture
def live_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_cycle_runs_on_a_real_worker(organisation, tmp_path, worker):
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(1, [overdue_row("C1", "CR1", 5), overdue_row("C2", "CR2", 40)])
    outcome = run_cycle_task.delay(replay.day(1).isoformat()).get(timeout=120)
    assert outcome == {"business_date": "2026-11-02", "status": "done"}
    assert Case.objects.get(client__code="C2").action_code == "B21"

    # Fanned out by agency chunks: every chunk leaves its ledger row.
    replay.snapshot(2, [overdue_row("C1", "CR1", 6), overdue_row("C2", "CR2", 41)])
    replay.result(2, "C1", "20")
    run = cycle_run(business_date=replay.day(2), distributed=True)
    assert run.status == CycleRun.Status.DONE
    names = set(CycleStep.objects.filter(run=run).values_list("name", flat=True))
    assert {"events", "transitions", "assignment", "selection", "events#0", "events#1"} <= names
    assert {"selection#0", "selection#1"} <= names  # each chunk numbers its own officers
    assert WorklistEntry.objects.filter(business_date=replay.day(2)).count() == 2
    assert Case.objects.get(client__code="C1").action_code == "A12"
