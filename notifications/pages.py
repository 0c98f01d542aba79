"""Pages of notifications: the gerente's template editor, the day's letters (the batch
to print, and each letter marked delivered), a client's messages (linked from the
client page) and the productivity per channel (a panel on the dashboards, its export
and drill-downs). Thin: parse, call, render."""

import re
from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from collections_field.views import dashboard_errors, day_param
from notifications.forms import DeliveredForm, TemplateForm
from notifications.gate import reason_label
from notifications.letters import letter_mark_delivered
from notifications.models import Letter, MessageEvent, OutgoingMessage
from notifications.productivity import CHANNEL_LABELS, FIGURE_LABELS, FIGURES
from notifications.selectors import (
    Productivity,
    case_message_counts,
    case_messages_for,
    channel_figures_of,
    letters_for,
    productivity_cases,
    productivity_for,
    templates_for,
)
from notifications.templating import PLACEHOLDERS, TemplateRefused, template_save
from portfolio.exceptions import DomainError, NotFound
from portfolio.models import Role
from portfolio.selectors import agencies_visible_to, role_of


def _templates_or_404(user):
    try:
        return templates_for(user=user)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@login_required
def templates_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/templates.html",
        {"templates": _templates_or_404(request.user), "placeholders": PLACEHOLDERS},
    )


@login_required
def template_edit_page(request: HttpRequest, name: str | None = None) -> HttpResponse:
    """New (no name) or existing template; a refusal is shown under each field."""
    templates = _templates_or_404(request.user)
    template = None
    if name is not None:
        template = templates.filter(name=name).first()
        if template is None:
            raise Http404(_("no template with that name"))
    initial = {}
    if template is not None:
        initial = {
            "name": template.name, "channel": template.channel,
            "recipient": template.recipient, "subject": template.subject,
            "body": template.body, "content_sid": template.content_sid,
            "variables": ", ".join(template.variables),
        }  # fmt: skip
    form = TemplateForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        editing=template is not None,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = template_save(
                user=request.user,
                template_id=template.pk if template else None,
                **{k: data[k] for k in ("name", "channel", "recipient", "subject", "body")},
                content_sid=data["content_sid"],
                variables=data["variables"],
                reason=data["reason"],
            )
        except TemplateRefused as exc:
            for problem in exc.problems:
                form.add_error(problem.field if problem.field in form.fields else None,
                               problem.message)  # fmt: skip
        else:
            messages.success(request, _("Template %(name)s saved.") % {"name": saved.name})
            return redirect("message-templates")
    history = template.history.select_related("history_user")[:20] if template else []
    return render(
        request,
        "notifications/template_edit.html",
        {"form": form, "template": template, "placeholders": PLACEHOLDERS, "history": history},
    )


def _day(request: HttpRequest) -> date:
    from collections_field.selectors import current_business_date

    try:
        if request.GET.get("date"):
            return date.fromisoformat(request.GET["date"])
    except ValueError:
        pass
    return current_business_date() or timezone.localdate()


@login_required
def letters_page(request: HttpRequest) -> HttpResponse:
    """The day's letters of an agency: the batch to print, and each letter the reader
    may see with its state; whoever hands them over marks them delivered."""
    role = role_of(request.user)
    agencies = list(agencies_visible_to(request.user).order_by("code"))
    member = getattr(request.user, "staff_member", None)
    own = getattr(getattr(request.user, "officer", None), "agency", None)
    code = (
        request.GET.get("agency")
        or (own.code if own else "")
        or (member.agency.code if member and member.agency_id else "")
        or (agencies[0].code if agencies else "")
    )
    day = _day(request)
    agency = batch = None
    rows: list[Letter] = []
    if code:
        try:
            agency, batch, rows = letters_for(
                user=request.user, agency_code=code, business_date=day
            )
        except NotFound as exc:
            raise Http404(str(exc)) from exc
    printable = [r for r in rows if r.status != Letter.Status.BLOCKED]
    return render(
        request,
        "notifications/letters.html",
        {
            "agency": agency,
            "agencies": agencies if len(agencies) > 1 else [],
            "day": day,
            "batch": batch,
            "rows": rows,
            "printable": printable,
            "can_deliver": role in (Role.ASESOR, Role.AGENCIA_EXTERNA, Role.JEFE_AGENCIA,
                                    Role.GERENTE),
            "pdf_url": (
                f"{reverse('api-letters')}?agency={agency.code}&date={day.isoformat()}"
                if agency and printable and batch and batch.file else ""
            ),
        },
    )  # fmt: skip


