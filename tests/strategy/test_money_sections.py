"""The money sections of the strategy (DOMAIN.md 6, 7.2): refinancing products,
exoneration limits and the commission scheme, typed and validated like the rest."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from strategy.exceptions import StrategyValidationError
from strategy.models import CommissionScheme, ExonerationLimit, RefinancingProduct
from strategy.schema import SECTIONS, dump_document, row_mapping
from strategy.selectors import (
    commission_scheme_for,
    exoneration_limits_for,
    refinancing_product_for,
)
from strategy.services import strategy_dump, strategy_publish
from strategy.validation import validate_strategy

from .test_validation import errors_of, line_of

PRODUCT = (
    "  - {code: R1, name: Corto, min_dpd: 1, max_dpd: null, max_term_months: 6, fee: 10.50,\n"
    "     tea: 0.3, max_waiver_pct: {commissions: 0.5, late_interest: 1}}\n"
)
LIMITS = """exoneration_limits:
  - {role: asesor, classification: X, min_installments_paid: 1, max_pct: 0.3}
  - {role: jefe_agencia, classification: X, min_installments_paid: 1, max_pct: 0.6}
"""


def with_limits(text: str, limits: str = LIMITS) -> str:
    return text.replace("commission_scheme:", limits + "commission_scheme:")


def test_a_bad_product_value_names_key_row_and_line(small_text):
    text = small_text.replace("fee: 10.50,", "fee: 10.50, min_down_payment_pct: 1.5,")
    (error,) = errors_of(text)
    line = line_of(text, "{code: R1")
    assert error == (
        f"refinancing_products[0] (code R1; line {line}): min_down_payment_pct must be at most 1"
    )


def test_nested_waivers_are_checked_key_by_key(small_text):
    text = small_text.replace("late_interest: 1}", "late_interest: 1.2, penalties: 0.1}")
    errors = errors_of(text)
    line = line_of(text, "{code: R1")
    label = f"refinancing_products[0] (code R1; line {line})"
    assert f"{label}: max_waiver_pct.late_interest must be at most 1" in errors
    assert any(
        e.startswith(f"{label}: unknown key max_waiver_pct.penalties (allowed: code, name")
        for e in errors
    )
    text = small_text.replace(
        "max_waiver_pct: {commissions: 0.5, late_interest: 1}", "max_waiver_pct: 1"
    )
    (error,) = errors_of(text)
    assert error.endswith(
        "max_waiver_pct must be a mapping {late_interest, collection_fees, commissions}"
    )


def test_product_keys_required_ranges_and_repeats(small_text):
    second = PRODUCT.replace("min_dpd: 1, max_dpd: null", "min_dpd: 9, max_dpd: 3")
    text = small_text.replace(PRODUCT, PRODUCT.replace("\n     tea: 0.3,", "") + second)
    errors = errors_of(text)
    assert any(e.startswith("refinancing_products[0] (code R1;") and e.endswith(": tea is missing")
               for e in errors)  # fmt: skip
    assert any(e.startswith("refinancing_products[1] (code R1;") and "is repeated" in e
               for e in errors)  # fmt: skip
    text = small_text.replace("min_dpd: 1, max_dpd: null", "min_dpd: 9, max_dpd: 3")
    (error,) = errors_of(text)
    assert error.endswith("max_dpd must not be below min_dpd")
    text = small_text.replace("max_term_months: 6", "max_term_months: 0")
    (error,) = errors_of(text)
    assert error.endswith("max_term_months must be at least 1")
    text = small_text.replace("tea: 0.3,", "tea: 0.30125,")
    (error,) = errors_of(text)
    assert error.endswith("tea has more than 4 decimals")


def test_exoneration_limits(small_text):
    doc = validate_strategy(with_limits(small_text)).document
    assert [(r.role, r.classification, r.max_pct) for r in doc.exoneration_limits] == [
        ("asesor", "X", Decimal("0.3")),
        ("jefe_agencia", "X", Decimal("0.6")),
    ]
    bad = LIMITS.replace("role: asesor", "role: cajero").replace(
        "max_pct: 0.6}", "max_pct: 1.6}\n  - {role: asesor, classification: Q, max_pct: 0.1}"
    )
    text = with_limits(small_text, bad + "  - {role: jefe_agencia, classification: X, "
                       "min_installments_paid: 1, max_pct: 0.5}\n")  # fmt: skip
    with pytest.raises(StrategyValidationError) as info:
        validate_strategy(text)
    errors = info.value.errors
    line = line_of(text, "role: cajero")
    assert (
        f"exoneration_limits[0] (role cajero, classification X, min_installments_paid 1; "
        f'line {line}): role "cajero" is not one of asesor, jefe_agencia, jefe_zonal, gerente'
    ) in errors
    assert any(e.endswith("max_pct must be at most 1") for e in errors)
    assert any(e.startswith("exoneration_limits[3]") and "already exists (exoneration_limits[1])"
               in e for e in errors)  # fmt: skip
    # A classification no type declares is only a warning (limits carry no type).
    fine = with_limits(
        small_text, LIMITS.replace("classification: X, min", "classification: Q, min")
    )
    warnings = validate_strategy(fine).warnings
    assert any(w.startswith("exoneration_limits[0]") and 'classification "Q" is not declared'
               in w for w in warnings)  # fmt: skip


def test_commission_scheme_is_one_checked_mapping(small_text):
    text = small_text.replace("{effective_days: 5,", "{effective_days: 0, bonus: 3,")
    errors = errors_of(text)
    assert "commission_scheme: effective_days must be at least 1" in errors
    assert any(e.startswith("commission_scheme: unknown key bonus") for e in errors)
    text = small_text.replace(
        "commission_scheme: {effective_days: 5, per_cured_client: 12.5}",
        "commission_scheme:\n  - {effective_days: 5}",
    )
    assert errors_of(text) == ["commission_scheme must be a mapping {key: value, …}"]
    text = small_text.replace("per_cured_client: 12.5}", "collected_share: 2}")
    assert errors_of(text) == ["commission_scheme: collected_share must be at most 1"]


@pytest.mark.django_db
def test_a_strategy_without_money_sections(small_text):
    text = small_text[: small_text.index("refinancing_products:")]
    version = strategy_publish(document=text).version
    assert refinancing_product_for(version, code="R1") is None
    assert exoneration_limits_for(version) == []
    scheme = commission_scheme_for(version)  # nothing paid, 7 effective days
    assert (scheme.per_cured_client, scheme.effective_days) == (0, 7)
    dump = strategy_dump()
    assert "refinancing_products" not in dump and "commission_scheme" not in dump
    assert strategy_publish(document=dump).created is False


def test_the_editors_flat_rows_read_back_the_same(small_text):
    """`row_mapping` gives dotted keys (one column per spec); the validator takes them."""
    doc = validate_strategy(with_limits(small_text)).document
    rows = {name: [row_mapping(name, row) for row in getattr(doc, name)] for name in SECTIONS}
    assert "max_waiver_pct.commissions" in rows["refinancing_products"][0]
    data = {
        "name": doc.name,
        "usd_rate": doc.usd_rate,
        **rows,
        "commission_scheme": row_mapping("commission_scheme", doc.commission_scheme),
    }
    again = validate_strategy(data).document
    assert again == doc
    assert dump_document(again) == dump_document(doc)


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_json_sections_into_rows():
    executor = MigrationExecutor(connection)
    executor.migrate([("strategy", "0002_audit_history")])
    old = executor.loader.project_state([("strategy", "0002_audit_history")]).apps
    old.get_model("strategy", "StrategyVersion").objects.create(
        number=1,
        name="old",
        usd_rate=Decimal("3.75"),
        sha256="x",
        refinancing_products=[
            {"code": "REF1", "name": "Simple", "min_dpd": 31, "max_dpd": 120,
             "max_term_months": 24, "fee": 50.0, "tea": 0.45,
             "max_waiver_pct": {"late_interest": 1.0, "commissions": 0.5}}
        ],
        exoneration_limits=[{"role": "asesor", "classification": "A", "max_pct": 0.3}],
        commission_scheme={"effective_days": 5, "per_cured_client": 15.0},
    )  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    product = RefinancingProduct.objects.get()
    assert (product.code, product.fee, product.tea, product.max_dpd) == (
        "REF1", Decimal("50.00"), Decimal("0.4500"), 120
    )  # fmt: skip
    assert (product.waiver_late_interest, product.waiver_collection_fees) == (1, 0)
    limit = ExonerationLimit.objects.get()
    assert (limit.role, limit.min_installments_paid, limit.max_pct) == ("asesor", 0, Decimal("0.3"))
    scheme = CommissionScheme.objects.get()
    assert (scheme.effective_days, scheme.per_cured_client) == (5, Decimal("15.00"))
    assert scheme.office_target_multiplier == 1
