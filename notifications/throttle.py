"""The global send rate per channel and sender: a token bucket every worker shares.

Providers limit what one sender may send (Twilio queues, then refuses, more than its
messages per second per number or messaging service); Celery's `rate_limit` is per
worker, so two workers would send twice the rate. The bucket lives in Redis (the
cache's server, `CACHE_URL`), keyed `channel:sender`, and is taken by one Lua script,
so concurrent workers never both spend the last token. Without Redis (the embedded
mode) a process-local bucket with the same interface does the same for the one
process that sends.

`SEMAFORO_DISPATCH["RATES"]` maps a channel to `N/s`, `N/m` or `N/h` with an optional
burst after a colon (`"10/s:20"`: ten a second, twenty at once after a quiet spell;
the burst defaults to one second's worth, at least 1). A channel without a rate is
not throttled. `SEMAFORO_SEND_RATES="sms=10/s,whatsapp=20/s:40"` replaces them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


_RATE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*(?::\s*(\d+))?\s*$"
)
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
          "hour": 3600}  # fmt: skip


def parse_rate(text: str | None) -> Rate | None:
    """`"10/s"` → 10 a second, burst 10; `"600/m:20"` → 10 a second, burst 20; empty
    → None (not throttled). A malformed rate is a configuration error, said loudly."""
    if not text or not str(text).strip():
        return None
    match = _RATE.match(str(text))
    if not match:
        raise ValueError(f"a send rate is N/s, N/m or N/h with an optional :BURST, not {text!r}")
    count, unit, burst = match.groups()
    per_second = float(count) / _UNITS[unit]
    if per_second <= 0:
        return None
    return Rate(per_second, int(burst) if burst else max(1, int(per_second)))


def rate_for(channel: str) -> Rate | None:
    return parse_rate((settings.SEMAFORO_DISPATCH.get("RATES") or {}).get(channel))


# Float sums of elapsed time × rate land a hair under a whole token: counted whole.
EPSILON = 1e-9
# The shortest wait for a token (seconds): never a spin on a rounding error.
MIN_WAIT = 0.001


class LocalBucket:
    """A token bucket in this process (the embedded mode: one process sends)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: Rate, wanted: int = 1) -> tuple[int, float]:
        """Take up to `wanted` tokens: (how many were taken, seconds until the next one
        would be there)."""
        with self.lock:
            now = self.clock()
            tokens, stamp = self.state.get(key, (float(rate.burst), now))
            tokens = min(float(rate.burst), tokens + max(0.0, now - stamp) * rate.per_second)
            taken = min(wanted, int(tokens + EPSILON))
            tokens = max(0.0, tokens - taken)
            self.state[key] = (tokens, now)
            return taken, max(MIN_WAIT, (1 - tokens) / rate.per_second)


# KEYS[1]: the bucket (a hash: tokens, stamp). ARGV: rate a second, burst, wanted, and
# the time in seconds (empty: the Redis server's clock, one clock for every worker).
# Returns {taken, microseconds until the next token (at least 1 ms)}. The same
# arithmetic as LocalBucket's.
TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local taken = math.min(wanted, math.floor(tokens + 1e-9))
tokens = math.max(0, tokens - taken)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'stamp', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(1000 * burst / rate) + 1000)
return {taken, math.max(1000, math.ceil(1000000 * (1 - tokens) / rate))}
"""


class RedisBucket:
    """The same bucket in Redis, shared by every worker and host (one atomic script)."""

    prefix = "semaforo:send-rate:"

    def __init__(self, client, clock: Callable[[], float] | None = None):
        self.script = client.register_script(TAKE)
        self.clock = clock  # tests inject one; else the Redis server's clock

    def take(self, key: str, rate: Rate, wanted: int = 1) -> tuple[int, float]:
        now = "" if self.clock is None else repr(self.clock())
        taken, wait_us = self.script(
            keys=[self.prefix + key], args=[repr(rate.per_second), rate.burst, wanted, now]
        )
        return int(taken), int(wait_us) / 1_000_000


@lru_cache(maxsize=4)
def _bucket(url: str) -> LocalBucket | RedisBucket:
    if not url:
        return LocalBucket()
    import redis

    return RedisBucket(redis.Redis.from_url(url))


def bucket() -> LocalBucket | RedisBucket:
    """Redis where the cache is (every worker shares it), else this process's."""
    return _bucket(settings.CACHE_URL or "")


def throttle_take(
    *,
    channel: str,
    sender: str,
    wanted: int = 1,
    max_wait: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    source: LocalBucket | RedisBucket | None = None,
) -> int:
    """Tokens to send up to `wanted` messages of a channel from a sender now: all of
    them for a channel without a rate; else what the bucket has, waiting (at most
    `max_wait` seconds in all, `THROTTLE_MAX_WAIT` by default) for the first one.
    0: none came in time; the caller leaves its messages queued."""
    rate = rate_for(channel)
    if rate is None or wanted <= 0:
        return wanted
    source = source or bucket()
    budget = (
        settings.SEMAFORO_DISPATCH.get("THROTTLE_MAX_WAIT", 2) if max_wait is None else max_wait
    )
    key = f"{channel}:{sender or '-'}"
    while True:
        taken, wait = source.take(key, rate, wanted)
        if taken or wait > budget:
            return taken
        sleep(wait)
        budget -= wait
