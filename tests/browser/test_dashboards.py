"""Each role's dashboard in real Chromium (Debian's, driven by Playwright): the
jefe de agencia, the jefe zonal and the gerente sign in, land on their dashboard,
see the semáforo per child and the month's indicators drawn by Chart.js (no CSP
violation), the day's visits on the map (verified and off
radius apart), and a drill-down lists the cases. Screenshots go to tests/artifacts/
(not committed)."""

import pytest
from django.utils import timezone

from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from tests.browser.support import ARTIFACTS, CHROMIUM, PASSWORD, PHONE, with_passwords
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (scripts/system-packages.sh)"
    ),
]


@pytest.fixture
def todays_work(transactional_db, tmp_path, every_day_a_collection_day):
    """Today's cycle (Lima) with two visits: one at C1's door, one far from C9's."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path, first_day=timezone.localdate())
    replay.snapshot(
        1,
        [
            overdue_row("C1", "CR1", 12),
            overdue_row("C9", "CR9", 25, lat="-11.9300", lon="-77.0500"),
            overdue_row("C2", "CR2", 40, agency_code="AG02", lat="-16.4", lon="-71.54",
                        origin_officer_code="AS002"),
        ],
    )  # fmt: skip
    replay.cycle(1)
    replay.result(1, "C1", "30", channel="visit", lat=-11.94012, lon=-77.06102)
    replay.result(1, "C9", "30", channel="visit", lat=-11.9500, lon=-77.0700)
    # The day's productivity, as beat's refresh keeps it: the two visits.
    from notifications.productivity import channel_figures_refresh

    channel_figures_refresh(since=replay.day(1), until=replay.day(1))
    with_passwords("jcastro", "mflores", "gerencia")
    return replay


# What the page's charts hold (Chart.getChart on each canvas) beside the page's
# own data island, and whether the canvases were painted (some pixel not blank).
CHARTS = """() => {
  const island = JSON.parse(document.getElementById("dashboard-charts-data").textContent);
  const lights = Chart.getChart(document.getElementById("lights-chart"));
  const ratios = Chart.getChart(document.getElementById("ratios-chart"));
  const painted = [lights, ratios].every((chart) => {
    const pixels = chart.ctx.getImageData(0, 0, chart.canvas.width, chart.canvas.height).data;
    return pixels.some((value) => value !== 0);
  });
  return {
    island: {lights: island.lights.datasets.map((d) => d.data), ratios: island.ratios.data},
    lights: lights.data.datasets.map((d) => d.data),
    labels: lights.data.labels,
    ratios: ratios.data.datasets[0].data,
    painted,
  };
}"""


@pytest.mark.parametrize(
    ("username", "rows"),
    [("jcastro", ["AS001"]), ("mflores", ["AG01"]), ("gerencia", ["Z1", "Z2"])],
)
def test_each_role_opens_its_dashboard(todays_work, browser, live_server, username, rows):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="es-PE", timezone_id="America/Lima"
    )
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # Every CSP violation the page meets (a refused script, style or element).
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => (window.cspViolations ="
        " window.cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI))"
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert "Tablero" in page.locator("h1").inner_text()
    codes = page.locator("table.dashboard tbody tr td:first-child a").all_inner_texts()
    assert [c for c in codes if c in rows] == rows
    # The map drew the visits in scope: verified in green, off radius in red.
    page.wait_for_selector("#visits-map .visit-icon")
    assert page.locator("#visits-map .visit-ok").count() == 1
    assert page.locator("#visits-map .visit-off").count() == 1
    # The charts (Chart.js from static/) drew the island's numbers, and the table's
    # SVG bars (the no-script fallback) stepped aside.
    page.wait_for_function(
        "() => window.Chart && Chart.getChart('lights-chart') && Chart.getChart('ratios-chart')",
        polling=100,
    )
    drawn = page.evaluate(CHARTS)
    assert drawn["lights"] == drawn["island"]["lights"] and drawn["lights"]
    assert drawn["ratios"] == drawn["island"]["ratios"] and len(drawn["ratios"]) == 4
    assert drawn["labels"] == codes and drawn["painted"]
    assert page.locator("table.dashboard td.bar-col").first.is_hidden()
    # Figures in the page's format: the chart's 33,3 % is the indicator's 33,3 %.
    shown = page.evaluate(
        "() => { const c = Chart.getChart('ratios-chart');"
        " return c.data.datasets[0].data.map((v) => c.options.plugins.tooltip.callbacks"
        ".label({raw: v})); }"
    )
    assert shown == [t.strip() for t in page.locator(".ratios dd").all_inner_texts()]
    assert page.locator("#lights-chart").get_attribute("role") == "img"
    assert (
        page.locator("#ratios-chart").get_attribute("aria-label").startswith("Indicadores del mes")
    )
    assert not [e for e in errors if "Content Security Policy" in e]
    assert page.evaluate("() => window.cspViolations || []") == []
    # Productivity per channel: both visits were in AG01, in every role's unit.
    visits = page.locator("#productivity table.productivity-day tbody tr", has_text="Visita")
    assert visits.locator("td[data-figure=contacted]").inner_text().strip() == "2"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{username}.png"), full_page=True)
    # On a phone the charts take the screen's width (Chart.js sizes them to their box).
    # A page opened at that size: a headless page resized later draws no frame by
    # itself, so resize observers may never run and the test would wait on nothing.
    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    phone.goto(f"{live_server.url}/dashboard/")
    phone.wait_for_function("() => window.Chart && Chart.getChart('ratios-chart')", polling=100)
    assert 0 < phone.evaluate("() => Chart.getChart('ratios-chart').width") <= PHONE["width"]
    phone.screenshot(path=str(ARTIFACTS / f"dashboard-{username}-phone.png"), full_page=True)
    phone.close()
    page.locator("dl.figures a").nth(4).click()  # open cases, drilled down
    page.wait_for_url("**/dashboard/cases/**")
    assert page.locator("table.grid tbody tr").count() >= 1
    page.screenshot(path=str(ARTIFACTS / f"dashboard-cases-{username}.png"), full_page=True)
    context.close()
