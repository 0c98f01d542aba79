"""Writes of the strategy editor: drafts, their edits, the preview, publishing.

Only the gerente (the "gerente de riesgo y cobranza") starts, edits, previews and
publishes drafts; anyone else is refused here, whatever page or request asked.
Every edit is one transaction on the locked draft and is refused when it was made
on an older revision than the stored one (another tab, another person), so nothing
is overwritten unseen. Each edit's audit record says what changed as its reason.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import yaml
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portfolio.exceptions import DomainError, InvalidInput, NotFound, PermissionDenied
from portfolio.models import Role
from portfolio.selectors import role_of
from strategy.exceptions import StrategyValidationError
from strategy.models import StrategyVersion
from strategy.schema import SECTIONS
from strategy.selectors import active_strategy
from strategy.services import strategy_publish
from strategy.yaml_io import load_yaml
from strategy_editor import editing
from strategy_editor.models import StrategyDraft

EDITOR_ROLES = (Role.GERENTE,)
REASON_LENGTH = 100  # django-simple-history's change reason


class DraftError(DomainError):
    code = "draft_error"


class StaleDraft(DraftError):
    """The edit was made on an older revision of the draft."""

    code = "stale_draft"


def require_editor(user: AbstractBaseUser) -> None:
    if role_of(user) not in EDITOR_ROLES:
        raise PermissionDenied(_("only the gerente may edit and publish the strategy"))


def content_sha(document: Any) -> str:
    """A hash of the draft's content as stored (any edit changes it)."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reason(changes: list[str], fallback: str) -> str:
    text = "; ".join(changes) or fallback
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def _locked(draft_id: int, revision: int | None) -> StrategyDraft:
    draft = StrategyDraft.objects.select_for_update().filter(pk=draft_id).first()
    if draft is None:
        raise NotFound(_("draft %(id)s not found") % {"id": draft_id})
    if draft.status != StrategyDraft.Status.OPEN:
        raise DraftError(_("this draft is no longer open (%(status)s)") % {
            "status": draft.get_status_display()
        })  # fmt: skip
    if revision is not None and revision != draft.revision:
        raise StaleDraft(
            _(
                "the draft was changed meanwhile (revision %(now)s, this page had %(seen)s); "
                "reload it and make the change again"
            )
            % {"now": draft.revision, "seen": revision}
        )
    return draft


def _save(draft: StrategyDraft, user: AbstractBaseUser, reason: str) -> StrategyDraft:
    draft.revision += 1
    draft.updated_by = user
    draft._history_user = user
    draft._change_reason = reason
    draft.save()
    return draft


@transaction.atomic
def draft_start(*, user: AbstractBaseUser, title: str = "") -> StrategyDraft:
    """A new draft holding the active version's whole document."""
    require_editor(user)
    version = active_strategy()
    if version is None:
        raise DraftError(_("no strategy has been published yet: load one first"))
    draft = StrategyDraft(
        title=title.strip()[:200],
        document=editing.document_of(version),
        based_on=version,
        started_by=user,
        updated_by=user,
    )
    draft._history_user = user
    draft._change_reason = _("started from version %(n)s") % {"n": version.number}
    draft.save()
    return draft


