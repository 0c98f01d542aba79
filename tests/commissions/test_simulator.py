"""The simulator: only qualifying products, every refusal naming its field, nothing
written, the role scope, the page and its PDF."""

from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.test import Client

from commissions.refinancing.selectors import simulation_for
from tests.support import api_as, person

pytestmark = pytest.mark.django_db

URL = "/api/v1/refinancing/simulations/"


def body(**overrides) -> dict:
    base = {
        "credit_code": "CR1",
        "product": "REF1",
        "term_months": 12,
        "down_payment": "400.00",
        "first_due_date": "2026-11-20",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def rosa_api(refi):
    return api_as("rquispe", ["refinancing:read"])


def test_a_simulation_answers_the_contract(rosa_api):
    answer = rosa_api.post(URL, body(), format="json")
    assert answer.status_code == 200, answer.json()
    data = answer.json()
    # DOMAIN.md 7.4: principal, fee, waived{…}, installment, tcea, schedule[{…}]
    assert data["principal"] == "2850.50"  # 3,200.50 − 400.00 + 50.00
    assert data["fee"] == "50.00"
    assert data["waived"] == {
        "late_interest": "12.30",
        "collection_fees": "0.00",
        "commissions": "0.00",
    }  # REF1 waives all the late interest
    assert data["start_date"] == "2026-11-02"
    assert data["max_term_months"] == 26  # 24, plus the 2 unpaid installments (≤ 6)
    assert len(data["schedule"]) == 12
    assert set(data["schedule"][0]) == {
        "n", "due_date", "days", "installment", "interest", "principal", "balance"
    }  # fmt: skip
    assert data["schedule"][-1]["balance"] == "0.00"
    assert Decimal(data["tcea"]) > Decimal(data["tea"])


def test_waived_charges_up_to_the_product_maximum(refi):
    rosa = person("rquispe")
    simulation = simulation_for(
        user=rosa, credit_code="CR5", product="REF2", term_months=12,
        down_payment=Decimal("1200.00"), first_due_date=date(2026, 12, 31),
    )  # fmt: skip
    # REF2 waives late interest 100 %, collection fees 100 %, commissions 75 %.
    assert simulation.waived == {
        "late_interest": Decimal("200.00"),
        "collection_fees": Decimal("60.00"),
        "commissions": Decimal("30.00"),
    }
    assert simulation.charges_due["commissions"] == Decimal("10.00")
    assert simulation.due_at_signing == Decimal("1210.00")
    lower = simulation_for(
        user=rosa, credit_code="CR5", product="REF2", term_months=12,
        down_payment=Decimal("1200.00"), first_due_date=date(2026, 12, 31),
        waived_pct={"late_interest": Decimal("0.5")},
    )  # fmt: skip
    assert lower.waived["late_interest"] == Decimal("100.00")
    assert lower.waived["collection_fees"] == Decimal("60.00")  # the maximum by default


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"product": "REF9"}, "product", "unknown product REF9; this credit qualifies for: REF1"),
        ({"product": "REF2"}, "product", "45 days past due, outside product REF2's 91–365"),
        ({"term_months": 27}, "term_months", "1 to 26 months"),
        ({"term_months": 0}, "term_months", ""),
        ({"down_payment": "320.04"}, "down_payment", "at least S/ 320.05 (10 % of the"),
        ({"down_payment": "3200.50"}, "down_payment", "less than the principal balance"),
        ({"down_payment": "2000.00", "term_months": 24}, "term_months",
         "below product REF1's minimum S/ 100.00"),
        ({"first_due_date": "2026-11-02"}, "first_due_date", "after 2026-11-02"),
        ({"first_due_date": "2027-01-03"}, "first_due_date", "no later than 2027-01-02"),
        ({"start_date": "2026-11-01"}, "start_date", "before the business date 2026-11-02"),
        ({"start_date": "9999-12-01", "first_due_date": "9999-12-20"}, "start_date",
         "at most 3 months after"),
        ({"waived_pct": {"collection_fees": "0.6"}}, "waived_pct.collection_fees",
         "waives at most 50 %"),
        ({"first_due_date": None}, "first_due_date", ""),
    ],
)  # fmt: skip
def test_each_refusal_names_its_field(rosa_api, overrides, field, words):
    answer = rosa_api.post(URL, body(**overrides), format="json")
    assert answer.status_code == 400
    data = answer.json()
    assert data["field"] == field, data
    assert words in data["message"]


def test_the_limits_themselves_are_accepted(rosa_api):
    for overrides in ({"term_months": 26}, {"down_payment": "320.05"},
                      {"first_due_date": "2027-01-02"}):  # fmt: skip
        assert rosa_api.post(URL, body(**overrides), format="json").status_code == 200


def count_rows() -> dict[str, int]:
    return {
        m._meta.db_table: m._default_manager.count()
        for m in apps.get_models(include_auto_created=True)
    }


