"""A real Celery worker, sending 1,000 SMS through the Twilio gateway to a fake Twilio
server, is killed (SIGKILL) mid-batch; a new worker, settle and dispatch finish the
job. The provider takes each message exactly once and every row ends final."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection

from notifications.models import OutgoingMessage
from notifications.services import outbox_fill
from notifications.tasks import dispatch_task, message_send_task
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

from .conftest import PUBLIC, SID, TOKEN
from .fakes import FakeTwilio

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MESSAGES = 1000
SETTLE_AFTER = 4  # seconds, for the workers and this test (production: 600)


def start_worker(fake: FakeTwilio, name: str) -> subprocess.Popen:
    """A worker process (prefork, two children) on the test database, whose SMS
    gateway is Twilio's at the fake server: everything through the environment, as a
    deployment configures it."""
    from config.celery import app

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "SEMAFORO_SMS_GATEWAY": "notifications.gateways.TwilioSmsGateway",
        "SEMAFORO_PUBLIC_URL": PUBLIC,  # the status callback URL names our row
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE_URL": fake.url,
        "TWILIO_TIMEOUT": "2",
        "SEMAFORO_SETTLE_AFTER": str(SETTLE_AFTER),
        # Both children share one bucket in Redis: 300 a second, whoever sends.
        "SEMAFORO_SEND_RATES": "sms=300/s:20",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         "--concurrency=2", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-n", f"{name}@%h"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        start_new_session=True,  # its own process group: one kill takes it all
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=0.5):
        assert process.poll() is None, "the worker died on start-up"
        assert time.monotonic() < deadline, "the worker did not answer in time"
    return process


def taken_per_row(fake: FakeTwilio) -> Counter:
    """How many times the provider took each of our rows (its callback URL names it)."""
    return Counter(int(parse_qs(urlsplit(url).query)["m"][0]) for url in fake.callbacks() if url)


def forget_broker_messages() -> None:
    """The killed worker's unacknowledged tasks would come back in an hour (Redis'
    visibility timeout) to whatever worker listens then: not ours to leave behind."""
    import redis

    from config.celery import app

    app.control.purge()
    redis.Redis.from_url(settings.REDIS_URL).delete("unacked", "unacked_index")


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: a real worker, and the send rate's bucket")
    began = time.monotonic()
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(1, [
        overdue_row(f"K{n:04d}", f"KR{n:04d}", 1, phone=f"9{n:08d}", document_id=f"4{n:07d}",
                    client_name=f"Cliente{n} Prueba")
        for n in range(MESSAGES)
    ])  # fmt: skip
    replay.cycle(1)
    at = replay.at(1, 10)
    assert outbox_fill(at=at) == MESSAGES
    ids = list(OutgoingMessage.objects.order_by("id").values_list("id", flat=True))
    forget_broker_messages()
    setup = time.monotonic() - began
    workers = []
    with FakeTwilio(SID, TOKEN) as fake:
        try:
            fake.delay = 0.01  # most of a send is spent in the provider's call
            first = start_worker(fake, "doomed")
            workers.append(first)
            for pk in ids:  # a task per message, as a fanned-out dispatch queues them
                message_send_task.delay(pk, at.isoformat())
            deadline = time.monotonic() + 60
            while len(fake.callbacks()) < 300:
                assert time.monotonic() < deadline, "the first worker sent too slowly"
                time.sleep(0.02)
            killed = time.monotonic() - began
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            at_kill = len(fake.callbacks())
            states = Counter(OutgoingMessage.objects.values_list("status", flat=True))
            assert 300 <= at_kill < MESSAGES, at_kill

            workers.append(start_worker(fake, "heir"))
            heir = time.monotonic() - began
            # The heir takes the tasks still in the broker; then settle (once the
            # killed worker's flights are older than SETTLE_AFTER) and dispatch, as
            # beat would, until nothing is left in flight or queued.
            settled: Counter = Counter()
            deadline = time.monotonic() + 60
            while OutgoingMessage.objects.filter(status__in=["queued", "sending"]).exists():
                assert time.monotonic() < deadline, Counter(
                    OutgoingMessage.objects.values_list("status", flat=True)
                )
                time.sleep(SETTLE_AFTER / 2)
                counts = dispatch_task.delay(at.isoformat()).get(timeout=60)
                settled.update({k: v for k, v in counts.items() if k != "at" and v})
        finally:
            for process in workers:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=30)
            forget_broker_messages()
        taken = taken_per_row(fake)
    print(
        f"\nsetup {setup:.1f} s, kill at {killed:.1f} s, heir up at {heir:.1f} s; at the kill "
        f"{at_kill} taken, rows {dict(states)}; settle and dispatch {dict(settled)}; "
        f"{time.monotonic() - began:.1f} s in all"
    )
    assert set(taken) == set(ids)
    assert set(taken.values()) == {1}, [pk for pk, n in taken.items() if n > 1]
    finals = Counter(OutgoingMessage.objects.values_list("status", flat=True))
    assert set(finals) <= {"sent", "delivered"} and sum(finals.values()) == MESSAGES