@login_required
@require_POST
def letter_delivered(request: HttpRequest) -> HttpResponse:
    """Mark the letter of an action delivered (from the client page or the list)."""
    form = DeliveredForm(request.POST)
    back = request.POST.get("next") or reverse("letters")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("letters")
    if not form.is_valid():
        messages.error(request, _("Choose the letter to mark."))
        return redirect(back)
    try:
        letter_mark_delivered(
            user=request.user, action_id=form.cleaned_data["action"], at=timezone.now()
        )
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Letter marked delivered; its action is done."))
    return redirect(back)


# --- Gate decisions and replies on the case ----------------------------------------------

MASK = "•"


def mask_address(value: str) -> str:
    """A phone with all but its last 3 digits hidden; an e-mail with its name hidden
    but the first letter (no contact datum shown whole on a page)."""
    value = (value or "").removeprefix("whatsapp:")
    if "@" in value:
        name, _at, domain = value.partition("@")
        return f"{name[:1]}{MASK * 3}@{domain}"
    digits = re.sub(r"\D", "", value)
    if not digits:
        return value
    return (
        ("+" if value.strip().startswith("+") else "")
        + MASK * max(len(digits) - 3, 0)
        + digits[-3:]
    )


# A run of 7 or more digits (maybe spaced or dashed) in a client's words: a phone.
PHONE_IN_TEXT = re.compile(r"\+?\d(?:[\s-]?\d){6,}")


def mask_phones_in(text: str) -> str:
    return PHONE_IN_TEXT.sub(lambda m: mask_address(m.group()), text or "")


def case_links(*, request: HttpRequest, case: dict) -> list[dict]:
    """The client page's hook (SEMAFORO["CASE_PAGE_LINKS"]): its messages, how many the
    gate blocked, and the client's replies, when there is any."""
    counts = case_message_counts(client_code=case["client_code"])
    if not counts["messages"] and not counts["replies"]:
        return []
    label = _("Messages: %(n)s") % {"n": counts["messages"]}
    if counts["blocked"]:
        label += " " + ngettext("(%(n)s blocked)", "(%(n)s blocked)", counts["blocked"]) % {
            "n": counts["blocked"]
        }
    if counts["replies"]:
        label += ", " + ngettext("%(n)s reply", "%(n)s replies", counts["replies"]) % {
            "n": counts["replies"]
        }
    return [{"label": label, "url": reverse("case-messages", args=[case["client_code"]]),
             "note": ""}]  # fmt: skip


def _event_row(event: MessageEvent) -> dict:
    statuses = dict(OutgoingMessage.Status.choices)
    gates = dict(OutgoingMessage.Gate.choices)
    return {
        "at": event.at,
        "source": event.get_source_display(),
        "from_status": statuses.get(event.from_status, event.from_status),
        "to_status": statuses.get(event.to_status, event.to_status),
        "gate": gates.get(event.gate, event.gate),
        "reason": reason_label(event.reason),
        "detail": event.detail,
    }


