"""The strategy validator: every error named with its row, all collected, warnings returned."""

from decimal import Decimal

import pytest
import yaml

from strategy.exceptions import StrategyValidationError
from strategy.validation import validate_strategy


def line_of(text: str, snippet: str) -> int:
    """The 1-based line of the first occurrence of `snippet`."""
    return text[: text.index(snippet)].count("\n") + 1


def errors_of(text: str) -> list[str]:
    with pytest.raises(StrategyValidationError) as info:
        validate_strategy(text)
    return info.value.errors


def test_small_strategy_is_valid_and_codes_are_strings(small_text):
    validated = validate_strategy(small_text)
    doc = validated.document
    assert [r.code for r in doc.results] == ["1", "02", "R"]  # 1 -> "1"; "02" stays
    assert doc.events[0].code == "60"
    assert doc.bas[0].on_code == "1"
    assert doc.actions[3].message == "on"  # not the YAML 1.1 boolean
    assert [t.code for t in doc.management_types] == ["M", "7"]
    assert doc.action_plans[1].manual is True  # absent: a visit is manual
    assert doc.commission_scheme.effective_days == 5
    assert doc.commission_scheme.per_cured_client == Decimal("12.5")
    assert doc.refinancing_products[0].waiver_commissions == Decimal("0.5")


def test_on_key_is_not_a_boolean(small_text):
    # PyYAML's YAML 1.1 rules turn `on:` into True; our loader keeps the key.
    assert True in yaml.safe_load(small_text)["bas"][0]
    assert validate_strategy(small_text).document.bas[1].on_code == "60"


def test_a_mapping_loaded_with_yaml_1_1_rules_is_mapped_back(small_text):
    data = yaml.safe_load(small_text.replace("message: on", "message: Llamar"))
    doc = validate_strategy(data).document
    assert (doc.bas[0].from_code, doc.bas[0].on_code, doc.bas[0].to_code) == ("X1", "1", "X1")


def test_warnings_are_returned_not_raised(small_text):
    warnings = validate_strategy(small_text).warnings
    missing_pairs = [w for w in warnings if w.startswith("bas: type M")]
    assert len(missing_pairs) == 1  # one per type, summarised
    assert "11 of 15" in missing_pairs[0]
    assert "a missing pair keeps the code" in missing_pairs[0]
    assert any(w.startswith("events: 70, 80, 90, LQ, CA") for w in warnings)
    assert any("carta_x, hola" in w for w in warnings)


def test_dangling_bas_target_names_the_row(small_text):
    text = small_text.replace(
        '{type: M, from: X1, on: "60", to: X2}', '{type: M, from: X1, on: "60", to: Z99}'
    )
    (error,) = errors_of(text)
    line = line_of(text, "to: Z99")
    expected = f'bas[1] (type M, from X1, on 60; line {line}): to "Z99" is not a suggested action'
    assert error == expected + " of type M"


def test_unknown_result_code_in_bas_is_named(small_text):
    text = small_text.replace(
        "{type: M, from: X1, on: 1, to: X1}", "{type: M, from: X1, on: 15, to: X1}"
    )
    (error,) = errors_of(text)
    line = line_of(text, "on: 15")
    assert error.startswith(f'bas[0] (type M, from X1, on 15; line {line}): on "15" is neither')
    assert "result code of type M (1, 02)" in error
    assert "declared event (60, PG, TR)" in error


def test_overlapping_tramos_name_both(small_text):
    text = small_text.replace("from_day: 16, to_day: null", "from_day: 10, to_day: null")
    (error,) = errors_of(text)
    line = line_of(text, "from_day: 10")
    assert error.startswith(f"tramos[1] (type M, number 2; line {line}): days 10+ overlap tramo 1")
    assert "(1–15, tramos[0])" in error


def test_gap_between_tramos(small_text):
    text = small_text.replace("from_day: 16, to_day: null", "from_day: 20, to_day: null")
    (error,) = errors_of(text)
    assert "days 16–19 belong to no tramo" in error


def test_tramo_numbers_and_open_ends(small_text):
    text = small_text.replace(
        "{type: M, number: 1, from_day: 1, to_day: 15,",
        "{type: M, number: 3, from_day: 1, to_day: null,",
    ).replace(
        "tramo: 1, visit: 1, where: home, whom: client,\n     instrument: payment",
        "tramo: 3, visit: 1, where: home, whom: client,\n     instrument: payment",
    )
    errors = errors_of(text)
    assert any("must be numbered 1..n; found 2, 3" in e for e in errors)


