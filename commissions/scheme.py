"""The strategy's money sections as the commissions code reads them, in one place.

The rows themselves are strategy tables (`strategy.selectors`); this module only adds
what a computed month keeps of the scheme it used (`as_dict`), so a closed month shows
the figures it was paid with even after the strategy changes.
"""

from __future__ import annotations

from dataclasses import asdict

from strategy import selectors
from strategy.models import StrategyVersion
from strategy.schema import MAPPING_SECTIONS, CommissionSchemeRow, ExonerationLimitRow

# What a role may waive alone (5.2.6): up to `max_pct` (a fraction: 0.30 is 30 %) of
# each concept, for a client of `classification` with at least `min_installments_paid`.
ExonerationLimit = ExonerationLimitRow


class CommissionScheme(CommissionSchemeRow):
    """5.2.2: the amounts of a month's commissions (fractions for the shares)."""

    def as_dict(self) -> dict[str, str | int]:
        return {
            key: value if isinstance(value, int) else str(value)
            for key, value in asdict(self).items()
        }


def exoneration_limits_for(version: StrategyVersion) -> list[ExonerationLimit]:
    return selectors.exoneration_limits_for(version)


def commission_scheme_for(version: StrategyVersion) -> CommissionScheme | None:
    """None when the strategy has no `commission_scheme` (nothing to pay: the month
    is refused rather than computed as zeros)."""
    section = MAPPING_SECTIONS["commission_scheme"]
    if not section.model.objects.filter(version=version).exists():
        return None
    return CommissionScheme(**asdict(selectors.commission_scheme_for(version)))
