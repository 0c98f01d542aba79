"""The editor's pages: thin, each parses the form, calls one service or selector and
renders. Refusals are the house's: not the gerente → 403, no such draft → 404."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portfolio.exceptions import DomainError, InvalidInput, NotFound, PermissionDenied
from strategy.schema import BOOL, CODE, DECIMAL, INT, SECTIONS
from strategy.selectors import active_strategy
from strategy_editor import editing, selectors, services
from strategy_editor.models import StrategyDraft


def _editor(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            raise Forbidden(str(exc)) from exc
        except NotFound as exc:
            raise Http404(str(exc)) from exc

    return login_required(wrapped)


def _revision(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("revision", ""))
    except ValueError:
        return -1


@_editor
def index_page(request: HttpRequest) -> HttpResponse:
    """The active version, the open drafts, the published versions; start a draft."""
    if request.method == "POST":
        try:
            draft = services.draft_start(user=request.user, title=request.POST.get("title", ""))
        except (PermissionDenied, NotFound):
            raise
        except DomainError as exc:
            messages.error(request, str(exc))
            return redirect("strategy-editor")
        return redirect("strategy-draft", pk=draft.pk)
    drafts = selectors.drafts_for(user=request.user)
    return render(
        request,
        "strategy_editor/index.html",
        {
            "drafts": drafts,
            "versions": selectors.versions_for(user=request.user),
            "active": active_strategy(),
        },
    )


def _yaml(value) -> str:
    if value in (None, [], {}):
        return ""
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=100)


@_editor
def draft_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A draft: its settings, its sections with their error counts, the parts kept as
    YAML, the preview's summary and the publish button."""
    draft = selectors.draft_for(user=request.user, draft_id=pk)
    typed: dict[str, str] = {}
    part_errors: dict[str, str] = {}
    if request.method == "POST":
        op = request.POST.get("op", "")
        try:
            if op == "settings":
                fields = ("title", "name", "usd_rate")
                services.draft_edit_settings(
                    user=request.user,
                    draft_id=pk,
                    revision=_revision(request),
                    values={k: request.POST[k] for k in fields if k in request.POST},
                )
                messages.success(request, _("Saved."))
            elif op.startswith("part:"):
                part = op.removeprefix("part:")
                services.draft_edit_part(
                    user=request.user,
                    draft_id=pk,
                    revision=_revision(request),
                    part=part,
                    text=request.POST.get(part, ""),
                )
                messages.success(request, _("Saved."))
            elif op == "discard":
                services.draft_discard(user=request.user, draft_id=pk)
                messages.success(request, _("The draft was discarded."))
                return redirect("strategy-editor")
            else:
                raise Http404(_("unknown operation"))
        except InvalidInput as exc:
            # Not saved (it does not parse): shown again with the text as typed.
            part_errors[exc.field or ""] = str(exc)
            typed[exc.field or ""] = request.POST.get(exc.field or "", "")
            draft.refresh_from_db()
        except (PermissionDenied, NotFound):
            raise
        except DomainError as exc:
            messages.error(request, str(exc))
            return redirect("strategy-draft", pk=pk)
        else:
            return redirect("strategy-draft", pk=pk)
    check = editing.check(draft.document)
    sections = []
    for name, section in SECTIONS.items():
        errors, warnings = check.counts(name)
        rows = len(editing.rows_of(draft.document, name))
        sections.append({"name": name, "title": section.model._meta.verbose_name_plural,
                         "rows": rows, "errors": errors, "warnings": warnings})  # fmt: skip
    problems = check.general()
    parts = [
        {
            "name": part,
            "text": typed.get(part, _yaml(draft.document.get(part))),
            "error": part_errors.get(part, ""),
            "problems": [p for p in problems if p.section == part],
        }
        for part in editing.parts()
    ]
    settings = {
        key: {
            "text": editing.field_text(draft.document.get(key)),
            "problems": [p for p in problems if p.section == key],
        }
        for key in editing.SETTINGS
    }
    shown_elsewhere = {*editing.SETTINGS, *editing.parts()}
    return render(
        request,
        "strategy_editor/draft.html",
        {
            "draft": draft,
            "editable": draft.status == StrategyDraft.Status.OPEN,
            "check": check,
            "sections": sections,
            "settings": settings,
            "parts": parts,
            "general": [p for p in problems if p.section not in shown_elsewhere],
            "preview": selectors.preview_state(draft=draft),
        },
    )


def _filters(request: HttpRequest, section) -> dict[str, str]:
    return {key: request.GET.get(f"f-{key}", "") for key in section.label}


def _query(filters: dict[str, str], errors_only: bool, page: int | None = None) -> str:
    pairs = [(f"f-{k}", v) for k, v in filters.items() if v]
    if errors_only:
        pairs.append(("errors", "1"))
    if page and page > 1:
        pairs.append(("page", str(page)))
    return urlencode(pairs)


