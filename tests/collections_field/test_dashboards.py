"""Dashboards per role (issue 6 part 4): the figures the lights step keeps, each
role's subtree in pages and exports, drill-downs that list the cases behind a
figure, and a fixed number of queries per page whatever the portfolio."""

import io
import json
import re
import zipfile
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collections_field.engine.figures import compute_balances
from collections_field.models import AgencyBalance, Case, DailyFigures, LightSummary
from portfolio.models import Agency, CreditPosition, Zone
from strategy.models import StrategyVersion
from tests.collections_field.replay import overdue_row
from tests.support import person

# Several snapshots in one test: PostgreSQL's import needs real commits.
pytestmark = pytest.mark.django_db(transaction=True)

AT_C1 = {"lat": -11.94012, "lon": -77.06102}  # at C1's door
FAR = {"lat": -16.45, "lon": -71.60}  # kilometres from C2's home


def rows_for(day_n: int, c3_dpd: int | None = None, extra: int = 0) -> list[dict]:
    """The three world clients `day_n - 1` days older, plus `extra` more in AG01."""
    dpd = 19 + day_n
    rows = [
        overdue_row("C1", "CR1", dpd),
        overdue_row("C2", "CR2", dpd, agency_code="AG02", lat="-16.4", lon="-71.54",
                    origin_officer_code="AS002"),
        overdue_row("C3", "CR3", c3_dpd or dpd, lat="-11.9300", lon="-77.0500",
                    origin_officer_code=""),
    ]  # fmt: skip
    rows += [overdue_row(f"X{i:03d}", f"CRX{i:03d}", 5 + i % 20) for i in range(extra)]
    return rows


def paid_up(row: dict) -> dict:
    """C1 paid its overdue installment on day 3."""
    if row["client_code"] != "C1":
        return row
    return dict(row, overdue_amount="0", days_past_due="0", overdue_installments="0")


@pytest.fixture
def month(world):
    """Four days of November: C1 promises and pays (kept, cured), C2 promises and does
    not pay (broken), C3 rolls from tramo 1 to tramo 2 on day 4 (more than 30 days)."""
    r = world
    r.result(2, "C1", "10", promise_in=1, officer="AS001", channel="visit", **AT_C1)
    r.result(2, "C2", "10", promise_in=1, officer="AS002", channel="visit", **FAR)
    r.snapshot(2, rows_for(2))
    r.cycle(2)
    r.payment(3, "CR1", hour=11)
    r.snapshot(3, [paid_up(row) for row in rows_for(3)])
    r.cycle(3)
    r.snapshot(4, [paid_up(row) for row in rows_for(4, c3_dpd=31)])
    r.cycle(4)
    return r


def figures(day, level="company", key=0) -> DailyFigures:
    return DailyFigures.objects.get(business_date=day, level=level, key=key)


def browse(username: str) -> Client:
    browser = Client()
    browser.force_login(person(username))
    return browser


def test_the_nights_figures_follow_their_definitions(month):
    day2, day3, day4 = (figures(month.day(n)) for n in (2, 3, 4))
    # Visits of day 2: C1's at its door (verified), C2's kilometres away (off radius).
    assert (day2.visits_verified, day2.visits_off) == (1, 1)
    assert (day2.promises_today, day3.promises_today) == (0, 1)  # C1 was cured on day 3
    # Day 3's cycle took in C1's payment: collected, and C1 cured.
    assert (day3.collected, day3.payments) == (Decimal("150.00"), 1)
    assert (day4.collected, day4.payments) == (0, 0)
    assert (day4.cured, day4.cure_base) == (1, 3)
    # Both promises fell due on day 3 (judged by day 4's cycle); C1's was paid in time.
    assert (day4.promises_due, day4.promises_kept) == (2, 1)
    # C3 rolled from tramo 1 to tramo 2 on day 4; C1 and C2 stayed.
    assert month.case("C3").tramo == 2
    assert (day4.tramo1_base, day4.tramo1_rolled) == (3, 1)
    # Principal balances of the day-4 snapshot; only C3 is more than 30 days late.
    assert day4.balance_total == Decimal("9601.50")
    assert day4.balance_delinquent == Decimal("3200.50")
    # Levels add up: Rosa (AS001) took the kept promise, Juan (AS002) the broken one.
    rosa = Case.objects.get(client__code="C1").officer_id
    assert figures(month.day(4), "officer", rosa).promises_kept == 1
    agency_rows = DailyFigures.objects.filter(business_date=month.day(4), level="agency")
    assert sum(f.cases_open for f in agency_rows) == day4.cases_open == 2