@transaction.atomic
def draft_edit_rows(
    *,
    user: AbstractBaseUser,
    draft_id: int,
    revision: int,
    section: str,
    rows: dict[int, dict[str, str]],
    op: str = "save",
    new_row: dict[str, str] | None = None,
) -> StrategyDraft:
    """Save a page of a section's rows as typed, then one operation on them:
    `save`, `add` (`new_row`), `delete:<i>`, `up:<i>` or `down:<i>`.

    Values that do not read as their kind are stored as typed: the validator names
    them on the page. ↑/↓ exchange the ordering key (`Section.ordered_by`) with the
    neighbour of the same group, and the two rows' places in the file.
    """
    require_editor(user)
    spec_section = SECTIONS.get(section)
    if spec_section is None:
        raise NotFound(_("no section %(name)s") % {"name": section})
    draft = _locked(draft_id, revision)
    document = draft.document
    current = editing.rows_of(document, section)
    changes: list[str] = []
    for index, values in sorted(rows.items()):
        if not 0 <= index < len(current):
            raise InvalidInput(_("row %(n)s does not exist") % {"n": index}, "rows")
        before = current[index]
        after = {
            spec.key: editing.parse_field(spec, values.get(spec.key))
            if spec.key in values
            else before.get(spec.key)
            for spec in spec_section.specs
        }
        changes += editing.describe_changes(spec_section, index, before, after)
        current[index] = after

    verb, _sep, target = op.partition(":")
    if verb == "add":
        row = {
            spec.key: editing.parse_field(spec, (new_row or {}).get(spec.key))
            for spec in spec_section.specs
        }
        at = len(current)
        if spec_section.ordered_by:  # after the last row of its group, as the file reads
            group = editing.group_of(spec_section, row)
            same = [i for i, r in enumerate(current) if editing.group_of(spec_section, r) == group]
            at = same[-1] + 1 if same else at
        current.insert(at, row)
        changes.append(f"{section}[{at}] ({editing.row_label(spec_section, row)}): added")
    elif verb in ("delete", "up", "down"):
        if not target.isdigit() or int(target) >= len(current):
            raise InvalidInput(_("row %(n)s does not exist") % {"n": target}, "op")
        index = int(target)
        if verb == "delete":
            row = current.pop(index)
            changes.append(f"{section}[{index}] ({editing.row_label(spec_section, row)}): removed")
        else:
            changes += _move(spec_section, current, index, up=verb == "up")
    elif verb != "save":
        raise InvalidInput(_("unknown operation %(op)s") % {"op": op}, "op")
    document[section] = current
    draft.document = document
    return _save(draft, user, _reason(changes, _("no change")))


def _move(section, rows: list[dict], index: int, *, up: bool) -> list[str]:
    key = section.ordered_by
    if key is None:
        raise InvalidInput(_("the rows of %(name)s have no order") % {"name": section.name}, "op")
    row = rows[index]
    group = editing.group_of(section, row)
    value = row.get(key)
    if not isinstance(value, int):
        raise InvalidInput(_("fix %(key)s first") % {"key": key}, key)
    peers = [
        i
        for i, r in enumerate(rows)
        if i != index and editing.group_of(section, r) == group and isinstance(r.get(key), int)
    ]
    if up:
        peers = [i for i in peers if rows[i][key] < value]
        other = max(peers, key=lambda i: rows[i][key], default=None)
    else:
        peers = [i for i in peers if rows[i][key] > value]
        other = min(peers, key=lambda i: rows[i][key], default=None)
    if other is None:
        return []
    rows[index][key], rows[other][key] = rows[other][key], value
    rows[index], rows[other] = rows[other], rows[index]
    label = editing.row_label(section, rows[other])
    return [f"{section.name} ({label}): {key} {value} → {rows[other][key]}"]


@transaction.atomic
def draft_edit_settings(
    *, user: AbstractBaseUser, draft_id: int, revision: int, values: dict[str, str]
) -> StrategyDraft:
    """The draft's title and the strategy's name and USD rate."""
    require_editor(user)
    draft = _locked(draft_id, revision)
    changes = []
    if "title" in values and values["title"].strip()[:200] != draft.title:
        draft.title = values["title"].strip()[:200]
        changes.append(f"title → {draft.title}")
    document = draft.document
    if "name" in values and values["name"] != document.get("name"):
        changes.append(f"name {document.get('name')} → {values['name']}")
        document["name"] = values["name"]
    if "usd_rate" in values:
        rate = _number(values["usd_rate"])
        if rate != document.get("usd_rate"):
            changes.append(f"usd_rate {document.get('usd_rate')} → {rate}")
            document["usd_rate"] = rate
    draft.document = document
    return _save(draft, user, _reason(changes, _("no change")))


def _number(text: str) -> Any:
    """usd_rate as a JSON number when it reads as one; otherwise as typed."""
    from strategy.schema import DECIMAL, Spec

    return editing.parse_field(Spec("usd_rate", DECIMAL), text)


@transaction.atomic
def draft_edit_part(
    *, user: AbstractBaseUser, draft_id: int, revision: int, part: str, text: str
) -> StrategyDraft:
    """A part kept verbatim (not a row section yet), edited as its YAML text."""
    require_editor(user)
    if part not in editing.parts():
        raise NotFound(_("no part %(name)s") % {"name": part})
    draft = _locked(draft_id, revision)
    try:
        value, _lines = load_yaml(text.replace("\r\n", "\n")) if text.strip() else (None, {})
    except yaml.YAMLError as exc:
        raise InvalidInput(
            _("%(part)s is not valid YAML: %(problem)s")
            % {"part": part, "problem": " ".join(str(exc).split())},
            part,
        ) from exc
    document = draft.document
    if value is None:
        document.pop(part, None)
    else:
        document[part] = value
    draft.document = document
    return _save(draft, user, _reason([f"{part} edited"], _("no change")))


