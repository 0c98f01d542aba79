"""The global send rate: a token bucket per channel and sender, in Redis or in the
process, with an injected clock (no sleeping), and dispatch leaving a message queued
when its channel has no token."""

import threading

import pytest
from django.conf import settings as django_settings

from notifications.models import OutgoingMessage
from notifications.services import dispatch
from notifications.throttle import LocalBucket, Rate, RedisBucket, parse_rate, throttle_take


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def redis_client():
    if not django_settings.CACHE_URL:
        pytest.skip("needs Redis (set CACHE_URL): the shared bucket lives there")
    import redis

    client = redis.Redis.from_url(django_settings.CACHE_URL)
    client.delete(*client.keys(RedisBucket.prefix + "*") or ["-"])
    yield client
    client.delete(*client.keys(RedisBucket.prefix + "*") or ["-"])


def test_rates_are_read_from_settings_text():
    assert parse_rate("5/s") == Rate(5, 5)
    assert parse_rate("600/m:20") == Rate(10, 20)
    assert parse_rate("1/h") == Rate(1 / 3600, 1)
    assert parse_rate("") is None and parse_rate(None) is None
    with pytest.raises(ValueError):
        parse_rate("fast")


def burst_of_twenty(bucket, clock: FakeTime, settings) -> list[float]:
    """20 sends through the bucket at 5/s with a burst of 5: when each one got its token."""
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "RATES": {"sms": "5/s:5"}}
    granted = []
    for _ in range(20):
        assert throttle_take(
            channel="sms", sender="+15005550006", max_wait=10, sleep=clock.sleep, source=bucket
        )
        granted.append(round(clock() - 1000.0, 6))
    return granted


EXPECTED = [0.0] * 5 + [round(0.2 * n, 6) for n in range(1, 16)]


def test_the_local_bucket_gives_the_burst_then_the_rate(settings):
    clock = FakeTime()
    assert burst_of_twenty(LocalBucket(clock), clock, settings) == EXPECTED


def test_the_redis_bucket_gives_the_burst_then_the_rate(redis_client, settings):
    clock = FakeTime()
    assert burst_of_twenty(RedisBucket(redis_client, clock), clock, settings) == EXPECTED


def test_without_waiting_a_burst_of_twenty_gets_five(settings):
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "RATES": {"sms": "5/s"}}
    clock = FakeTime()
    bucket = LocalBucket(clock)
    took = [throttle_take(channel="sms", sender="A", max_wait=0, source=bucket) for _ in range(20)]
    assert took == [1] * 5 + [0] * 15
    clock.sleep(0.4)  # two tokens come back; another sender has its own bucket
    assert throttle_take(channel="sms", sender="A", wanted=5, max_wait=0, source=bucket) == 2
    assert throttle_take(channel="sms", sender="B", wanted=9, max_wait=0, source=bucket) == 5
    # A channel without a rate is not throttled.
    assert throttle_take(channel="email", sender="A", wanted=99, source=bucket) == 99


def test_workers_racing_on_the_redis_bucket_share_one_burst(redis_client):
    """Eight threads, each with its own connection, as eight workers: 40 tries at once,
    5 tokens (the Redis server's clock: no time passes to speak of)."""
    import redis

    rate = Rate(5, 5)
    granted = []
    start = threading.Barrier(8)

    def worker():
        bucket = RedisBucket(redis.Redis.from_url(django_settings.CACHE_URL))
        start.wait()
        for _ in range(5):
            granted.append(bucket.take("sms:race", rate)[0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 5


def test_a_message_without_a_token_stays_queued_without_spending_an_attempt(
    replay, recording_gateway, settings
):
    settings.SEMAFORO_DISPATCH = {
        **settings.SEMAFORO_DISPATCH,
        "RATES": {"sms": "1/h:1"},
        "THROTTLE_MAX_WAIT": 0,
    }
    first = dispatch(at=replay.at(1, 10))
    assert (first.counts["sent"], first.counts["throttled"]) == (1, 1)
    assert len(recording_gateway.sent) == 1
    waiting = OutgoingMessage.objects.get(status="queued")
    assert (waiting.attempts, waiting.gate, waiting.gate_reason) == (0, "postponed", "throttled")
    again = dispatch(at=replay.at(1, 10, 5))  # still no token: no news, no new event
    assert again.counts["throttled"] == 1 and len(recording_gateway.sent) == 1
    assert [(e.from_status, e.to_status, e.reason) for e in waiting.events.all()] == [
        ("queued", "queued", "throttled")
    ]