def test_the_balances_step_writes_each_agency_once_and_the_figures_take_them_in(month):
    day = month.day(4)
    expected = {
        row["client__agency__code"]: row["total"]
        for row in CreditPosition.objects.filter(business_date=day)
        .values("client__agency__code")
        .annotate(total=Sum("principal_balance"))
    }
    assert set(expected) == {"AG01", "AG02"}

    def balances() -> dict:
        rows = AgencyBalance.objects.filter(business_date=day).select_related("agency")
        return {b.agency.code: (b.balance_total, b.balance_delinquent) for b in rows}

    assert balances() == {
        "AG01": (expected["AG01"], Decimal("3200.50")),  # C3, more than 30 days late
        "AG02": (expected["AG02"], Decimal("0.00")),
    }
    for code, (total, delinquent) in balances().items():
        agency = Agency.objects.get(code=code)
        row = figures(day, "agency", agency.id)
        assert (row.balance_total, row.balance_delinquent) == (total, delinquent)
    # Again for the same date: the same rows, not twice as many.
    compute_balances(business_date=day, version=StrategyVersion.objects.get(is_active=True))
    assert AgencyBalance.objects.filter(business_date=day).count() == 2
    assert sum(total for total, _ in balances().values()) == figures(day).balance_total


def test_a_visit_registered_after_the_cycle_counts_at_once(month):
    before = figures(month.day(4))
    month.result(4, "C2", "30", officer="AS002", channel="visit", **FAR)
    after = figures(month.day(4))
    assert (after.visits_verified, after.visits_off) == (
        before.visits_verified,
        before.visits_off + 1,
    )


@pytest.mark.parametrize(
    ("username", "unit", "children"),
    [
        ("jcastro", "agency:AG01", ["AS001", "AS900"]),
        ("mflores", "zone:Z1", ["AG01"]),
        ("gerencia", "company", ["Z1", "Z2"]),
    ],
)
def test_each_role_lands_on_its_own_dashboard(month, username, unit, children):
    browser = browse(username)
    assert browser.get("/").url == "/dashboard/"
    page = browser.get("/dashboard/")
    assert page.status_code == 200
    board = page.context["board"]
    assert board.unit.param == unit and board.business_date == month.day(4)
    assert [r.unit.code for r in board.rows] == children
    html = page.content.decode()
    assert "<script>" not in html and "style=" not in html  # the CSP: no inline code
    assert 'id="visits-data"' in html or not board.visits


@pytest.mark.parametrize("username", ["rquispe", "recupera"])
def test_officers_have_no_dashboard_nor_exports(world, username):
    browser = browse(username)
    for url in ("/dashboard/", "/dashboard/?format=csv",
                "/dashboard/cases/?figure=cases_open&format=xlsx"):  # fmt: skip
        assert browser.get(url).status_code == 403


@pytest.mark.parametrize(
    ("username", "outside"),
    [
        ("jcastro", ["agency:AG02", "zone:Z1", "company", "officer:AS002"]),
        ("mflores", ["agency:AG02", "zone:Z2", "company", "officer:AS002"]),
    ],
)
def test_a_jefe_sees_nothing_outside_its_subtree(month, username, outside):
    browser = browse(username)
    for unit in outside:
        assert browser.get(f"/dashboard/?unit={unit}").status_code == 404
        assert browser.get(f"/dashboard/?unit={unit}&format=csv").status_code == 404
        drill = f"/dashboard/cases/?unit={unit}&figure=cases_open"
        assert browser.get(drill).status_code == 404
        assert browser.get(drill + "&format=csv").status_code == 404
    # Its own scope: AG01's cases only, in the page and in the export.
    page = browser.get("/dashboard/cases/?figure=cure_base")
    assert [r["client_code"] for r in page.context["rows"]] == ["C1", "C3"] or sorted(
        r["client_code"] for r in page.context["rows"]
    ) == ["C1", "C3"]
    export = browser.get("/dashboard/cases/?figure=cure_base&format=csv").content.decode("utf-8")
    assert "C1" in export and "C3" in export and "C2" not in export
    table = browser.get("/dashboard/?format=csv").content.decode("utf-8")
    assert "AS002" not in table and "AG02" not in table and "Z2" not in table


def test_the_gerente_drills_from_the_company_to_an_officer(month):
    browser = browse("gerencia")
    assert browser.get("/dashboard/?unit=zone:Z2").context["board"].rows[0].unit.code == "AG02"
    agency = browser.get("/dashboard/?unit=agency:AG02").context["board"]
    assert [r.unit.code for r in agency.rows] == ["AS002"]
    broken = browser.get("/dashboard/cases/?unit=officer:AS002&figure=promises_broken")
    assert [r["client_code"] for r in broken.context["rows"]] == ["C2"]
    kept = browser.get("/dashboard/cases/?figure=promises_kept")
    assert [r["client_code"] for r in kept.context["rows"]] == ["C1"]
    rolled = browser.get("/dashboard/cases/?figure=tramo1_rolled")
    assert [r["client_code"] for r in rolled.context["rows"]] == ["C3"]
    late = browser.get("/dashboard/cases/?figure=balance_delinquent")
    assert [r["client_code"] for r in late.context["rows"]] == ["C3"]
    assert browser.get("/dashboard/cases/?figure=nonsense").status_code == 404


CASE_FIGURES = ("cases_open", "promises_today", "cure_base", "cured", "tramo1_base",
                "tramo1_rolled")  # fmt: skip


