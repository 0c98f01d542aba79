"""The strategy's money sections as typed rows, read in one place.

Until the `refi` branch lands, `StrategyVersion` keeps `exoneration_limits` and
`commission_scheme` as the verbatim JSON of the strategy file (DOMAIN.md 7.2).
Everything in `commissions` reads them through these two functions only; at the
merge they become thin calls to `strategy.selectors.exoneration_limits_for(version)`
and `commission_scheme_for(version)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from strategy.models import StrategyVersion


@dataclass(frozen=True)
class ExonerationLimit:
    """What a role may waive alone (5.2.6): up to `max_pct` (a fraction: 0.30 is 30 %)
    of each concept, for a client of `classification` with at least
    `min_installments_paid` installments paid."""

    role: str
    classification: str
    min_installments_paid: int
    max_pct: Decimal


@dataclass(frozen=True)
class CommissionScheme:
    """5.2.2: the amounts of a month's commissions (fractions for the shares)."""

    per_cured_client: Decimal
    collected_share: Decimal
    per_refinanced_client: Decimal
    office_target_multiplier: Decimal
    external_agency_share: Decimal
    effective_days: int

    def as_dict(self) -> dict[str, str | int]:
        """Kept on a computed month, so a closed month shows the scheme it used."""
        return {
            "per_cured_client": str(self.per_cured_client),
            "collected_share": str(self.collected_share),
            "per_refinanced_client": str(self.per_refinanced_client),
            "office_target_multiplier": str(self.office_target_multiplier),
            "external_agency_share": str(self.external_agency_share),
            "effective_days": self.effective_days,
        }


def _decimal(value, default: str = "0") -> Decimal:
    return Decimal(str(value if value is not None else default))


def exoneration_limits_for(version: StrategyVersion) -> list[ExonerationLimit]:
    return [
        ExonerationLimit(
            role=str(row["role"]),
            classification=str(row["classification"]),
            min_installments_paid=int(row.get("min_installments_paid") or 0),
            max_pct=_decimal(row.get("max_pct")),
        )
        for row in version.exoneration_limits or []
    ]


DEFAULT_EFFECTIVE_DAYS = 7  # as collections_field.engine.collection_address


def commission_scheme_for(version: StrategyVersion) -> CommissionScheme | None:
    """None when the strategy has no `commission_scheme`; a missing key counts 0
    (a multiplier 1), so a scheme may pay only some of the figures."""
    raw = version.commission_scheme or {}
    if not raw:
        return None
    return CommissionScheme(
        per_cured_client=_decimal(raw.get("per_cured_client")),
        collected_share=_decimal(raw.get("collected_share")),
        per_refinanced_client=_decimal(raw.get("per_refinanced_client")),
        office_target_multiplier=_decimal(raw.get("office_target_multiplier"), "1"),
        external_agency_share=_decimal(raw.get("external_agency_share")),
        effective_days=int(raw.get("effective_days", DEFAULT_EFFECTIVE_DAYS)),
    )
