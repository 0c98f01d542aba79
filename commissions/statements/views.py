"""Commission pages: each role's statements of a month, one statement's lines, their
CSV, Excel and (for invoicing) PDF, the gerente's compute and close, and targets."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from collections_field.exports import table_response
from collections_field.selectors import current_business_date
from commissions.models import CommissionLine, OfficeTarget
from commissions.statements.compute import next_month
from commissions.statements.selectors import (
    commission_month,
    month_statements,
    own_statement_key,
    statement_code,
    statement_for,
    statement_lines,
    statement_name,
)
from commissions.statements.services import (
    MANAGER_ROLES,
    commissions_close,
    commissions_compute,
    office_targets_load,
    parse_month,
)
from portfolio.exceptions import DomainError, InvalidInput, NotFound
from portfolio.models import Role
from portfolio.selectors import role_of

KEYS = ("officer", "agency", "external_agency")
READER_ROLES = (Role.ASESOR, Role.AGENCIA_EXTERNA, Role.JEFE_AGENCIA, Role.JEFE_ZONAL,
                Role.GERENTE)  # fmt: skip


def _month(request: HttpRequest) -> date:
    raw = request.GET.get("month") or request.POST.get("month")
    if raw:
        try:
            return parse_month(raw)
        except InvalidInput as exc:
            raise Http404(str(exc)) from exc
    day = current_business_date() or date.today()
    return day.replace(day=1)


def _previous(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


@login_required
def commissions_page(request: HttpRequest) -> HttpResponse:
    role = role_of(request.user)
    if role not in READER_ROLES:
        raise Http404(_("no commissions for this user"))
    month = _month(request)
    if request.method == "POST":
        return _manage(request, month)
    key = {k: request.GET[k] for k in KEYS if request.GET.get(k)}
    fmt = request.GET.get("format")
    if key or role in (Role.ASESOR, Role.AGENCIA_EXTERNA):
        try:
            statement = statement_for(user=request.user, month=month, **key)
        except NotFound as exc:
            if key or commission_month(month) is not None:
                raise Http404(str(exc)) from exc
            statement = None  # one's own month, not computed yet
        except InvalidInput as exc:
            raise Http404(str(exc)) from exc
        if statement is not None and fmt in ("csv", "xlsx", "pdf"):
            return _statement_file(statement, fmt)
        return render(
            request,
            "commissions/statement.html",
            {
                "month": month,
                "statement": statement,
                "code": statement_code(statement) if statement else "",
                "name": statement_name(statement) if statement else "",
                "lines": list(statement_lines(statement)) if statement else [],
                "query": _query(month, key),
                "previous": _previous(month),
                "following": next_month(month),
                "key": key,
            },
        )
    statements = list(month_statements(user=request.user, month=month))
    if fmt in ("csv", "xlsx"):
        return _statements_file(statements, month, fmt)
    rows = [(s, statement_code(s), statement_name(s)) for s in statements]
    return render(
        request,
        "commissions/statements.html",
        {
            "month": month,
            "record": commission_month(month),
            "agencies": [r for r in rows if r[0].kind == "agency"],
            "officers": [r for r in rows if r[0].kind == "officer"],
            "externals": [r for r in rows if r[0].kind == "external"],
            "can_manage": role in MANAGER_ROLES,
            "own": own_statement_key(request.user),
            "query": _query(month, {}),
            "previous": _previous(month),
            "following": next_month(month),
        },
    )


def _query(month: date, key: dict) -> str:
    parts = [f"month={month:%Y-%m}"] + [f"{k}={v}" for k, v in key.items()]
    return "&".join(parts)


def _manage(request: HttpRequest, month: date) -> HttpResponse:
    if role_of(request.user) not in MANAGER_ROLES:
        raise Http404(_("no such page"))
    try:
        if request.POST.get("op") == "close":
            commissions_close(month=month, by=request.user)
            messages.success(request, _("The month is closed: it will never change."))
        else:
            record = commissions_compute(month=month, by=request.user)
            messages.success(request, _("Computed: %(n)s lines.") % {"n": record.lines})
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect(f"{request.path}?month={month:%Y-%m}")


LINE_HEADER = ("kind", "client_code", "credit_code", "reference", "date", "base", "value")


def _line_labels() -> list[str]:
    return [_("Kind"), _("Client"), _("Credit"), _("Reference"), _("Date"),
            _("Base (S/)"), _("Value (S/)")]  # fmt: skip


def _statement_file(statement, fmt: str) -> HttpResponse:
    code = statement_code(statement)
    name = f"comisiones-{statement.month.month:%Y-%m}-{statement.kind}-{code}"
    lines = statement_lines(statement)
    if fmt == "pdf":
        from weasyprint import HTML

        html = render_to_string(
            "commissions/statement_pdf.html",
            {
                "statement": statement,
                "code": code,
                "name": statement_name(statement),
                "lines": list(lines),
            },
        )
        response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        return response
    kinds = dict(CommissionLine.Kind.choices)
    rows = [
        [str(kinds[ln.kind]), ln.client_code, ln.credit_code, ln.reference, ln.date, ln.base,
         ln.value]
        for ln in lines.iterator()
    ]  # fmt: skip
    rows.append(["", "", "", "", "", _("Total"), statement.amount])
    return table_response(fmt, name, _line_labels(), rows)


def _statements_file(statements, month: date, fmt: str) -> HttpResponse:
    header = [_("Kind"), _("Code"), _("Name"), _("Agency"), _("Clients cured"),
              _("Amount collected (S/)"), _("Clients refinanced"), _("Office target reached"),
              _("Commission (S/)")]  # fmt: skip
    rows = [
        [s.get_kind_display(), statement_code(s), statement_name(s),
         s.agency.code if s.agency_id else "", s.clients_cured, s.amount_collected,
         s.clients_refinanced, _("yes") if s.office_target_reached else _("no"), s.amount]
        for s in statements
    ]  # fmt: skip
    return table_response(fmt, f"comisiones-{month:%Y-%m}", header, rows)


@login_required
def targets_page(request: HttpRequest) -> HttpResponse:
    """Metas por oficina: the gerente uploads a CSV (agency_code, month, amount)."""
    if role_of(request.user) not in MANAGER_ROLES:
        raise Http404(_("no such page"))
    month = _month(request)
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise InvalidInput(_("choose a CSV file"), "file")
            text = upload.read().decode("utf-8-sig")
            loaded = office_targets_load(text=text, by=request.user)
            messages.success(
                request,
                _("Targets loaded: %(c)s new, %(u)s changed.")
                % {"c": loaded.created, "u": loaded.updated},
            )
        except UnicodeDecodeError:
            messages.error(request, _("the file must be UTF-8 text"))
        except DomainError as exc:
            messages.error(request, str(exc))
        return redirect(f"{request.path}?month={month:%Y-%m}")
    targets = OfficeTarget.objects.filter(month=month).select_related("agency", "loaded_by")
    return render(
        request,
        "commissions/targets.html",
        {
            "month": month,
            "targets": targets.order_by("agency__code"),
            "previous": _previous(month),
            "following": next_month(month),
        },
    )
