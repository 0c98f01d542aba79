"""The audit trail (who, when, what before and after) read across every audited model.

Each app marks its audited models with django-simple-history's `HistoricalRecords`;
this module knows none of them by name: it reads simple-history's registry, so a
model audited tomorrow shows up here without a change.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.models import registered_models

from portfolio.exceptions import PermissionDenied
from portfolio.models import Role
from portfolio.selectors import role_of

AUDIT_ROLES = (Role.GERENTE,)
MAX_SHOWN = 200  # characters of a value shown before it is cut


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    who: str
    model: str
    model_label: str
    object_id: str
    object_repr: str
    action: str  # created | changed | deleted | recorded (first state seen, no change)
    reason: str
    changes: tuple[Change, ...]


def audited_models() -> list[tuple[str, str]]:
    """(label, verbose name) of every audited model, for the page's filter."""
    return sorted(
        {(m._meta.label_lower, str(m._meta.verbose_name)) for m in registered_models.values()},
        key=lambda item: item[1],
    )


def _history_models(model_label: str | None) -> list[type[Model]]:
    models = []
    for model in registered_models.values():
        if model_label and model._meta.label_lower != model_label:
            continue
        manager = getattr(model, model._meta.simple_history_manager_attribute)
        models.append(manager.model)
    return models


def audit_entries(
    *,
    user: AbstractBaseUser,
    model_label: str | None = None,
    since: date | None = None,
    until: date | None = None,
    offset: int = 0,
    limit: int | None = 50,
) -> list[AuditEntry]:
    """Newest first. Only the gerente reads the audit trail."""
    if role_of(user) not in AUDIT_ROLES:
        raise PermissionDenied(_("only the gerente may read the audit trail"))
    wanted = None if limit is None else offset + limit
    streams = []
    for history in _history_models(model_label):
        records = history.objects.select_related("history_user").order_by(
            "-history_date", "-history_id"
        )
        if since:
            records = records.filter(history_date__gte=_start_of(since))
        if until:
            records = records.filter(history_date__lt=_start_of(until, days=1))
        streams.append(records if wanted is None else records[:wanted])
    merged = heapq.merge(*streams, key=lambda r: (r.history_date, r.history_id), reverse=True)
    page = list(merged)[offset : None if limit is None else offset + limit]
    previous = _previous_records(page)
    return [_entry(record, previous.get((type(record), record.history_id))) for record in page]


def iter_audit_entries(**filters) -> Iterator[AuditEntry]:
    """The whole filtered trail, for the export (a page at a time)."""
    offset = 0
    while True:
        chunk = audit_entries(**filters, offset=offset, limit=1000)
        yield from chunk
        if len(chunk) < 1000:
            return
        offset += len(chunk)


def _start_of(day: date, days: int = 0) -> datetime:
    """Midnight in Lima (the site's time zone) at the start of `day` + `days`."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=days), time.min))


def _previous_records(page: list) -> dict:
    """The version before each record on the page: one query per audited model."""
    by_model: dict[type, list] = defaultdict(list)
    for record in page:
        by_model[type(record)].append(record)
    previous = {}
    for history, records in by_model.items():
        pk_name = history.instance_type._meta.pk.attname
        ids = {getattr(r, pk_name) for r in records}
        latest = max(r.history_date for r in records)
        versions = defaultdict(list)
        for version in history.objects.filter(
            **{f"{pk_name}__in": ids, "history_date__lte": latest}
        ).order_by("history_date", "history_id"):
            versions[getattr(version, pk_name)].append(version)
        for record in records:
            before = None
            for version in versions[getattr(record, pk_name)]:
                if version.history_id == record.history_id:
                    break
                before = version
            previous[(history, record.history_id)] = before
    return previous


def _entry(record, before) -> AuditEntry:
    model = record.instance_type
    action = {"+": "created", "~": "changed", "-": "deleted"}[record.history_type]
    if before is not None and action == "changed":
        delta = record.diff_against(before, foreign_keys_are_objs=False)
        changes = tuple(Change(c.field, _shown(c.old), _shown(c.new)) for c in delta.changes)
    else:
        if action == "changed":  # a baseline: the state before the first change by hand
            action = "recorded"
        fields = [
            f.attname for f in record.instance_type._meta.fields if hasattr(record, f.attname)
        ]
        # No earlier version: every field is shown (as it was, for a deletion).
        gone = action == "deleted"
        changes = tuple(
            Change(name, _shown(getattr(record, name)) if gone else "",
                   "" if gone else _shown(getattr(record, name)))
            for name in fields
        )  # fmt: skip
    who = record.history_user.get_username() if record.history_user else _("system")
    return AuditEntry(
        at=record.history_date,
        who=who,
        model=str(model._meta.verbose_name),
        model_label=model._meta.label_lower,
        object_id=str(getattr(record, model._meta.pk.attname)),
        object_repr=_shown(_describe(record)),
        action=action,
        reason=record.history_change_reason or "",
        changes=changes,
    )


# A record's own naming field, read without touching related rows (no query per line).
NAMING_FIELDS = ("code", "username", "number", "name", "client_id", "user_id")


def _describe(record) -> str:
    for name in NAMING_FIELDS:
        value = getattr(record, name, None)
        if value not in (None, ""):
            return f"{name.removesuffix('_id')} {value}" if name.endswith("_id") else str(value)
    return str(getattr(record, record.instance_type._meta.pk.attname))


def _shown(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
