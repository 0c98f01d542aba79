"""Outsourced agencies (DOMAIN.md 6): a case assigned alternately (split between the
asesores and the agency's officers) or simultaneously (kept by its asesor, worked
by the agency too), as configured per subzone and tramo; their work and recoveries
beside the internal team's on the dashboards, per agency and per case."""

from collections import Counter
from decimal import Decimal

import pytest
from django.test import Client

from collections_field.models import Case, ExternalAssignment, TeamFigures
from portfolio.models import ExternalAgency, Subzone
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.support import person

from .replay import Replay, overdue_row

pytestmark = pytest.mark.django_db(transaction=True)

# An outsourced agency's officer covering Comas Centro (SZ01) beside Rosa (AS001).
OUTSOURCED = """
officers:
  - {code: EX001, name: Cobra Rápido, agency: AG01, external_agency: EX01,
     subzones: [SZ01], tramos: [1, 2, 3], username: crapido}
"""
CLIENTS = ["K1", "K2", "K3", "K4"]
AT_HOME = {"lat": -11.94012, "lon": -77.06102}  # every K client lives at the same door


def snapshot_rows(dpd: int = 10, **by_client) -> list[dict]:
    rows = {
        code: overdue_row(code, f"CR{code}", dpd, quadrant_code="Q0001", origin_officer_code="")
        for code in CLIENTS
    }
    for code, changes in by_client.items():
        rows[code] = dict(rows[code], **changes)
    return list(rows.values())


@pytest.fixture
def replay(organisation, tmp_path):
    organisation_load(document=OUTSOURCED)
    strategy_load_default()
    return Replay(tmp_path)


def rule(mode: str, subzone: str | None = "SZ01", tramo: int | None = None) -> None:
    ExternalAssignment.objects.create(
        external_agency=ExternalAgency.objects.get(code="EX01"),
        subzone=Subzone.objects.get(code=subzone) if subzone else None,
        tramo=tramo,
        mode=mode,
    )


def holders() -> dict[str, tuple[str, str | None]]:
    return {
        c.client.code: (c.officer.code, c.external_agency.code if c.external_agency else None)
        for c in Case.objects.select_related("client", "officer", "external_agency")
    }


@pytest.mark.parametrize("configured", [False, True])
def test_alternate_assignment_splits_the_cases_between_the_teams(replay, configured):
    if configured:
        rule("alternate")  # the default, written down
    replay.snapshot(1, snapshot_rows())
    replay.cycle(1)  # the month's first cycle: the even spread
    got = holders()
    assert Counter(officer for officer, _x in got.values()) == {"AS001": 2, "EX001": 2}
    # Round-robin by client code: the teams alternate.
    assert [got[c][0] for c in CLIENTS] == ["AS001", "EX001", "AS001", "EX001"]
    assert {got[c][1] for c in CLIENTS if got[c][0] == "EX001"} == {"EX01"}
    assert {got[c][1] for c in CLIENTS if got[c][0] == "AS001"} == {None}


def test_simultaneous_assignment_keeps_the_asesor_and_adds_the_agency(replay):
    rule("simultaneous")
    replay.snapshot(1, snapshot_rows())
    replay.cycle(1)
    assert holders() == dict.fromkeys(CLIENTS, ("AS001", "EX01"))
    # The assignment is in each case's history, with the agency beside the asesor.
    entry = replay.case("K1").history.get(cause_kind="assign")
    assert (entry.officer_code, entry.external_agency_code, entry.reason) == (
        "AS001", "EX01", " -> AS001 + EX01",
    )  # fmt: skip
    # Both teams see and work the case: the asesor's list, the agency's user.
    agency_user, asesor = Client(), Client()
    agency_user.force_login(person("crapido"))
    asesor.force_login(person("rquispe"))
    assert agency_user.get("/cases/K1/").status_code == 200
    assert asesor.get("/cases/K1/").status_code == 200
    replay.result(2, "K1", "30", officer="EX001", channel="visit", **AT_HOME)
    assert replay.case("K1").officer.code == "AS001"


def test_the_most_specific_rule_decides(replay):
    rule("simultaneous", subzone=None)  # the agency's general rule…
    rule("alternate", subzone="SZ01", tramo=1)  # …but alternate in SZ01's first tramo
    replay.snapshot(1, snapshot_rows())
    replay.cycle(1)
    assert Counter(officer for officer, _x in holders().values()) == {"AS001": 2, "EX001": 2}