@login_required
def case_messages_page(request: HttpRequest, client_code: str) -> HttpResponse:
    """Mensajes del cliente: every outgoing message (newest first) with the gate's last
    decision and its trail of decisions and status changes, and the client's replies;
    phones masked. The same scope as the client page (404 outside it)."""
    try:
        found = case_messages_for(user=request.user, client_code=client_code)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    gates = dict(OutgoingMessage.Gate.choices)
    rows = [
        {
            "channel": CHANNEL_LABELS.get(m.channel, m.channel),
            "template": m.template,
            "recipient": m.get_recipient_display(),
            "address": mask_address(m.address),
            "status": m.status,
            "status_label": m.get_status_display(),
            "created_at": m.created_at,
            "sent_at": m.sent_at,
            "final_at": m.final_at,
            "gate": gates.get(m.gate, m.gate),
            "reason": reason_label(m.gate_reason),
            "events": [_event_row(e) for e in m.events.all()],
        }
        for m in found.messages
    ]
    replies = [
        {
            "received_at": r.received_at,
            "channel": CHANNEL_LABELS.get(r.channel, r.channel),
            "sender": mask_address(r.sender),
            "text": mask_phones_in(r.text),
            "opt_out": r.opt_out,
        }
        for r in found.replies
    ]
    letters = [
        {
            "business_date": letter.business_date,
            "template": letter.template,
            "status": letter.status,
            "status_label": letter.get_status_display(),
            "reason": reason_label(letter.gate_reason),
            "delivered_at": letter.delivered_at,
            "delivered_by": letter.delivered_by.username if letter.delivered_by else "",
        }
        for letter in found.letters
    ]
    return render(
        request,
        "notifications/case_messages.html",
        {"client": found.client, "rows": rows, "replies": replies, "letters": letters,
         "blocked": sum(1 for m in found.messages if m.status == OutgoingMessage.Status.BLOCKED)},
    )  # fmt: skip


# --- Productivity per channel on the dashboards --------------------------------------------


def _unit_query(unit, day: date | None) -> dict[str, str]:
    query = {"unit": unit.param}
    if day:
        query["date"] = day.isoformat()
    return query


def _period_tables(found: Productivity) -> list[dict]:
    """The panel's two tables (month to date, the day): per channel, each figure with
    the link to its cases, and the blocked ones by the gate's reason."""
    base = _unit_query(found.unit, found.business_date)
    drill = reverse("productivity-cases")
    tables = []
    for period, title in (("month", _("Month to date")), ("day", _("On the day"))):
        rows = []
        for row in found.rows:
            figures = row.month if period == "month" else row.day
            reasons = row.month_reasons if period == "month" else row.day_reasons
            link = {**base, "channel": row.channel, "period": period}
            cells = [
                {"figure": name, "n": figures.get(name, 0),
                 "url": f"{drill}?{urlencode({**link, 'figure': name})}"}
                for name in FIGURES
            ]  # fmt: skip
            blocked = [
                {"label": reason_label(reason), "n": n,
                 "url": f"{drill}?{urlencode({**link, 'figure': 'blocked', 'reason': reason})}"}
                for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
                if n
            ]  # fmt: skip
            rows.append(
                {"channel": CHANNEL_LABELS.get(row.channel, row.channel), "cells": cells,
                 "blocked": blocked}
            )  # fmt: skip
        tables.append({"period": period, "title": title, "rows": rows})
    return tables


def productivity_panel(*, request: HttpRequest, board) -> dict | None:
    """The dashboards' hook (SEMAFORO["DASHBOARD_PANELS"]): the board's unit and date,
    already resolved within the reader's scope, and its productivity per channel."""
    if board.business_date is None:
        return None
    found = channel_figures_of(unit=board.unit, business_date=board.business_date)
    query = urlencode(_unit_query(board.unit, board.business_date))
    export = reverse("productivity-export")
    return {
        "template": "notifications/productivity_panel.html",
        "context": {
            "productivity": found,
            "tables": _period_tables(found),
            "labels": [FIGURE_LABELS[name] for name in FIGURES],
            "csv_url": f"{export}?{query}&format=csv",
            "xlsx_url": f"{export}?{query}&format=xlsx",
        },
    }


