"""The shipped thesis strategy (DOMAIN.md 3; thesis 5.2.1 and 5.2.10)."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from strategy.models import (
    ActionPlanItem,
    Classification,
    EscalationLevel,
    EventCode,
    ManagementType,
    ResultCode,
    StrategyVersion,
    SuggestedAction,
    Tramo,
)
from strategy.selectors import (
    active_strategy,
    bas_table_for,
    commission_scheme_for,
    exoneration_limits_for,
    initial_classification_for,
    management_type_for,
    opening_action_for,
    refinancing_products_for,
    tramo_for,
)
from strategy.services import strategy_load_default
from strategy.validation import validate_strategy

pytestmark = pytest.mark.django_db

# The thesis basic table (5.2.10).
THESIS_CODES = [
    "A11", "A12", "A13",
    "B11", "B12", "B13", "B21",
    "C11", "C12", "C13", "C21", "C22", "C31", "C32",
    "D11", "D21", "D22", "D23", "D24", "D31", "D32",
    "E11", "E21", "E22", "E31", "E32", "E33", "E34",
]  # fmt: skip

# Thesis 5.2.10, "Esta tabla representa el comportamiento del modelo BAS".
THESIS_ROWS = {
    "A11": {"10": "A11", "20": "A12", "30": "A11", "40": "A11", "50": "A12",
            "60": "A12", "70": "A11", "80": "B21", "90": "B21"},
    "A12": {"10": "A12", "20": "A13", "30": "A12", "40": "A12", "50": "A13",
            "60": "A13", "70": "A11", "80": "B21", "90": "B21"},
}  # fmt: skip

# Thesis "Caso 1" on type A, then "vuelve a ser moroso" (C11 -> C12 -> C11).
CASO_1 = [
    ("A11", "10", "A11"),
    ("A11", "60", "A12"),
    ("A12", "20", "A13"),
    ("A13", "10", "A13"),
    ("A13", "60", "B21"),
    ("B21", "20", "C21"),
    ("C21", "10", "C21"),
    ("C21", "60", "C22"),
    ("C22", "10", "C22"),
    ("C22", "PG", "C11"),
    ("C11", "20", "C12"),
    ("C12", "PG", "C11"),
]


@pytest.fixture
def version() -> StrategyVersion:
    out = io.StringIO()
    call_command("load_strategy", "--default", stdout=out)
    assert "Published strategy version 1: Tesis — modelo CC/AS/BAS" in out.getvalue()
    return active_strategy()


def test_default_has_no_warning_but_unwritten_templates(default_text):
    warnings = validate_strategy(default_text).warnings
    assert len(warnings) == 1
    assert warnings[0].startswith("templates: none written yet for")


def test_types_tramos_classifications(version):
    types = ManagementType.objects.filter(version=version).order_by("position")
    assert [(t.code, t.name, t.max_exposure) for t in types] == [
        ("A", "Masiva", Decimal("30000.00")),
        ("B", "Selectiva", None),
    ]
    assert version.usd_rate == Decimal("3.75")
    days = {
        t: [
            (r.from_day, r.to_day, r.max_visits)
            for r in Tramo.objects.filter(version=version, type=t).order_by("number")
        ]
        for t in "AB"
    }
    assert days["A"] == [(0, 30, 3), (31, 60, 4), (61, 90, 4), (91, 365, 4), (366, None, 4)]
    assert [(f, to) for f, to, _v in days["B"]] == [
        (8, 30), (31, 60), (61, 120), (121, 365), (366, None)
    ]  # fmt: skip
    names = {
        t: list(
            Classification.objects.filter(version=version, type=t)
            .order_by("position")
            .values_list("code", "name", "max_dpd")
        )
        for t in "AB"
    }
    assert names["A"] == [
        ("A", "Normal", 30),
        ("B", "Deficiente", 60),
        ("C", "Con problemas potenciales", 90),
        ("D", "Con problemas permanentes", 120),
        ("E", "Pérdida", None),
    ]
    assert [n for _c, n, _d in names["B"]] == [
        "Normal", "Con rutina", "Sin rutina", "Descuidado", "Pérdida"
    ]  # fmt: skip


def test_results_and_events(version):
    results = {
        (r.type, r.code): (r.name, r.promise, r.to_phone_days)
        for r in ResultCode.objects.filter(version=version)
    }
    assert results == {
        ("A", "10"): ("Compromiso de pago", True, None),
        ("A", "20"): ("Mensaje a terceros", False, None),
        ("A", "30"): ("No contacto", False, None),
        ("A", "40"): ("Requiere apoyo telefónico", False, 3),
        ("A", "50"): ("Dirección no existe", False, None),
        ("B", "10"): ("Envío a supervisor", False, None),
        ("B", "20"): ("Compromiso de pago", True, None),
        ("B", "30"): ("No contacto", False, None),
    }
    events = EventCode.objects.filter(version=version).order_by("position")
    assert [e.code for e in events] == ["60", "70", "80", "90", "PG", "LQ", "CA", "TR"]


def test_every_thesis_code_for_both_types(version):
    for type_ in "AB":
        codes = set(
            SuggestedAction.objects.filter(version=version, type=type_).values_list(
                "code", flat=True
            )
        )
        assert set(THESIS_CODES) <= codes
        for code in codes:  # code = classification + tramo + visit
            action = SuggestedAction.objects.get(version=version, type=type_, code=code)
            assert code == f"{action.classification}{action.tramo}{action.visit}"
    a11 = SuggestedAction.objects.get(version=version, type="A", code="A11")
    assert (a11.where, a11.whom, a11.instrument, a11.message) == (
        "home",
        "client",
        "payment_promise",
        "Comprometerlo a un pago futuro",
    )
    a12 = SuggestedAction.objects.get(version=version, type="A", code="A12")
    assert a12.message.endswith("indicando que la próxima le enviará una notificación")
    d24 = SuggestedAction.objects.get(version=version, type="A", code="D24")
    assert d24.letter_template == "carta_T24"
    assert SuggestedAction.objects.filter(version=version, whom="guarantor").exists()


def test_thesis_bas_rows(version):
    table = bas_table_for(version)
    for from_code, row in THESIS_ROWS.items():
        for on, to in row.items():
            assert table[("A", from_code, on)] == to, (from_code, on)


def test_caso_1(version):
    table = bas_table_for(version)
    code = "A11"
    for expected_from, on, expected_to in CASO_1:
        assert code == expected_from
        code = table[("A", code, on)]
        assert code == expected_to, (expected_from, on)


def test_no_missing_pair(version):
    table = bas_table_for(version)
    ons = {"A": ["10", "20", "30", "40", "50"], "B": ["10", "20", "30"]}
    events = ["60", "70", "80", "90", "PG", "LQ", "CA", "TR"]
    for type_ in "AB":
        codes = SuggestedAction.objects.filter(version=version, type=type_).values_list(
            "code", flat=True
        )
        for code in codes:
            for on in ons[type_] + events:
                assert (type_, code, on) in table, (type_, code, on)
    assert len(table) == 40 * 13 + 40 * 11


def test_a_client_first_seen_at_any_dpd_opens_at_a_code_of_its_tramo(version):
    boundaries = [0, 7, 8, 30, 31, 60, 61, 90, 91, 120, 121, 365, 366, 5000]
    for type_ in "AB":
        for dpd in boundaries:
            tramo = tramo_for(version, type=type_, dpd=dpd)
            if tramo is None:
                assert (type_, dpd < 8) == ("B", True)  # Selectiva starts at day 8
                continue
            cls = initial_classification_for(version, type=type_, dpd=dpd)
            code = opening_action_for(version, type=type_, classification=cls, tramo=tramo)
            assert code == f"{cls}{tramo}1", (type_, dpd)
    assert opening_action_for(version, type="A", classification="D", tramo=4) == "D41"
    assert opening_action_for(version, type="A", classification="E", tramo=5) == "E51"
    assert opening_action_for(version, type="B", classification="D", tramo=3) == "D31"


def test_plans_escalation_and_money_sections(version):
    for type_ in "AB":
        for tramo in Tramo.objects.filter(version=version, type=type_):
            items = ActionPlanItem.objects.filter(version=version, type=type_, tramo=tramo.number)
            assert items.exists()
            for item in items:
                assert tramo.from_day <= item.from_day <= item.to_day
                assert tramo.to_day is None or item.to_day <= tramo.to_day
    channels = set(ActionPlanItem.objects.filter(version=version).values_list("channel", flat=True))
    assert channels == {
        "sms", "whatsapp", "ivr", "email", "letter", "call", "visit", "refinancing_offer"
    }  # fmt: skip
    levels = EscalationLevel.objects.filter(version=version).order_by("level")
    assert [(e.level, e.after_days) for e in levels] == [(2, 0), (3, 3), (4, 7)]
    products = refinancing_products_for(version)
    assert [p.code for p in products] == ["REF1", "REF2"]
    assert (products[0].tea, products[0].fee, products[0].max_dpd) == (
        Decimal("0.45"), Decimal("50.00"), 120
    )  # fmt: skip
    assert products[1].max_waiver("commissions") == Decimal("0.75")
    limits = exoneration_limits_for(version)
    assert {row.role for row in limits} == {"asesor", "jefe_agencia", "gerente"}
    assert len(limits) == 15
    assert commission_scheme_for(version).effective_days == 7
    assert commission_scheme_for(version).per_refinanced_client == Decimal("20")
    assert management_type_for(version, exposure=Decimal("30000")) == "A"
    assert management_type_for(version, exposure=Decimal("30000.01")) == "B"


def test_loading_the_default_twice_publishes_once(version):
    result = strategy_load_default()
    assert result.created is False
    assert result.version == version
    assert StrategyVersion.objects.count() == 1