def test_a_tramo_jump_follows_the_configuration_at_once(replay):
    rule("simultaneous", tramo=2)  # tramo 1 alternate (default), tramo 2 simultaneous
    replay.snapshot(1, snapshot_rows(dpd=29))
    replay.cycle(1)
    assert holders()["K2"] == ("EX001", "EX01")
    replay.snapshot(2, snapshot_rows(dpd=30 + 1))  # every case leaves tramo 1 (TR)
    replay.cycle(2)
    assert replay.case("K2").tramo == 2
    assert holders() == dict.fromkeys(CLIENTS, ("AS001", "EX01"))


def test_external_figures_appear_beside_the_internal_teams(replay):
    rule("simultaneous", tramo=None)
    replay.snapshot(1, snapshot_rows())
    replay.cycle(1)
    # K1 and K2 are shared; move K3 and K4 to alternate work for the agency's officer.
    Case.objects.filter(client__code__in=["K3", "K4"]).update(officer=person("crapido").officer)
    replay.result(2, "K1", "30", hour=9, officer="EX001", channel="visit", **AT_HOME)
    replay.result(2, "K3", "10", hour=10, promise_in=2, officer="EX001", channel="visit",
                  **AT_HOME)  # fmt: skip
    replay.result(2, "K2", "30", hour=11, officer="AS001", channel="call")
    replay.payment(2, "CRK1", amount="100.00", installments=0)  # shared case
    replay.payment(2, "CRK3", amount="40.00", installments=0)  # the agency's own case
    replay.snapshot(2, snapshot_rows(dpd=11))
    replay.cycle(2)
    day = replay.day(2)
    rows = {
        (t.team and "EX01") or "internal": t for t in TeamFigures.objects.filter(business_date=day)
    }
    internal, external = rows["internal"], rows["EX01"]
    assert (internal.cases_open, internal.cases_shared) == (2, 2)  # K1, K2 (both shared)
    assert (external.cases_open, external.cases_shared) == (4, 2)  # K1, K2 shared; K3, K4
    assert internal.collected == Decimal("100.00")  # K1
    assert external.collected == Decimal("140.00")  # K1 (shared) and K3
    assert (internal.results, external.results) == (1, 2)  # who did the work
    assert (external.visits_verified, external.promises) == (2, 1)

    jefe = Client()
    jefe.force_login(person("jcastro"))
    board = jefe.get("/dashboard/").context["board"]
    assert [(t.team, t.figures["day_collected"]) for t in board.teams] == [
        ("internal", Decimal("100.00")),
        ("EX01", Decimal("140.00")),
    ]
    # Per case: the agency's open cases, and which of them are shared with an asesor.
    drill = jefe.get(f"/dashboard/cases/?unit=agency:AG01&figure=team_cases&team=EX01&date={day}")
    assert drill.status_code == 200
    assert sorted((r["client_code"], r["external_agency"], r["shared"])
                  for r in drill.context["rows"]) == [
        ("K1", "EX01", True), ("K2", "EX01", True), ("K3", "EX01", False), ("K4", "EX01", False),
    ]  # fmt: skip
    internal_cases = jefe.get(
        f"/dashboard/cases/?unit=agency:AG01&figure=team_cases&team=internal&date={day}"
    )
    assert sorted(r["client_code"] for r in internal_cases.context["rows"]) == ["K1", "K2"]
    # The zone's and the company's dashboards have them per agency too.
    zonal = Client()
    zonal.force_login(person("mflores"))
    zone_board = zonal.get("/dashboard/").context["board"]
    assert [(t.unit.code, t.team) for t in zone_board.child_teams] == [
        ("AG01", "internal"), ("AG01", "EX01"),
    ]  # fmt: skip
    gerente = Client()
    gerente.force_login(person("gerencia"))
    company = gerente.get("/dashboard/").context["board"]
    assert [(t.unit.code, t.team) for t in company.child_teams] == [
        ("Z1", "internal"), ("Z1", "EX01"),
    ]  # fmt: skip
    page = gerente.get("/dashboard/").content.decode()
    assert 'id="teams"' in page and "figure=team_cases&amp;team=EX01" in page
