import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import translation

from collections_field.models import Case
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def organisation(db):
    return organisation_load(document=ORGANISATION)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttling counters live in the cache: every test starts with none."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language():
    """A page read in es-PE leaves that language active in the thread (the locale
    middleware never resets it): every test starts in the settings' language."""
    translation.deactivate()
    yield
    translation.deactivate()


# An outsourced agency's officer covering Comas Alto (SZ02), and its user.
EXTERNAL = """
officers:
  - {code: AS900, name: Recupera Campo, agency: AG01, external_agency: EX01,
     subzones: [SZ02], tramos: [1, 2, 3], username: recupera}
"""


@pytest.fixture
def world(db, tmp_path):
    """Three delinquent clients: C1 (AG01, Rosa's), C2 (AG02, Juan's) and C3 (AG01,
    Comas Alto, the external agency's). The fixture checks the engine put them there,
    so every scope test below starts from a known assignment."""
    organisation_load(document=ORGANISATION)
    organisation_load(document=EXTERNAL)
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(
        1,
        [
            overdue_row("C1", "CR1", 20),
            overdue_row(
                "C2", "CR2", 20, agency_code="AG02", lat="-16.4", lon="-71.54",
                origin_officer_code="AS002",
            ),
            overdue_row(
                "C3", "CR3", 20, lat="-11.9300", lon="-77.0500", origin_officer_code="",
            ),
        ],
    )  # fmt: skip
    replay.cycle(1)
    officers = dict(Case.objects.values_list("client__code", "officer__code"))
    assert officers == {"C1": "AS001", "C2": "AS002", "C3": "AS900"}
    return replay
