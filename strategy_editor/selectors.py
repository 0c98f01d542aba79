"""Reads of the strategy editor, for the gerente only (the same refusal as the writes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _

from portfolio.exceptions import NotFound
from strategy.diff import diff_counts
from strategy.models import StrategyVersion
from strategy.schema import SECTIONS, Section
from strategy.selectors import active_strategy
from strategy_editor import editing
from strategy_editor.models import StrategyDraft
from strategy_editor.services import content_sha, require_editor


def drafts_for(*, user: AbstractBaseUser) -> list[StrategyDraft]:
    require_editor(user)
    return list(
        StrategyDraft.objects.filter(status=StrategyDraft.Status.OPEN).select_related(
            "based_on", "started_by", "updated_by"
        )
    )


def draft_for(*, user: AbstractBaseUser, draft_id: int) -> StrategyDraft:
    require_editor(user)
    draft = (
        StrategyDraft.objects.select_related("based_on", "started_by", "published_version")
        .filter(pk=draft_id)
        .first()
    )
    if draft is None:
        raise NotFound(_("draft %(id)s not found") % {"id": draft_id})
    return draft


def versions_for(*, user: AbstractBaseUser, limit: int = 50) -> list[dict[str, Any]]:
    require_editor(user)
    versions = StrategyVersion.objects.select_related("published_by").order_by("-number")[:limit]
    return [{"version": v, "counts": diff_counts(v.diff or {})} for v in versions]


def version_for(*, user: AbstractBaseUser, number: int) -> StrategyVersion:
    require_editor(user)
    version = StrategyVersion.objects.select_related("published_by").filter(number=number).first()
    if version is None:
        raise NotFound(_("version %(n)s not found") % {"n": number})
    return version


def section_of(name: str) -> Section:
    if name not in SECTIONS:
        raise NotFound(_("no section %(name)s") % {"name": name})
    return SECTIONS[name]


@dataclass
class SectionPage:
    section: Section
    rows: list[dict[str, Any]]  # {"index", "cells": [{spec, text, problems}], "problems"}
    total: int  # rows in the section
    matching: int  # rows matching the filters
    page: int
    pages: int
    options: dict[str, list[str]]
    filters: dict[str, str]
    errors_only: bool
    section_problems: list[editing.Problem]
    elsewhere: int  # rows with errors not on this page
    ordered: bool


def section_page(
    *,
    draft: StrategyDraft,
    section: Section,
    check: editing.Check,
    filters: dict[str, str],
    page: int = 1,
    errors_only: bool = False,
) -> SectionPage:
    """One page of a section's rows with their values and problems, filtered by the
    section's identifying keys (the BAS table has ~960 rows: type, from, on)."""
    rows = editing.rows_of(draft.document, section.name)
    problems = check.of_rows(section.name)
    flagged = {i for i, found in problems.items() if any(not p.warning for p in found)}
    indexes = editing.filtered_indexes(
        section, rows, filters, only=flagged if errors_only else None
    )
    pages = max(1, -(-len(indexes) // editing.PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = indexes[(page - 1) * editing.PAGE_SIZE : page * editing.PAGE_SIZE]
    out = []
    for index in shown:
        row = rows[index]
        found = problems.get(index, [])
        cells = [
            {
                "spec": spec,
                "name": f"r{index}-{spec.key}",
                "text": editing.field_text(row.get(spec.key)) if isinstance(row, dict) else "",
                "problems": [p for p in found if p.key == spec.key],
            }
            for spec in section.specs
        ]
        out.append(
            {
                "index": index,
                "cells": cells,
                "problems": [p for p in found if p.key is None],
                "error": index in flagged,
            }
        )
    return SectionPage(
        section=section,
        rows=out,
        total=len(rows),
        matching=len(indexes),
        page=page,
        pages=pages,
        options=editing.filter_options(section, [r for r in rows if isinstance(r, dict)]),
        filters={k: v for k, v in filters.items() if k in section.label},
        errors_only=errors_only,
        section_problems=check.of_section(section.name),
        elsewhere=len(flagged - set(shown)),
        ordered=section.ordered_by is not None,
    )


@dataclass(frozen=True)
class PreviewState:
    status: str
    result: dict[str, Any]
    fresh: bool  # made for this content, this active version and the next cycle's date
    stale_reasons: list[str]
    progress: dict[str, Any] | None


def preview_state(*, draft: StrategyDraft) -> PreviewState:
    from strategy_editor.preview import PreviewError, preview_date

    result = draft.preview or {}
    reasons = []
    if draft.preview_status == StrategyDraft.PreviewStatus.DONE:
        if draft.preview_sha != content_sha(draft.document):
            reasons.append(_("the draft was edited after this preview"))
        active = active_strategy()
        if active is None or result.get("active_version") != active.number:
            reasons.append(_("another version was published after this preview"))
        try:
            next_date = preview_date().business_date.isoformat()
        except PreviewError:
            next_date = None
        if next_date != result.get("business_date"):
            reasons.append(_("the next cycle is no longer for the date previewed"))
    progress = None
    if (
        draft.preview_status
        in (
            StrategyDraft.PreviewStatus.QUEUED,
            StrategyDraft.PreviewStatus.RUNNING,
        )
        and draft.preview_task_id
    ):
        progress = _task_progress(draft.preview_task_id)
    return PreviewState(
        status=draft.preview_status,
        result=result,
        fresh=draft.preview_status == StrategyDraft.PreviewStatus.DONE and not reasons,
        stale_reasons=reasons,
        progress=progress,
    )


def _task_progress(task_id: str) -> dict[str, Any] | None:
    """The running task's last step, from Celery's result backend (none when eager)."""
    from celery.result import AsyncResult
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    try:
        found = AsyncResult(task_id)
        if found.state == "PROGRESS" and isinstance(found.info, dict):
            return found.info
    except Exception:  # a result backend that is down only hides the progress
        return None
    return None
