"""Publishing, dumping and the two commands."""

import io
from decimal import Decimal

import pytest
from django.core.management import base, call_command
from django.core.management.base import CommandError

from strategy.exceptions import NoActiveStrategy, StrategyValidationError
from strategy.management.commands.load_strategy import Command as LoadStrategy
from strategy.models import BasTransition, StrategyVersion
from strategy.schema import MAPPING_SECTIONS, SECTIONS
from strategy.selectors import (
    active_strategy,
    commission_scheme_for,
    initial_classification_for,
    management_type_for,
    opening_action_for,
    refinancing_products_for,
    tramo_for,
)
from strategy.services import strategy_dump, strategy_publish

pytestmark = pytest.mark.django_db


def table_contents(version: StrategyVersion) -> dict[str, list[tuple]]:
    """Every row of every table of a version, without ids and version."""
    contents = {}
    for name, section in SECTIONS.items():
        attrs = ["position", *(spec.name for spec in section.specs)]
        contents[name] = list(
            section.model.objects.filter(version=version).order_by("position").values_list(*attrs)
        )
    for name, section in MAPPING_SECTIONS.items():
        attrs = [spec.name for spec in section.specs]
        contents[name] = list(section.model.objects.filter(version=version).values_list(*attrs))
    for name in ("usd_rate", "name"):
        contents[name] = getattr(version, name)
    return contents


@pytest.mark.parametrize("fixture", ["small_text", "default_text"])
def test_load_dump_load_dump_is_identical(request, fixture, small_text):
    text = request.getfixturevalue(fixture)
    first = strategy_publish(document=text).version
    dump1 = strategy_dump()
    # Another strategy in between, so loading the dump really writes a new version.
    other = (
        small_text.replace("usd_rate: 3.8", "usd_rate: 3.9") if fixture == "default_text" else None
    )
    strategy_publish(document=other or text.replace("usd_rate: 3.8", "usd_rate: 3.7"))
    second = strategy_publish(document=dump1).version
    assert second.number == 3
    dump2 = strategy_dump()
    assert dump2 == dump1
    assert table_contents(second) == table_contents(first)
    assert second.sha256 == first.sha256
    # And loading the dump of the dump is a no-op.
    assert strategy_publish(document=dump2).created is False


def test_publish_writes_every_table(small_text):
    result = strategy_publish(document=small_text, source_name="small.yaml")
    version = result.version
    assert result.created is True
    assert (version.number, version.is_active, version.source_name) == (1, True, "small.yaml")
    assert version.source == small_text  # the file as written, comments included
    assert result.counts == {
        "management_types": 2,
        "tramos": 3,
        "classifications": 4,
        "results": 3,
        "events": 3,
        "actions": 4,
        "bas": 5,
        "action_plans": 2,
        "escalation": 1,
        "refinancing_products": 1,
        "exoneration_limits": 0,
    }
    for name, section in SECTIONS.items():
        assert section.model.objects.filter(version=version).count() == result.counts[name]
    assert version.warnings == result.warnings
    (product,) = refinancing_products_for(version)
    assert (product.code, product.fee, product.tea) == ("R1", Decimal("10.50"), Decimal("0.3"))
    assert (product.min_dpd, product.max_dpd, product.max_term_months) == (1, None, 6)
    # Absent keys take their defaults: no extra term, no minimums, no waiver.
    assert (product.extra_term_months, product.min_installment) == (0, 0)
    assert product.max_waiver("late_interest") == 1
    assert product.max_waiver("collection_fees") == 0
    assert product.max_waiver("commissions") == Decimal("0.5")
    scheme = commission_scheme_for(version)
    assert (scheme.effective_days, scheme.per_cured_client) == (5, Decimal("12.5"))
    assert scheme.office_target_multiplier == 1  # the default


def test_same_content_publishes_nothing(small_text):
    first = strategy_publish(document=small_text)
    respaced = "# another comment\n" + small_text.replace(
        "{code: M, name: Micro,", "{code: M,  name: Micro,"
    )
    again = strategy_publish(document=respaced)
    assert again.created is False
    assert again.version.pk == first.version.pk
    assert StrategyVersion.objects.count() == 1


def test_a_different_file_becomes_the_only_active_version(small_text):
    strategy_publish(document=small_text)
    second = strategy_publish(document=small_text.replace("daily_cap: 30}", "daily_cap: 40}"))
    assert second.created is True
    assert second.version.number == 2
    assert list(StrategyVersion.objects.filter(is_active=True)) == [second.version]
    assert active_strategy() == second.version
    # The old version keeps its rows: history is never edited.
    assert BasTransition.objects.filter(version__number=1).count() == 5


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('on: "60", to: X2}', 'on: "60", to: Z99}', 'to "Z99" is not a suggested action of type M'),
        ("on: 1, to: X1}", "on: 15, to: X1}", 'on "15" is neither a result code of type M'),
        ("from_day: 16, to_day: null", "from_day: 12, to_day: null", "overlap tramo 1"),
    ],
)
def test_bad_strategy_is_refused_and_nothing_written(small_text, old, new, expected):
    strategy_publish(document=small_text)
    rows_before = BasTransition.objects.count()
    with pytest.raises(StrategyValidationError) as info:
        strategy_publish(
            document=small_text.replace(old, new).replace("usd_rate: 3.8", "usd_rate: 4")
        )
    assert any(expected in error for error in info.value.errors)
    assert StrategyVersion.objects.count() == 1
    assert BasTransition.objects.count() == rows_before
    assert active_strategy().number == 1