WIDTH = {CODE: 6, INT: 5, DECIMAL: 9, BOOL: 0}


@_editor
def section_page(request: HttpRequest, pk: int, section: str) -> HttpResponse:
    """One section's rows, filtered by its identifying keys and paged; every row's
    fields editable in place, its errors next to it; add, remove, ↑/↓."""
    draft = selectors.draft_for(user=request.user, draft_id=pk)
    spec_section = selectors.section_of(section)
    filters = _filters(request, spec_section)
    errors_only = request.GET.get("errors") == "1"
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    here = reverse("strategy-section", args=[pk, section])
    query = _query(filters, errors_only, page)
    if request.method == "POST":
        indexes = [int(i) for i in request.POST.get("rows", "").split(",") if i.isdigit()]
        rows = {
            i: {
                spec.key: request.POST.get(f"r{i}-{spec.key}", "")
                for spec in spec_section.specs
                if f"r{i}-{spec.key}" in request.POST
            }
            for i in indexes
        }
        new_row = {spec.key: request.POST.get(f"new-{spec.key}", "") for spec in spec_section.specs}
        try:
            services.draft_edit_rows(
                user=request.user,
                draft_id=pk,
                revision=_revision(request),
                section=section,
                rows=rows,
                op=request.POST.get("op", "save"),
                new_row=new_row,
            )
        except (PermissionDenied, NotFound):
            raise
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Saved."))
        return redirect(f"{here}?{query}" if query else here)

    check = editing.check(draft.document)
    view = selectors.section_page(
        draft=draft,
        section=spec_section,
        check=check,
        filters=filters,
        page=page,
        errors_only=errors_only,
    )
    for row in view.rows:
        for cell in row["cells"]:
            cell["width"] = WIDTH.get(cell["spec"].kind, 18)
            cell["error"] = any(not p.warning for p in cell["problems"])
    columns = [
        {
            "spec": spec,
            "label": spec_section.model._meta.get_field(spec.name).verbose_name,
            "width": WIDTH.get(spec.kind, 18),
        }
        for spec in spec_section.specs
    ]
    new_row = [
        {
            "spec": spec,
            "name": f"new-{spec.key}",
            "text": filters.get(spec.key, "")
            or editing.field_text(None if spec.default is editing.REQUIRED else spec.default),
            "width": WIDTH.get(spec.kind, 18),
        }
        for spec in spec_section.specs
    ]
    return render(
        request,
        "strategy_editor/section.html",
        {
            "draft": draft,
            "editable": draft.status == StrategyDraft.Status.OPEN,
            "view": view,
            "title": spec_section.model._meta.verbose_name_plural,
            "columns": columns,
            "new_row": new_row,
            "row_indexes": ",".join(str(r["index"]) for r in view.rows),
            "query": query,
            "filter_query": _query(filters, errors_only),
            "errors_total": check.counts(section)[0],
            "previous_page": _query(filters, errors_only, view.page - 1) if view.page > 1 else None,
            "next_page": _query(filters, errors_only, view.page + 1)
            if view.page < view.pages
            else None,
        },
    )


@_editor
def preview_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview: ask for one (a Celery task), watch it run, read its figures."""
    draft = selectors.draft_for(user=request.user, draft_id=pk)
    if request.method == "POST":
        try:
            services.draft_preview_request(user=request.user, draft_id=pk)
        except (PermissionDenied, NotFound):
            raise
        except DomainError as exc:
            messages.error(request, str(exc))
            return redirect("strategy-draft", pk=pk)
        return redirect("strategy-preview", pk=pk)
    state = selectors.preview_state(draft=draft)
    result = state.result
    lists = result.get("lists", {})
    return render(
        request,
        "strategy_editor/preview.html",
        {
            "draft": draft,
            "editable": draft.status == StrategyDraft.Status.OPEN,
            "preview": state,
            "result": result,
            "running": state.status
            in (StrategyDraft.PreviewStatus.QUEUED, StrategyDraft.PreviewStatus.RUNNING),
            "changed_officers": [r for r in lists.get("officers", []) if r["before"] != r["after"]],
            "check": editing.check(draft.document),
        },
    )


@require_POST
@_editor
def publish_page(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        version = services.draft_publish(
            user=request.user, draft_id=pk, revision=_revision(request)
        )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("strategy-draft", pk=pk)
    messages.success(
        request,
        _("Published as version %(n)s: it applies from the next cycle.") % {"n": version.number},
    )
    return redirect("strategy-version", number=version.number)


@_editor
def version_page(request: HttpRequest, number: int) -> HttpResponse:
    """A published version: who, when, and its diff against the version it replaced."""
    version = selectors.version_for(user=request.user, number=number)
    return render(
        request,
        "strategy_editor/version.html",
        {"version": version, "diff": version.diff or {}},
    )
