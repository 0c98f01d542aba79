import pytest

from collections_field.models import Case
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.collections_field.replay import Replay, overdue_row
from tests.conftest import EXTERNAL
from tests.support import ORGANISATION


def refinancing_rows() -> list[dict]:
    """Day 1 of the refinancing tests: three delinquent clients.

    C1 (Rosa's, AG01): CR1, 45 days late, balance 3,200.50, late interest 12.30 (REF1).
    C5 (Rosa's, AG01): CR5, 100 days late, balance 8,000.00 and late charges (REF1, REF2).
    C2 (Juan's, AG02): CR2, 45 days late (another agency: outside the jefe's scope).
    """
    return [
        overdue_row("C1", "CR1", 45, installments=2),
        overdue_row(
            "C5", "CR5", 100, installments=4, principal_balance="8000.00",
            late_interest="200.00", collection_fees="60.00", commissions="40.00",
            client_name="Pedro Huamán", document_id="40999888",
        ),
        overdue_row(
            "C2", "CR2", 45, agency_code="AG02", lat="-16.4", lon="-71.54",
            origin_officer_code="AS002", client_name="Juan Pérez", document_id="41111222",
        ),
    ]  # fmt: skip


# Rosa also covers the later tramos here, so C5 (tramo 4) is hers.
ROSA_ALL_TRAMOS = """
officers:
  - {code: AS001, name: Rosa Quispe, agency: AG01, external_agency: null,
     subzones: [SZ01], tramos: [1, 2, 3, 4, 5], username: rquispe}
"""


@pytest.fixture
def refi(db, tmp_path) -> Replay:
    """The default strategy, the three clients above, and day 1's cycle (2026-11-02)."""
    organisation_load(document=ORGANISATION)
    organisation_load(document=ROSA_ALL_TRAMOS)
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(1, refinancing_rows())
    replay.cycle(1)
    assert replay.case("C5").officer.code == "AS001"
    return replay


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