def test_load_command_prints_version_counts_and_warnings(tmp_path, small_text):
    path = tmp_path / "small.yaml"
    path.write_text(small_text, encoding="utf-8")
    out = io.StringIO()
    call_command("load_strategy", str(path), stdout=out)
    text = out.getvalue()
    assert "version 1" in text
    assert "  bas: 5" in text
    assert "warning: bas: type M:" in text
    out = io.StringIO()
    call_command("load_strategy", str(path), stdout=out)
    assert "Unchanged: version 1" in out.getvalue()


def test_load_command_exits_non_zero_on_a_bad_file(tmp_path, small_text, capsys, monkeypatch):
    # run_from_argv (what manage.py calls) closes the connections when done, which
    # would close the test transaction's connection on PostgreSQL.
    monkeypatch.setattr(base.connections, "close_all", lambda: None)
    path = tmp_path / "bad.yaml"
    path.write_text(
        small_text.replace('on: "60", to: X2}', 'on: "60", to: Z99}').replace(
            "channel: sms", "channel: fax"
        ),
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as info:
        LoadStrategy().run_from_argv(["manage.py", "load_strategy", str(path)])
    assert info.value.code != 0
    err = capsys.readouterr().err
    assert 'to "Z99" is not a suggested action of type M' in err
    assert 'channel "fax" is not one of' in err
    assert "2 error(s); nothing was published" in err
    assert StrategyVersion.objects.count() == 0


def test_load_command_needs_a_file_or_default():
    with pytest.raises(CommandError):
        call_command("load_strategy")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_strategy", "/nonexistent/strategy.yaml")


def test_dump_command(tmp_path, small_text):
    with pytest.raises(CommandError, match="no strategy has been published"):
        call_command("dump_strategy")
    strategy_publish(document=small_text)
    out = io.StringIO()
    call_command("dump_strategy", stdout=out)
    assert out.getvalue() == strategy_dump()
    path = tmp_path / "dump.yaml"
    call_command("dump_strategy", "--out", str(path))
    assert path.read_text(encoding="utf-8") == strategy_dump()
    strategy_publish(document=small_text.replace("usd_rate: 3.8", "usd_rate: 4"))
    out = io.StringIO()
    call_command("dump_strategy", "--version-number", "1", stdout=out)
    assert "usd_rate: 3.8\n" in out.getvalue()


def test_dump_of_custom_strategy_quotes_what_needs_quoting(small_text):
    strategy_publish(document=small_text)
    dump = strategy_dump()
    assert dump.startswith('name: "Pequeña: prueba #1"\nusd_rate: 3.8\n')
    assert '  - {code: "7", name: "Grandes: selectiva", max_exposure: null}\n' in dump
    assert '  - {type: M, from: X1, on: "1", to: X1}\n' in dump
    assert '  - {type: "7", from: "100", on: R, to: "100"}\n' in dump
    assert '  - {type: M, code: X, name: "yes", max_dpd: 15}\n' in dump
    assert "  - {type: M, code: K, name: Campaña verano, max_dpd: null, campaign: true}\n" in dump
    assert "max_exposure: 5000.5}" in dump
    assert 'message: "on"' in dump
    # Every key of the money sections is written, nested keys in the 7.2 order.
    assert (
        "  - {code: R1, name: Corto, min_dpd: 1, max_dpd: null, max_term_months: 6, "
        "extra_term_months: 0,\n     fee: 10.5, tea: 0.3, min_down_payment_pct: 0, "
        "min_installment: 0,\n     max_waiver_pct: {late_interest: 1, collection_fees: 0, "
        "commissions: 0.5}}\n"
    ) in dump
    assert "exoneration_limits" not in dump  # an optional section left out stays out
    assert (
        "commission_scheme: {per_cured_client: 12.5, collected_share: 0, "
        "per_refinanced_client: 0,\n  office_target_multiplier: 1, external_agency_share: 0, "
        "effective_days: 5}\n"
    ) in dump


def test_no_active_strategy():
    assert active_strategy() is None
    with pytest.raises(NoActiveStrategy):
        strategy_dump()


def test_readers_of_a_custom_strategy(small_text):
    version = strategy_publish(document=small_text).version
    assert management_type_for(version, exposure=5000) == "M"
    assert management_type_for(version, exposure=5000.51) == "7"
    assert tramo_for(version, type="M", dpd=0) is None  # before the first tramo
    assert tramo_for(version, type="M", dpd=15) == 1
    assert tramo_for(version, type="M", dpd=900) == 2
    assert initial_classification_for(version, type="M", dpd=15) == "X"
    assert initial_classification_for(version, type="M", dpd=16) == "Y"
    assert opening_action_for(version, type="M", classification="Y", tramo=2) == "Y1"
    # No X code in tramo 2: X's visit-1 code of the highest tramo below.
    assert opening_action_for(version, type="M", classification="X", tramo=2) == "X1"
    assert opening_action_for(version, type="M", classification="Y", tramo=1) is None
    assert opening_action_for(version, type="M", classification="K", tramo=2) is None
