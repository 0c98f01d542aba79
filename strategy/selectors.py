"""Reads of the strategy: the active version and the tables the engine looks up.

Every reader takes the version explicitly, so a cycle that started on version N
keeps reading N even if N+1 is published meanwhile.
"""

from collections.abc import Callable, Mapping
from decimal import Decimal

from strategy.models import (
    Classification,
    ManagementType,
    ResultCode,
    StrategyVersion,
    SuggestedAction,
    Tramo,
)
from strategy.schema import (
    MAPPING_SECTIONS,
    SECTIONS,
    CommissionSchemeRow,
    ExonerationLimitRow,
    RefinancingProductRow,
    StrategyDocument,
)


def active_strategy() -> StrategyVersion | None:
    return StrategyVersion.objects.filter(is_active=True).first()


def strategy_version(*, number: int) -> StrategyVersion | None:
    return StrategyVersion.objects.filter(number=number).first()


def strategy_document_for(version: StrategyVersion) -> StrategyDocument:
    """The stored version as the plain document it was published from (file order)."""
    rows = {}
    for name, section in SECTIONS.items():
        attrs = [spec.name for spec in section.specs]
        values = section.model.objects.filter(version=version).order_by("position").values(*attrs)
        rows[name] = [section.row(**row) for row in values]
    for name, section in MAPPING_SECTIONS.items():
        attrs = [spec.name for spec in section.specs]
        values = section.model.objects.filter(version=version).values(*attrs).first()
        rows[name] = section.row(**values) if values else None
    return StrategyDocument(name=version.name, usd_rate=version.usd_rate, **rows)


def _typed_rows(version: StrategyVersion, section: str) -> list:
    spec = SECTIONS[section]
    attrs = [s.name for s in spec.specs]
    return [spec.row(**values) for values in version_rows(version, section).values(*attrs)]


def refinancing_products_for(version: StrategyVersion) -> list[RefinancingProductRow]:
    """The version's refinancing products (thesis 5.2.3), in file order."""
    return _typed_rows(version, "refinancing_products")


def refinancing_product_for(version: StrategyVersion, *, code: str) -> RefinancingProductRow | None:
    return next((p for p in refinancing_products_for(version) if p.code == code), None)


def exoneration_limits_for(version: StrategyVersion) -> list[ExonerationLimitRow]:
    """The version's waiver limits per role, classification and installments paid
    (thesis 5.2.6), in file order."""
    return _typed_rows(version, "exoneration_limits")


def commission_scheme_for(version: StrategyVersion) -> CommissionSchemeRow:
    """The version's commission scheme (thesis 5.2.2); a version without one pays
    nothing and counts an action as effective for 7 days (the row's defaults)."""
    section = MAPPING_SECTIONS["commission_scheme"]
    attrs = [spec.name for spec in section.specs]
    values = section.model.objects.filter(version=version).values(*attrs).first()
    return CommissionSchemeRow(**values) if values else CommissionSchemeRow()


def bas_table_for(version: StrategyVersion) -> dict[tuple[str, str, str], str]:
    """(management type, from code, result/event code) -> next code.

    A pair missing from the table keeps the code (DOMAIN.md 3): callers use
    `table.get(key, from_code)`.
    """
    return {
        (type_, from_code, on_code): to_code
        for type_, from_code, on_code, to_code in version_rows(version, "bas").values_list(
            "type", "from_code", "on_code", "to_code"
        )
    }


def version_rows(version: StrategyVersion, section: str):
    """The rows of one section of a version, in file order."""
    return SECTIONS[section].model.objects.filter(version=version).order_by("position")


def opening_action_for(
    version: StrategyVersion, *, type: str, classification: str, tramo: int
) -> str | None:
    """The code a new case opens at: the classification's visit-1 code of the tramo.

    If the classification has none in that tramo, its visit-1 code of the highest
    tramo below (a client first seen late still gets a real action); else None.
    """
    return (
        SuggestedAction.objects.filter(
            version=version, type=type, classification=classification, visit=1, tramo__lte=tramo
        )
        .order_by("-tramo", "position")
        .values_list("code", flat=True)
        .first()
    )


def promise_result_code_for(version: StrategyVersion, *, type: str) -> str | None:
    """The result code that records a payment promise for a management type (its row
    with `promise: true`; the first in file order if the strategy has several), or None
    when the type has none. Used where the system records a promise on its own (IVR)."""
    return (
        ResultCode.objects.filter(version=version, type=type, promise=True)
        .order_by("position")
        .values_list("code", flat=True)
        .first()
    )


def management_type_for(version: StrategyVersion, *, exposure: Decimal) -> str | None:
    """The first type whose max_exposure covers the client's total exposure in PEN (5.2.1)."""
    for code, max_exposure in (
        ManagementType.objects.filter(version=version)
        .order_by("position")
        .values_list("code", "max_exposure")
    ):
        if max_exposure is None or exposure <= max_exposure:
            return code
    return None


def tramo_for(version: StrategyVersion, *, type: str, dpd: int) -> int | None:
    """The tramo whose days hold `dpd`; None below the first tramo (e.g. B starts at day 8)."""
    for number, from_day, to_day in (
        Tramo.objects.filter(version=version, type=type)
        .order_by("number")
        .values_list("number", "from_day", "to_day")
    ):
        if from_day <= dpd and (to_day is None or dpd <= to_day):
            return number
    return None


def initial_classification_for(version: StrategyVersion, *, type: str, dpd: int) -> str | None:
    """The first classification by DPD (DOMAIN.md 3); afterwards only BAS rows move it."""
    last = None
    for code, max_dpd in (
        Classification.objects.filter(version=version, type=type, campaign=False)
        .order_by("position")
        .values_list("code", "max_dpd")
    ):
        last = code
        if max_dpd is None or dpd <= max_dpd:
            return code
    return last


# Where written templates come from. The template store belongs to notifications,
# which registers its reader here when it loads (notifications/apps.py): the arrow
# stays notifications → strategy, and a strategy without it warns about every name.
_TEMPLATE_SOURCES: list[Callable[[], Mapping[str, str]]] = []


def template_source_register(source: Callable[[], Mapping[str, str]]) -> None:
    """Add a reader of written templates (name → channel); registering twice is harmless."""
    if source not in _TEMPLATE_SOURCES:
        _TEMPLATE_SOURCES.append(source)


def written_templates() -> dict[str, str]:
    """Message and letter templates that exist, name → channel, for the validator."""
    found: dict[str, str] = {}
    for source in _TEMPLATE_SOURCES:
        found.update(source())
    return found


def written_template_names() -> frozenset[str]:
    return frozenset(written_templates())