def test_all_errors_are_collected(small_text):
    text = (
        small_text.replace("usd_rate: 3.8", "usd_rate: 0")
        .replace("{code: 60, name: Incumplido}", "{code: 65, name: Incumplido}")
        .replace("channel: sms", "channel: fax")
        .replace(
            "{level: 2, after_days: 1}", "{level: 2, after_days: 1}\n  - {level: 2, after_days: 0}"
        )
        .replace("escalation:", "surprise: 1\nescalation:")
    )
    errors = errors_of(text)
    assert "usd_rate must be greater than 0" in errors
    line = line_of(text, "code: 65")
    assert (
        f'events[0] (code 65; line {line}): event "65" is not one the engine raises'
        in "\n".join(errors)
    )
    assert any("60, 70, 80, 90, PG, LQ, CA, TR" in e for e in errors)
    assert any('channel "fax" is not one of sms, whatsapp' in e for e in errors)
    line = line_of(text, "{level: 2, after_days: 0}")
    assert any(
        e.startswith(f"escalation[1] (level 2; line {line}): level 2 is repeated") for e in errors
    )
    assert any(e.startswith("unknown top-level key surprise") for e in errors)
    # Event 60 no longer exists, so the BAS row on "60" is refused too.
    assert any(e.startswith("bas[1] (type M, from X1, on 60") for e in errors)


def test_missing_keys_and_bad_types(small_text):
    text = small_text.replace(
        "max_visits: 5, daily_cap: 5}", "max_visits: 0, daily_cap: five}"
    ).replace("escalation:\n  - {level: 2, after_days: 1}\n", "")
    errors = errors_of(text)
    assert "top-level key escalation is missing" in errors
    assert any(e.endswith("max_visits must be at least 1") for e in errors)
    assert any(e.endswith('daily_cap must be a whole number, got "five"') for e in errors)


def test_references_to_undeclared_things(small_text):
    text = small_text.replace(
        "classification: Y, tramo: 2,", "classification: Q, tramo: 4,"
    ).replace(
        '{type: "7", from: "100", on: R, to: "100"}', '{type: N, from: "100", on: R, to: "100"}'
    )
    errors = errors_of(text)
    assert any(
        e.startswith("actions[2] (type M, code Y1") and 'classification "Q" is not' in e
        for e in errors
    )
    assert any(
        e.startswith("actions[2] (type M, code Y1") and "tramo 4 is not a tramo" in e
        for e in errors
    )
    assert any(
        e.startswith("bas[4] (type N, from 100, on R") and 'type "N" is not a declared' in e
        for e in errors
    )


def test_duplicates_are_refused(small_text):
    text = small_text.replace(
        "  - {type: M, from: X2, on: PG, to: X1}",
        "  - {type: M, from: X2, on: PG, to: X1}\n  - {type: M, from: X2, on: PG, to: X2}",
    ).replace(
        "{type: M, code: Y1, classification: Y, tramo: 2, visit: 1",
        "{type: M, code: X1, classification: Y, tramo: 2, visit: 1",
    )
    errors = errors_of(text)
    assert any("a row for type M, from X2, on PG already exists (bas[3])" in e for e in errors)
    assert any(e.startswith("actions[2] (type M, code X1") and "is repeated" in e for e in errors)


def test_management_type_thresholds(small_text):
    text = small_text.replace("max_exposure: 5000.50}", "max_exposure: null}")
    (error,) = errors_of(text)
    assert "only the last management type may have max_exposure null" in error


def test_escalation_days_must_not_decrease(small_text):
    text = small_text.replace(
        "{level: 2, after_days: 1}", "{level: 2, after_days: 5}\n  - {level: 3, after_days: 2}"
    )
    (error,) = errors_of(text)
    line = line_of(text, "{level: 3")
    assert error.startswith(
        f"escalation[1] (level 3; line {line}): after_days 2 is less than level 2's"
    )


def test_plan_window_outside_tramo_is_a_warning(small_text):
    text = small_text.replace(
        "from_day: 1, to_day: 2, template: hola", "from_day: 1, to_day: 20, template: hola"
    )
    warnings = validate_strategy(text).warnings
    line = line_of(text, "to_day: 20")
    expected = (
        f"action_plans[0] (type M, tramo 1, order 1; line {line}): days 1–20 fall outside tramo 1"
    )
    assert any(w.startswith(expected) for w in warnings)


def test_yaml_errors_and_duplicate_keys():
    assert errors_of("name: [unclosed")[0].startswith("the file is not valid YAML")
    (error,) = errors_of("name: a\nname: b\n")
    assert "duplicate key 'name'" in error
    assert errors_of("- just a list") == ["a strategy must be a mapping of sections"]


def test_leading_zero_codes_stay_text(small_text):
    # YAML 1.1 would read 010 as the octal 8.
    text = small_text.replace('code: "02"', "code: 010").replace(
        "{type: M, from: X1, on: 1, to: X1}", "{type: M, from: X1, on: 010, to: X1}"
    )
    doc = validate_strategy(text).document
    assert doc.results[1].code == "010"
    assert doc.bas[0].on_code == "010"