def test_a_simulation_writes_nothing(refi):
    """Row counts of every table before and after: the API, the page and its PDF."""
    api = api_as("rquispe", ["refinancing:read"])
    browser = Client()
    browser.force_login(person("rquispe"))  # signing in writes; the simulations must not
    before = count_rows()
    assert before["portfolio_creditposition"] > 0 and before["strategy_refinancingproduct"] == 2
    assert api.post(URL, body(), format="json").status_code == 200
    assert api.post(URL, body(term_months=99), format="json").status_code == 400
    query = (
        "credit_code=CR1&product=REF1&term_months=12&down_payment=400.00&first_due_date=2026-11-20"
    )
    page = browser.get(f"/cases/C1/refinancing/?{query}")
    assert page.status_code == 200 and b"2,850.50" in page.content
    pdf = browser.get(f"/cases/C1/refinancing/schedule.pdf?{query}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert count_rows() == before


def test_scope_and_token_scopes(refi):
    # Juan's client is outside Rosa's scope: the same 404 as a credit that does not exist.
    rosa = api_as("rquispe", ["refinancing:read"])
    for code in ("CR2", "NOPE"):
        answer = rosa.post(URL, body(credit_code=code), format="json")
        assert answer.status_code == 404
        assert answer.json()["field"] == "credit_code"
    # A token without the refinancing scopes is refused; either scope is enough.
    assert api_as("rquispe", ["cases:read"]).post(URL, body(), format="json").status_code == 403
    writer = api_as("rquispe", ["refinancing:write"])
    assert writer.post(URL, body(), format="json").status_code == 200
    # The jefe de agencia of AG01 sees C1 but not C2; the gerente sees both.
    jefe = api_as("jcastro", ["refinancing:read"])
    assert jefe.post(URL, body(), format="json").status_code == 200
    assert jefe.post(URL, body(credit_code="CR2"), format="json").status_code == 404
    gerente = api_as("gerencia", ["refinancing:read"])
    assert gerente.post(URL, body(credit_code="CR2"), format="json").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_dollar_credit_gets_the_product_amounts_converted(refi):
    from tests.collections_field.replay import overdue_row

    from .conftest import refinancing_rows

    refi.snapshot(2, [*refinancing_rows(),
                      overdue_row("C7", "CR7", 60, currency="USD", principal_balance="2000.00",
                                  client_name="Ana Díaz", document_id="40777666")])  # fmt: skip
    simulation = simulation_for(
        user=person("gerencia"), credit_code="CR7", product="REF1", term_months=6,
        down_payment=Decimal("200.00"), first_due_date=date(2026, 12, 3),
    )  # fmt: skip
    assert simulation.currency == "USD"
    assert simulation.fee == Decimal("13.33")  # S/ 50.00 at 3.75
    assert simulation.min_installment == Decimal("26.67")  # S/ 100.00 at 3.75
    assert simulation.principal == Decimal("1813.33")


def test_the_simulator_page_offers_only_qualifying_products(refi):
    browser = Client()
    browser.force_login(person("rquispe"))
    page = browser.get("/cases/C5/refinancing/")
    text = page.content.decode()
    assert page.status_code == 200
    assert '<option value="REF1"' in text and '<option value="REF2"' in text  # 100 days
    page = browser.get("/cases/C1/refinancing/").content.decode()
    assert '<option value="REF1"' in page and '<option value="REF2"' not in page  # 45 days
    # A refusal shows next to its field.
    page = browser.get("/cases/C1/refinancing/?credit_code=CR1&product=REF1&term_months=40"
                       "&down_payment=400&first_due_date=2026-11-20").content.decode()  # fmt: skip
    assert "1 to 26 months" in page.split("field-term_months")[1].split("</div>")[0]
    # Another asesor's client: 404.
    assert browser.get("/cases/C2/refinancing/").status_code == 404


def test_the_client_page_links_the_simulator(refi):
    browser = Client()
    browser.force_login(person("rquispe"))
    page = browser.get("/cases/C1/").content.decode()
    assert 'href="/cases/C1/refinancing/"' in page


def test_the_schedule_prints_as_a_pdf_to_sign(refi):
    """A real WeasyPrint PDF: the figures, every row and the signature lines."""
    from io import BytesIO

    from pypdf import PdfReader

    browser = Client()
    browser.force_login(person("rquispe"))
    answer = browser.get(
        "/cases/C5/refinancing/schedule.pdf?credit_code=CR5&product=REF2&term_months=12"
        "&down_payment=1200.00&first_due_date=2026-12-31"
    )
    assert answer["Content-Type"] == "application/pdf"
    text = PdfReader(BytesIO(answer.content)).pages[0].extract_text()
    assert "Pedro Huamán · document 40999888 · client C5 · credit CR5" in text
    assert "New principal S/ 6,880.00" in text
    assert "1 31/12/2026 59 S/ 704.45 S/ 390.05 S/ 314.40 S/ 6,565.60" in text
    assert "12 30/11/2027 30 S/ 704.47 S/ 19.48 S/ 684.99 S/ 0.00" in text
    assert "The client's signature" in text
    # Outside the product: no PDF.
    bad = browser.get(
        "/cases/C5/refinancing/schedule.pdf?credit_code=CR5&product=REF2&term_months=99"
        "&down_payment=1200.00&first_due_date=2026-12-31"
    )
    assert bad.status_code == 404