@login_required
@dashboard_errors
def productivity_export(request: HttpRequest) -> HttpResponse:
    """The productivity table as CSV or Excel (`?format=csv|xlsx`), month to date and
    the day; without a format, back to the dashboard it belongs to."""
    from collections_field.exports import table_response

    found = productivity_for(
        user=request.user, param=request.GET.get("unit"), business_date=day_param(request)
    )
    fmt = request.GET.get("format")
    if fmt not in ("csv", "xlsx"):
        query = urlencode(_unit_query(found.unit, found.business_date))
        return redirect(f"{reverse('dashboard')}?{query}#productivity")
    header = [_("Period"), _("Channel")] + [str(FIGURE_LABELS[n]) for n in FIGURES]
    header.append(_("Blocked by reason"))
    lines = []
    for period, title in (("month", _("Month to date")), ("day", _("On the day"))):
        for row in found.rows:
            figures = row.month if period == "month" else row.day
            reasons = row.month_reasons if period == "month" else row.day_reasons
            lines.append(
                [str(title), str(CHANNEL_LABELS.get(row.channel, row.channel))]
                + [figures.get(name, 0) for name in FIGURES]
                + ["; ".join(f"{reason_label(r)}: {n}" for r, n in sorted(reasons.items()) if n)]
            )
    day = found.business_date.isoformat() if found.business_date else "sin-fecha"
    name = f"productividad-{found.unit.param.replace(':', '-')}-{day}"
    return table_response(fmt, name, header, lines)


@login_required
@dashboard_errors
def productivity_cases_page(request: HttpRequest) -> HttpResponse:
    """The cases behind one figure of a channel (drill-down, as the dashboards' own);
    `?format=csv|xlsx` exports all of them."""
    from collections_field.dashboards import CASE_ROWS, EXPORT_ROWS, case_row
    from collections_field.exports import table_response

    channel = request.GET.get("channel", "")
    figure = request.GET.get("figure", "")
    period = request.GET.get("period", "day")
    reason = request.GET.get("reason")
    unit, day, cases = productivity_cases(
        user=request.user,
        param=request.GET.get("unit"),
        channel=channel,
        figure=figure,
        period=period,
        business_date=day_param(request),
        reason=reason,
    )
    columns = (
        ("client_code", _("Client")), ("client_name", _("Name")), ("agency", _("Agency")),
        ("officer", _("Officer")), ("external_agency", _("External agency")),
        ("action_code", _("Suggested action")),
        ("tramo", _("Tramo")), ("status", _("Status")), ("days_past_due", _("Days past due")),
        ("overdue_amount", _("Overdue amount (S/)")), ("promise_date", _("Promise date")),
    )  # fmt: skip
    if request.GET.get("format") in ("csv", "xlsx"):
        rows = (case_row(c, day) for c in cases[:EXPORT_ROWS])
        name = f"casos-{channel}-{figure}-{unit.param.replace(':', '-')}-{day or 'sin-fecha'}"
        return table_response(
            request.GET["format"], name, [h for _k, h in columns],
            ([r[k] for k, _h in columns] for r in rows),
        )  # fmt: skip
    rows = [case_row(c, day) for c in cases[: CASE_ROWS + 1]]
    query = {**_unit_query(unit, day), "channel": channel, "figure": figure, "period": period}
    if reason is not None:
        query["reason"] = reason
    label = " · ".join(
        str(part)
        for part in (
            CHANNEL_LABELS[channel],
            FIGURE_LABELS[figure],
            *([reason_label(reason)] if reason is not None else []),
            _("Month to date") if period == "month" else _("On the day"),
        )
    )
    return render(
        request,
        "collections_field/dashboard_cases.html",
        {
            "unit": unit,
            "day": day,
            "figure": figure,
            "label": label,
            "team": None,
            "rows": rows[:CASE_ROWS],
            "more": len(rows) > CASE_ROWS,
            "shown_max": CASE_ROWS,
            "query": urlencode(query),
            "as_of_now": False,
        },
    )
