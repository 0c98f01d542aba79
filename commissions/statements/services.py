"""Writes of the commissions: compute (or recompute) a month, close it, load targets."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_field.engine import sql
from collections_field.models import CycleRun
from commissions.models import CommissionMonth, OfficeTarget
from commissions.scheme import commission_scheme_for
from commissions.statements.compute import MonthRange, compute_lines, next_month
from portfolio.exceptions import InvalidInput, PermissionDenied
from portfolio.models import Agency, Role
from portfolio.selectors import role_of
from strategy.selectors import active_strategy

MANAGER_ROLES = (Role.GERENTE,)


def parse_month(value: str, field: str = "month") -> date:
    """`YYYY-MM` → the month's first day."""
    try:
        year, month = (int(part) for part in str(value).split("-"))
        return date(year, month, 1)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(_("%(field)s must be YYYY-MM") % {"field": field}, field) from exc


def _require_manager(user: AbstractBaseUser | None) -> None:
    if user is not None and role_of(user) not in MANAGER_ROLES:
        raise PermissionDenied(_("only the gerente computes, closes and sets targets"))


@transaction.atomic
def commissions_compute(*, month: date, by: AbstractBaseUser | None = None) -> CommissionMonth:
    """Compute an open month whole, replacing what it had (a re-run gives the same);
    a closed month is refused. `by` None: the system (the command, the task)."""
    _require_manager(by)
    return _compute(month=month, by=by)


def _compute(*, month: date, by, through: date | None = None) -> CommissionMonth:
    version = active_strategy()
    if version is None:
        raise InvalidInput(_("no strategy has been published"), "month")
    scheme = commission_scheme_for(version)
    if scheme is None:
        raise InvalidInput(_("the strategy has no commission_scheme"), "month")
    record, _created = CommissionMonth.objects.get_or_create(month=month)
    record = CommissionMonth.objects.select_for_update().get(pk=record.pk)
    if record.status == CommissionMonth.Status.CLOSED:
        raise InvalidInput(
            _("%(month)s is closed: it never changes") % {"month": f"{month:%Y-%m}"}, "month"
        )
    closed = [
        (first, next_month(first), through_day)
        for first, through_day in CommissionMonth.objects.filter(
            status=CommissionMonth.Status.CLOSED
        )
        .order_by("month")
        .values_list("month", "closed_through")
    ]
    sql.tune_bulk_session()
    counts = compute_lines(
        period=MonthRange(record.pk, month, next_month(month)),
        scheme=scheme,
        usd_rate=version.usd_rate,
        closed=closed,
        through=through,
    )
    record.computed_at = timezone.now()
    record.computed_by = by
    record.strategy_version = version.number
    record.scheme = scheme.as_dict()
    record.usd_rate = version.usd_rate
    record.lines = counts["lines"]
    record._change_reason = "computed"
    if by is not None:
        record._history_user = by
    record.save()
    return record


@transaction.atomic
def commissions_close(*, month: date, by: AbstractBaseUser) -> CommissionMonth:
    """The gerente closes a month: computed one last time, then frozen for good. Only
    once a cycle ran for a business date after the month (its last day's work and
    payments are in); it counts the payments taken in by the cycles finished until
    then (`closed_through`). Closing a closed month answers it again."""
    _require_manager(by)
    record = CommissionMonth.objects.select_for_update().filter(month=month).first()
    if record is not None and record.status == CommissionMonth.Status.CLOSED:
        return record
    through = (
        CycleRun.objects.filter(status=CycleRun.Status.DONE)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )
    if through is None or through < next_month(month):
        raise InvalidInput(
            _("%(month)s can be closed once a cycle has run after its last day")
            % {"month": f"{month:%Y-%m}"},
            "month",
        )
    record = _compute(month=month, by=by, through=through)
    record.status = CommissionMonth.Status.CLOSED
    record.closed_at = timezone.now()
    record.closed_by = by
    record.closed_through = through
    record._history_user, record._change_reason = by, "closed"
    record.save(update_fields=["status", "closed_at", "closed_by", "closed_through"])
    return record


@dataclass(frozen=True)
class TargetsLoaded:
    created: int
    updated: int


TARGET_COLUMNS = ("agency_code", "month", "amount")


@transaction.atomic
def office_targets_load(*, text: str, by: AbstractBaseUser | None = None) -> TargetsLoaded:
    """A CSV of `agency_code,month,amount` (a header row; month YYYY-MM, amount in
    soles with a decimal point). Creates or replaces each (agency, month); a bad line
    loads nothing, and the error names it. A closed month's targets stay as they are."""
    _require_manager(by)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in TARGET_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            _("line 1: missing column(s) %(cols)s") % {"cols": ", ".join(missing)}, "file"
        )
    agencies = dict(Agency.objects.values_list("code", "pk"))
    closed = set(
        CommissionMonth.objects.filter(status=CommissionMonth.Status.CLOSED).values_list(
            "month", flat=True
        )
    )
    rows: dict[tuple[int, date], Decimal] = {}
    for line, row in enumerate(reader, start=2):
        code = (row.get("agency_code") or "").strip()
        if code not in agencies:
            raise InvalidInput(
                _("line %(n)s: unknown agency %(code)s") % {"n": line, "code": code},
                "agency_code",
            )
        try:
            month = parse_month((row.get("month") or "").strip())
        except InvalidInput as exc:
            raise InvalidInput(
                _("line %(n)s: %(error)s") % {"n": line, "error": exc}, "month"
            ) from exc
        if month in closed:
            raise InvalidInput(
                _("line %(n)s: %(month)s is closed") % {"n": line, "month": f"{month:%Y-%m}"},
                "month",
            )
        try:
            amount = Decimal((row.get("amount") or "").strip())
        except InvalidOperation:
            amount = Decimal("-1")
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise InvalidInput(
                _("line %(n)s: amount must be soles with up to 2 decimals") % {"n": line},
                "amount",
            )
        rows[(agencies[code], month)] = amount
    created = updated = 0
    for (agency_id, month), amount in rows.items():
        target = OfficeTarget.objects.filter(agency_id=agency_id, month=month).first()
        if target is not None and target.amount == amount:
            continue
        if target is None:
            target = OfficeTarget(agency_id=agency_id, month=month)
            created += 1
        else:
            updated += 1
        target.amount, target.loaded_by = amount, by
        if by is not None:
            target._history_user = by
        target._change_reason = "loaded"
        target.save()
    return TargetsLoaded(created, updated)
