from datetime import date

import pytest

from notifications import throttle
from notifications.gateways import gateways_reset
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

from .fakes import FakeTwilio, RecordingGateway

MONDAY = date(2026, 11, 2)


@pytest.fixture(autouse=True)
def _fresh_send_rates():
    """Every test starts with full buckets: the process-local one is forgotten (the
    Redis one lives in the cache's database, which the suite clears per test)."""
    throttle._bucket.cache_clear()
    yield
    throttle._bucket.cache_clear()


@pytest.fixture(autouse=True)
def recording_gateway(settings):
    """Every channel through the recording gateway unless a test says otherwise."""
    settings.SEMAFORO_DISPATCH = {
        **settings.SEMAFORO_DISPATCH,
        "GATEWAYS": {"default": "tests.notifications.fakes.RecordingGateway"},
    }
    gateways_reset()
    RecordingGateway.sent = []
    RecordingGateway.fail_with = None
    yield RecordingGateway
    gateways_reset()


SID, TOKEN = "AC" + "1" * 32, "test-auth-token"
PUBLIC = "http://testserver"


@pytest.fixture
def twilio(settings):
    """The Twilio SMS gateway for every channel, against a fake Twilio server."""
    with FakeTwilio(SID, TOKEN) as fake:
        settings.SEMAFORO_DISPATCH = {
            **settings.SEMAFORO_DISPATCH,
            "GATEWAYS": {"default": "notifications.gateways.TwilioSmsGateway"},
            "PUBLIC_URL": PUBLIC,
            "TWILIO": {
                **settings.SEMAFORO_DISPATCH["TWILIO"],
                "ACCOUNT_SID": SID,
                "AUTH_TOKEN": TOKEN,
                "FROM": "+15005550006",
                "API_BASE_URL": fake.url,
                "TIMEOUT": 5,
            },
        }
        gateways_reset()
        yield fake
    gateways_reset()


def start(tmp_path, first_day: date = MONDAY, clients=("C1", "C2")) -> Replay:
    """The shipped strategy; clients 1 day past due on day 1, so the cycle of day 1
    queues their first SMS (window: days 1 to 3). C2 is Arequipa's (AG02)."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path, first_day=first_day)
    night(replay, 1, clients)
    return replay


def night(replay: Replay, n: int, clients=("C1", "C2")) -> None:
    rows = {
        "C1": overdue_row("C1", "CR1", n),
        "C2": overdue_row(
            "C2", "CR2", n, agency_code="AG02", lat="-16.4", lon="-71.54",
            origin_officer_code="AS002", phone="+51 912 345 678",
        ),
    }  # fmt: skip
    replay.snapshot(n, [rows[c] for c in clients])
    replay.cycle(n)


@pytest.fixture
def replay(db, tmp_path) -> Replay:
    return start(tmp_path)
