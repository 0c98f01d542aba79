"""Where commissions are seen, per role (three personas: the owner, a colleague, an
outsider), in pages and exports; the gerente computes, closes and loads targets."""

import io
import zipfile

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from commissions.models import CommissionMonth, OfficeTarget
from commissions.statements.services import commissions_compute
from tests.commissions.test_statements import NOVEMBER, november  # noqa: F401 (fixture)
from tests.support import person

pytestmark = pytest.mark.django_db(transaction=True)


def browse(username: str) -> Client:
    browser = Client()
    browser.force_login(person(username))
    return browser


@pytest.fixture
def computed(november):  # noqa: F811
    commissions_compute(month=NOVEMBER)
    return november


def test_an_asesor_sees_its_own_statement_and_nobody_elses(computed):
    rosa = browse("rquispe")
    page = rosa.get("/commissions/?month=2026-11")
    assert page.status_code == 200
    assert page.context["code"] == "AS001" and str(page.context["statement"].amount) == "19.80"
    assert [ln.kind for ln in page.context["lines"]] == ["collection", "cure", "target"]
    # Her colleague in the same agency (AS004) and an outsider (Juan, AG02): a 404 on
    # Rosa's statement, as for one that does not exist.
    for other in ("ltorres", "jmamani"):
        assert browse(other).get("/commissions/?month=2026-11&officer=AS001").status_code == 404
        assert (
            browse(other).get("/commissions/?month=2026-11&officer=AS001&format=csv").status_code
            == 404
        )
    assert rosa.get("/commissions/?month=2026-11&officer=AS002").status_code == 404
    assert rosa.get("/commissions/?month=2026-11&officer=NOPE").status_code == 404
    # Her colleague sees his own, empty one.
    assert browse("ltorres").get("/commissions/?month=2026-11").context["code"] == "AS004"


def test_exports_carry_the_lines_and_the_total(computed):
    rosa = browse("rquispe")
    csv = rosa.get("/commissions/?month=2026-11&officer=AS001&format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig").splitlines()
    assert len(text) == 1 + 3 + 1  # header, the three lines, the total
    assert "PAY-CR1-2-11" in csv.content.decode("utf-8-sig") and text[-1].endswith("19.80")
    xlsx = rosa.get("/commissions/?month=2026-11&format=xlsx")
    assert zipfile.ZipFile(io.BytesIO(xlsx.content)).read("xl/worksheets/sheet1.xml")
    external = browse("recupera")
    pdf = external.get("/commissions/?month=2026-11&external_agency=EX01&format=pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("username", "visible"),
    [
        ("jcastro", {"AG01", "AS001", "AS004"}),  # jefe de agencia AG01
        ("pvargas", {"AG02", "AS002"}),  # jefe de agencia AG02
        ("mflores", {"AG01", "AS001", "AS004"}),  # jefe zonal Z1
        ("gerencia", {"AG01", "AG02", "AS001", "AS002", "AS004", "EX01"}),
    ],
)
def test_the_jefes_see_their_agency_and_the_gerente_everything(computed, username, visible):
    browser = browse(username)
    page = browser.get("/commissions/?month=2026-11")
    assert page.status_code == 200
    shown = {code for group in ("agencies", "officers", "externals")
             for _s, code, _n in page.context[group]}  # fmt: skip
    assert shown == visible
    exported = browser.get("/commissions/?month=2026-11&format=csv").content.decode("utf-8-sig")
    assert {line.split(",")[1] for line in exported.splitlines()[1:]} == visible
    outside = {"AS001": "officer", "AS002": "officer", "AG01": "agency", "AG02": "agency"}
    for code, key in outside.items():
        expected = 200 if code in visible else 404
        assert browser.get(f"/commissions/?month=2026-11&{key}={code}").status_code == expected


def test_the_listing_costs_the_same_queries_whatever_the_number_of_statements(computed):
    gerente = browse("gerencia")
    gerente.get("/commissions/?month=2026-11")
    with CaptureQueriesContext(connection) as few:
        gerente.get("/commissions/?month=2026-11")
    from portfolio.services import organisation_load

    organisation_load(document="officers:\n" + "".join(
        f"  - {{code: AX{i:02d}, name: Extra {i}, agency: AG01, subzones: [SZ01], tramos: [1]}}\n"
        for i in range(12)
    ))  # fmt: skip
    commissions_compute(month=NOVEMBER)
    with CaptureQueriesContext(connection) as many:
        page = gerente.get("/commissions/?month=2026-11")
    assert len(page.context["officers"]) == 15
    assert len(many) == len(few)


def test_the_gerente_computes_closes_and_loads_targets(computed):
    gerente = browse("gerencia")
    assert gerente.post("/commissions/", {"month": "2026-11", "op": "compute"}).status_code == 302
    assert CommissionMonth.objects.get(month=NOVEMBER).computed_by == person("gerencia")
    # A jefe may not.
    assert browse("jcastro").post("/commissions/", {"month": "2026-11"}).status_code == 404
    upload = io.BytesIO(b"agency_code,month,amount\nAG01,2026-12,300.50\n")
    upload.name = "metas.csv"
    assert gerente.post("/commissions/targets/?month=2026-12", {"file": upload}).status_code == 302
    target = OfficeTarget.objects.get(agency__code="AG01", month="2026-12-01")
    assert str(target.amount) == "300.50" and target.loaded_by == person("gerencia")
    assert target.history.first().history_user == person("gerencia")
    bad = io.BytesIO(b"agency_code,month,amount\nAG01,2026-12,1\nAG99,2026-12,5\n")
    bad.name = "metas.csv"
    answer = gerente.post("/commissions/targets/?month=2026-12", {"file": bad}, follow=True)
    assert any("line 3: unknown agency AG99" in str(m) for m in answer.context["messages"])
    assert OfficeTarget.objects.get(agency__code="AG01", month="2026-12-01").amount == 300.50
    assert browse("jcastro").get("/commissions/targets/").status_code == 404
