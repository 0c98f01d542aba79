import pytest

from collections_field.models import Case
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.collections_field.replay import Replay, overdue_row
from tests.conftest import EXTERNAL
from tests.support import ORGANISATION

# A second asesor in AG01 (Rosa's colleague) and the jefe of AG02, for three personas.
COLLEAGUES = """
officers:
  - {code: AS004, name: Luis Torres, agency: AG01, subzones: [SZ01], tramos: [4, 5],
     username: ltorres}
people:
  - {username: pvargas, role: jefe_agencia, agency: AG02}
"""
LATE_CHARGES = {"late_interest": "200.00", "collection_fees": "50.00", "commissions": "30.00"}


def rows(day_n: int = 1, **by_client) -> list[dict]:
    """The world's three clients, `day_n - 1` days older; `by_client` overrides a row."""
    dpd = 19 + day_n
    base = {
        "C1": overdue_row("C1", "CR1", dpd, **LATE_CHARGES),
        "C2": overdue_row("C2", "CR2", dpd, agency_code="AG02", lat="-16.4", lon="-71.54",
                          origin_officer_code="AS002", **LATE_CHARGES),
        "C3": overdue_row("C3", "CR3", dpd, lat="-11.9300", lon="-77.0500",
                          origin_officer_code="", **LATE_CHARGES),
    }  # fmt: skip
    for code, changes in by_client.items():
        base[code] = dict(base[code], **changes)
    return list(base.values())


@pytest.fixture
def money(db, tmp_path):
    """The `world` of tests/conftest.py (C1 Rosa's, C2 Juan's in AG02, C3 the external
    agency's), with late charges on every credit and Rosa's colleague AS004."""
    organisation_load(document=ORGANISATION)
    organisation_load(document=EXTERNAL)
    organisation_load(document=COLLEAGUES)
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(1, rows(1))
    replay.cycle(1)
    officers = dict(Case.objects.values_list("client__code", "officer__code"))
    assert officers == {"C1": "AS001", "C2": "AS002", "C3": "AS900"}
    return replay
