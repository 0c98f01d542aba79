"""The strict loader and the canonical scalar writer."""

from decimal import Decimal

import pytest
import yaml

from strategy.yaml_io import StrategyLoader, load_yaml, scalar

TRICKY = [
    "10", "010", "1e3", "0x10", "1_000", "12:30", "on", "off", "yes", "No", "y", "null", "~",
    "true", "2024-01-01", "", " padded", "A11", "PG", "a: b", "a #b", "#x", "- x", "[x]",
    "{x}", "x,y", 'say "hi"', "it's", "back\\slash", "tab\there", "line\nbreak", "Pérdida",
    "Tesis — modelo CC/AS/BAS", "*ref", "&anchor", "!tag", "%pct", "@at", "`tick`", "?", ":",
    "trailing:", "\u2028", "é\x85",
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY)
def test_every_string_reads_back_the_same_with_both_loaders(text):
    document = "{k: " + scalar(text) + "}"
    assert yaml.load(document, Loader=StrategyLoader) == {"k": text}
    assert yaml.safe_load(document) == {"k": text}


def test_numbers_look_like_numbers():
    assert scalar(Decimal("30000.00")) == "30000"
    assert scalar(Decimal("3.7500")) == "3.75"
    assert scalar(0.1) == "0.1"
    assert scalar(1e-05) == "0.00001"
    assert scalar(50.0) == "50.0"
    assert scalar("10") == '"10"'
    assert scalar("A11") == "A11"


def test_loader_uses_yaml_1_2_scalars():
    data, lines = load_yaml(
        "a: on\nb: 010\nc: 2024-01-01\nd: true\ne: 1.5\nf: 7\nl:\n  - 1\n  - 2\n"
    )
    assert data == {
        "a": "on",
        "b": "010",
        "c": "2024-01-01",
        "d": True,
        "e": 1.5,
        "f": 7,
        "l": [1, 2],
    }
    assert lines == {"l": [8, 9]}