def test_a_figure_counts_the_cases_its_drill_down_lists(month):
    """On the latest date; on an earlier one only the figures drawn from history (the
    others list the cases as they stand now, and the page says so)."""
    browser = browse("gerencia")
    for unit in ("company", "zone:Z1", "agency:AG01", "agency:AG02", "officer:AS001"):
        for figure in CASE_FIGURES:
            for n in (3, 4) if figure in ("cured", "tramo1_rolled") else (4,):
                day = month.day(n).isoformat()
                board = browser.get(f"/dashboard/?unit={unit}&date={day}").context["board"]
                cases = browser.get(f"/dashboard/cases/?unit={unit}&figure={figure}&date={day}")
                found = len(cases.context["rows"])
                assert found == board.total.figures[figure], (figure, unit, n)


def test_exports_are_csv_and_excel(month):
    browser = browse("gerencia")
    csv_page = browser.get("/dashboard/?format=csv")
    assert csv_page["Content-Type"].startswith("text/csv")
    lines = csv_page.content.decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["Z1", "Z2", ""]  # zones, then total
    xlsx = browser.get("/dashboard/?format=xlsx")
    assert "attachment" in xlsx["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        assert {"[Content_Types].xml", "xl/workbook.xml"} <= set(book.namelist())
    assert "Z1" in sheet and "Z2" in sheet
    cases = browser.get("/dashboard/cases/?figure=cure_base&format=xlsx")
    with zipfile.ZipFile(io.BytesIO(cases.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert all(code in sheet for code in ("C1", "C2", "C3"))


def _queries(browser: Client, url: str) -> int:
    browser.get(url)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url).status_code == 200
    return len(captured)


PAGES = [
    ("jcastro", "/dashboard/"),
    ("mflores", "/dashboard/"),
    ("gerencia", "/dashboard/"),
    ("gerencia", "/dashboard/?unit=agency:AG01"),
    ("gerencia", "/dashboard/?format=csv"),
    ("jcastro", "/dashboard/cases/?figure=cases_open"),
    ("jcastro", "/dashboard/cases/?figure=red_pending&format=csv"),
]


def test_a_dashboard_costs_the_same_queries_for_3_or_43_clients(world):
    small = {(u, url): _queries(browse(u), url) for u, url in PAGES}
    world.snapshot(2, rows_for(2, extra=40))
    for i in range(5):
        world.result(2, f"X{i:03d}", "30", officer="AS001", channel="visit", **AT_C1)
    world.cycle(2)
    assert DailyFigures.objects.get(business_date=world.day(2), level="company").cases_open > 40
    big = {(u, url): _queries(browse(u), url) for u, url in PAGES}
    assert big == small
    assert max(big.values()) <= 15


def test_the_charts_data_island_carries_the_units_numbers(month):
    """The page hands the charts (static/js/dashboard-charts.js, Chart.js vendored in
    static/) their data in a json_script island: Spanish words, JSON numbers; every
    script and stylesheet is ours (no CDN, no inline code)."""
    page = browse("gerencia").get("/dashboard/", headers={"accept-language": "es-PE"})
    html = page.content.decode()
    island = re.search(
        r'<script id="dashboard-charts-data" type="application/json">(.*?)</script>', html, re.S
    )
    data = json.loads(island.group(1))
    # The company's zones: Z1 holds C1 and C3 (AG01), Z2 holds C2 (AG02).
    lights = {(s.level, s.key): s for s in LightSummary.objects.filter(business_date=month.day(4))}
    zones = {z.code: z.pk for z in Zone.objects.all()}
    assert data["lights"]["labels"] == ["Z1", "Z2"]
    assert [d["bucket"] for d in data["lights"]["datasets"]] == [
        "green", "amber", "red_pending", "red_late"
    ]  # fmt: skip
    assert [d["label"] for d in data["lights"]["datasets"]] == [
        "Hechas a tiempo", "En curso", "Vencidas", "Tardías o perdidas"
    ]  # fmt: skip
    for dataset in data["lights"]["datasets"]:
        expected = [getattr(lights[("zone", zones[z])], dataset["bucket"]) for z in ("Z1", "Z2")]
        assert dataset["data"] == expected
    assert [d["data"] for d in data["lights"]["datasets"]] == [[1, 0], [2, 1], [0, 0], [0, 0]]
    # The month's indicators of the company (see the figures' test): numbers, not text.
    assert data["ratios"]["labels"] == [
        "Ratio de morosidad", "Contención", "Tasa de regularización",
        "Tasa de compromisos cumplidos",
    ]  # fmt: skip
    assert data["ratios"]["data"] == [33.3, 66.7, 33.3, 50.0]
    assert data["format"]["decimal"] == ","  # as the page writes 33,3 %
    # The canvases: images with a summary in words (figures in the page's locale).
    assert 'id="lights-chart" role="img" aria-label="Semáforo por zona: barras apiladas' in html
    assert "Ratio de morosidad: 33,3 %" in html
    # Chart.js and the charts' script from our static files; nothing from elsewhere.
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', html)
    assert "/static/vendor/chartjs/chart.umd.min.js" in scripts
    assert scripts.index("/static/js/dashboard-charts.js") > scripts.index(
        "/static/vendor/chartjs/chart.umd.min.js"
    )
    assert all(url.startswith("/static/") for url in scripts)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert "<script>" not in html and "style=" not in html
