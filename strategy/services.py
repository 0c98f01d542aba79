"""Writes of the strategy: publishing a new version, loading the shipped default, dumping.

A published version is never edited: a change is a new version with every table
copied in, and the previous one is deactivated in the same transaction.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from strategy.diff import diff_summary, document_diff
from strategy.exceptions import NoActiveStrategy
from strategy.models import StrategyVersion
from strategy.schema import MAPPING_SECTIONS, ROW_SECTIONS, SECTIONS, dump_document
from strategy.selectors import active_strategy, strategy_document_for, written_templates
from strategy.validation import validate_strategy

DEFAULT_STRATEGY_PATH = Path(__file__).resolve().parent / "data" / "default_strategy.yaml"


@dataclass(frozen=True)
class PublishResult:
    version: StrategyVersion
    created: bool  # False: the content equals the active version's, nothing was written
    warnings: list[str]
    counts: dict[str, int]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@transaction.atomic
def strategy_publish(
    *,
    document: str | Mapping,
    published_by: AbstractBaseUser | None = None,
    source_name: str = "",
) -> PublishResult:
    """Validate a strategy and make it the active version.

    Raises StrategyValidationError (every error, nothing written). Publishing the
    same content as the active version (same canonical dump, comments and spacing
    aside) writes nothing, so re-running a deploy step is harmless. The new version
    keeps its diff against the one it replaces (rows added, removed and changed per
    section), also summarised as the reason of its audit record.
    """
    validated = validate_strategy(document, written_templates=written_templates())
    doc = validated.document
    canonical = dump_document(doc)
    digest = _sha256(canonical)

    # Lock the active row so two publishers queue up instead of racing for the
    # same number; the unique constraints catch the very first publish racing.
    active = StrategyVersion.objects.select_for_update().filter(is_active=True).first()
    if active is not None and active.sha256 == digest:
        return PublishResult(
            version=active, created=False, warnings=validated.warnings, counts=doc.counts()
        )

    number = (StrategyVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    diff = document_diff(strategy_document_for(active) if active else None, doc)
    if active is not None:
        # Before the insert: at most one active version (partial unique constraint).
        StrategyVersion.objects.filter(pk=active.pk).update(is_active=False)
    version = StrategyVersion(
        number=number,
        name=doc.name,
        usd_rate=doc.usd_rate,
        is_active=True,
        published_by=published_by,
        sha256=digest,
        source=document if isinstance(document, str) else canonical,
        source_name=source_name,
        warnings=validated.warnings,
        diff=diff,
        replaced=active.number if active else None,
    )
    # The audit trail's reason: what changed, in one line (the rows are in `diff`).
    version._change_reason = _reason(source_name, diff)
    version._history_user = published_by
    version.save()
    for name in ROW_SECTIONS:
        model = SECTIONS[name].model
        model.objects.bulk_create(
            [
                model(version=version, position=position, **asdict(row))
                for position, row in enumerate(getattr(doc, name))
            ],
            batch_size=500,
        )
    for name, section in MAPPING_SECTIONS.items():
        row = getattr(doc, name)
        if row is not None:
            section.model.objects.create(version=version, **asdict(row))
    _analyze_sections()
    return PublishResult(
        version=version, created=True, warnings=validated.warnings, counts=doc.counts()
    )


def _analyze_sections() -> None:
    """Fresh planner statistics for the strategy's tables on PostgreSQL: the night joins
    every case with them, and planned on a never-analysed table's guess (autovacuum
    comes late, or never where it is off) those joins become nested loops."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in ROW_SECTIONS:
            cursor.execute(f"ANALYZE {SECTIONS[name].model._meta.db_table}")


def _reason(source_name: str, diff: dict) -> str:
    text = f"{source_name}: {diff_summary(diff)}" if source_name else diff_summary(diff)
    limit = StrategyVersion.history.model._meta.get_field("history_change_reason").max_length
    return text if len(text) <= limit else text[: limit - 1] + "…"


def strategy_load_default(*, published_by: AbstractBaseUser | None = None) -> PublishResult:
    """Publish the shipped thesis strategy (strategy/data/default_strategy.yaml)."""
    return strategy_publish(
        document=DEFAULT_STRATEGY_PATH.read_text(encoding="utf-8"),
        published_by=published_by,
        source_name=DEFAULT_STRATEGY_PATH.name,
    )


def strategy_dump(*, version: StrategyVersion | None = None) -> str:
    """The active (or given) version as a strategy file, in the canonical shape.

    Not atomic on purpose: it only reads, and a published version's rows never change.
    """
    if version is None:
        version = active_strategy()
        if version is None:
            raise NoActiveStrategy(_("no strategy has been published yet"))
    return dump_document(strategy_document_for(version))
