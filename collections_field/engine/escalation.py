"""Step 7 of the night, second half: escalation of the red actions (DOMAIN.md 4 step 7).

An action not done by the end of its window's last date W is red from W+1 and
sits at level L from W+1+`after_days`(L) with the strategy's `escalation` rows
(default 0/3/7: level 2 from W+1, 3 from W+4, 4 from W+8). Nothing is written
for it: the level follows from the business date, so an inbox is a range of W
and no night rewrites the red actions.

Rules decided here:
- every red action escalates, automatic ones too (an undelivered message is as
  much a gap in the plan as a visit not made); the owner shown is the officer for
  manual ones and the system for automatic ones;
- done late, missed (its case moved on) or cancelled, it leaves the inboxes;
- a superior marking it handled takes it out of the inbox of that level only: the
  clock keeps running, and it reaches the next level on its day unless done;
- the inboxes are scoped by the reader's subtree (portfolio's role scope): the
  jefe de agencia's own level is 2, the jefe zonal's 3, the gerente's 4, and each
  may look at the other levels of its subtree.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet

from collections_field.models import CycleRun, PlannedAction
from portfolio.models import Role
from strategy.models import EscalationLevel, StrategyVersion
from strategy.selectors import active_strategy

PENDING = (PlannedAction.Status.QUEUED, PlannedAction.Status.OPEN)
# The four levels of the hierarchy (DOMAIN.md 1): whose inbox each level is.
ROLE_LEVEL = {Role.ASESOR: 1, Role.AGENCIA_EXTERNA: 1, Role.JEFE_AGENCIA: 2,
              Role.JEFE_ZONAL: 3, Role.GERENTE: 4}  # fmt: skip
SUPERIOR_ROLES = (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE)


def version_on(business_date: date) -> StrategyVersion | None:
    """The strategy the cycle of that date ran with (else the active one)."""
    number = (
        CycleRun.objects.filter(business_date=business_date)
        .values_list("strategy_version", flat=True)
        .first()
    )
    if number is not None:
        found = StrategyVersion.objects.filter(number=number).first()
        if found is not None:
            return found
    return active_strategy()


def escalation_levels(version: StrategyVersion | None) -> list[tuple[int, int]]:
    """(level, after_days), from the first level reached to the last."""
    if version is None:
        return []
    rows = EscalationLevel.objects.filter(version=version).values_list("level", "after_days")
    return sorted(rows, key=lambda row: (row[1], row[0]))


def level_for(days_red: int, levels: list[tuple[int, int]]) -> int | None:
    """The level of an action red for `days_red` days (1 on W+1); None: not yet."""
    reached = [level for level, after in levels if days_red >= after + 1]
    return reached[-1] if reached else None


def escalated_actions(
    *, business_date: date, levels: list[tuple[int, int]], level: int | None = None
) -> QuerySet[PlannedAction]:
    """The pending red actions at `level` (or at any level) on the date."""
    day = business_date
    wanted = Q(pk__in=[])
    for i, (this, after) in enumerate(levels):
        if level is not None and this != level:
            continue
        at_level = Q(window_to__lte=day - timedelta(days=after + 1))
        if i + 1 < len(levels):
            at_level &= Q(window_to__gt=day - timedelta(days=levels[i + 1][1] + 1))
        at_level &= Q(handled_level__isnull=True) | Q(handled_level__lt=this)
        wanted |= at_level
    return PlannedAction.objects.filter(status__in=PENDING, window_from__lte=day).filter(wanted)


def escalation_counts(*, business_date: date, version: StrategyVersion) -> dict[str, int]:
    """How many actions sit at each level on the date, handled or not (run ledger)."""
    levels = escalation_levels(version)
    counts = {f"level_{level}": 0 for level, _after in levels}
    rows = (
        PlannedAction.objects.filter(
            status__in=PENDING, window_from__lte=business_date, window_to__lt=business_date
        )
        .values_list("window_to")
        .order_by()
        .annotate(n=Count("id"))
    )
    for window_to, n in rows:
        level = level_for((business_date - window_to).days, levels)
        if level is not None:
            counts[f"level_{level}"] += n
    return counts