@transaction.atomic
def draft_discard(*, user: AbstractBaseUser, draft_id: int) -> StrategyDraft:
    require_editor(user)
    draft = _locked(draft_id, None)
    draft.status = StrategyDraft.Status.DISCARDED
    return _save(draft, user, _("discarded"))


@transaction.atomic
def draft_preview_request(*, user: AbstractBaseUser, draft_id: int) -> StrategyDraft:
    """Queue a preview of the draft as it is now (after this transaction commits).

    A new request supersedes an older one still running: only the task holding the
    latest token stores its result, so a stuck or slow task never blocks a preview.
    """
    from strategy_editor.tasks import draft_preview_task

    require_editor(user)
    draft = _locked(draft_id, None)
    checked = editing.check(draft.document)
    if not checked.ok:
        raise DraftError(
            _("the draft has %(n)s errors: fix them before the preview")
            % {"n": len(checked.errors)}
        )
    token = uuid.uuid4()
    StrategyDraft.objects.filter(pk=draft.pk).update(
        preview_status=StrategyDraft.PreviewStatus.QUEUED,
        preview_token=token,
        preview_task_id="",
        preview_requested_at=timezone.now(),
        preview_error="",
    )

    def queue() -> None:
        result = draft_preview_task.delay(draft.pk, str(token))
        StrategyDraft.objects.filter(pk=draft.pk, preview_token=token).exclude(
            preview_status__in=(
                StrategyDraft.PreviewStatus.DONE,
                StrategyDraft.PreviewStatus.FAILED,
            )
        ).update(preview_task_id=result.id or "")

    transaction.on_commit(queue)
    draft.refresh_from_db()
    return draft


def draft_preview_run(*, draft_id: int, token: str, progress=None) -> str:
    """The task's work: simulate, then store the result if this is still the latest
    request. Not atomic: each simulation is its own rolled-back transaction, and the
    status between them must be seen by the page."""
    from strategy_editor.preview import PreviewError, preview_run

    mine = StrategyDraft.objects.filter(pk=draft_id, preview_token=token)
    draft = mine.first()
    if draft is None:
        return "superseded"
    mine.update(preview_status=StrategyDraft.PreviewStatus.RUNNING)
    sha = content_sha(draft.document)
    try:
        result = preview_run(document=draft.document, progress=progress)
    except (PreviewError, StrategyValidationError) as exc:
        message = "; ".join(exc.errors[:5]) if isinstance(exc, StrategyValidationError) else exc
        mine.update(
            preview_status=StrategyDraft.PreviewStatus.FAILED,
            preview_error=str(message),
            preview_finished_at=timezone.now(),
        )
        return "failed"
    except Exception as exc:
        mine.update(
            preview_status=StrategyDraft.PreviewStatus.FAILED,
            preview_error=f"{type(exc).__name__}: {exc}"[:2000],
            preview_finished_at=timezone.now(),
        )
        raise
    stored = mine.update(
        preview_status=StrategyDraft.PreviewStatus.DONE,
        preview=result,
        preview_sha=sha,
        preview_finished_at=timezone.now(),
        preview_error="",
    )
    return "done" if stored else "superseded"


@transaction.atomic
def draft_publish(*, user: AbstractBaseUser, draft_id: int, revision: int) -> StrategyVersion:
    """Publish the draft as the new active version (who, when, and its diff against
    the version it replaces are recorded by `strategy_publish`).

    Refused when another version was published after the draft was started: its
    changes would be silently undone. The draft is then kept to be redone on a new one.
    """
    require_editor(user)
    draft = _locked(draft_id, revision)
    active = StrategyVersion.objects.select_for_update().filter(is_active=True).first()
    if active is None or active.pk != draft.based_on_id:
        raise DraftError(
            _(
                "version %(active)s was published after this draft was started from version "
                "%(base)s; start a new draft from the active version"
            )
            % {"active": active.number if active else "-", "base": draft.based_on.number}
        )
    result = strategy_publish(
        document=draft.document,
        published_by=user,
        source_name=draft.title or _("draft %(id)s") % {"id": draft.pk},
    )
    if not result.created:
        raise DraftError(_("the draft does not change the active version: nothing to publish"))
    draft.status = StrategyDraft.Status.PUBLISHED
    draft.published_version = result.version
    _save(draft, user, _("published as version %(n)s") % {"n": result.version.number})
    return result.version
