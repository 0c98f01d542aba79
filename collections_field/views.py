import uuid
from datetime import date, datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collections_field.exceptions import DomainError, NotFound
from collections_field.forms import OverrideForm, ResultForm
from collections_field.selectors import (
    case_detail,
    case_timeline,
    client_search,
    current_business_date,
    override_choices,
    result_codes_for,
)
from collections_field.services import OVERRIDE_ROLES, case_override, result_register_for
from portfolio.models import Role
from portfolio.selectors import role_of

FIELD_ROLES = (Role.ASESOR, Role.AGENCIA_EXTERNA, Role.JEFE_AGENCIA, Role.GERENTE)


@login_required
def case_page(request: HttpRequest, client_code: str) -> HttpResponse:
    """The client page: credits, the case, the history of suggested versus done,
    and the forms its reader may use (register a result; move the case by hand)."""
    try:
        detail = case_detail(user=request.user, client_code=client_code)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    role = role_of(request.user)
    sent = None
    if request.method == "POST":
        sent = "override" if "to_code" in request.POST else "result"
    result_form = override_form = None
    if role in FIELD_ROLES:
        result_form = ResultForm(
            request.POST if sent == "result" else None,
            initial={"uuid": uuid.uuid4()},
            result_codes=result_codes_for(user=request.user, client_code=client_code),
        )
    if role in OVERRIDE_ROLES:
        override_form = OverrideForm(
            request.POST if sent == "override" else None,
            codes=override_choices(user=request.user, client_code=client_code),
        )
    if request.method == "POST":
        form = result_form if sent == "result" else override_form
        if form is not None and form.is_valid():
            try:
                if form is result_form:
                    _register(request, client_code, form.cleaned_data)
                    messages.success(request, _("Result registered."))
                else:
                    case_override(user=request.user, client_code=client_code, **form.cleaned_data)
                    messages.success(request, _("The case was moved; the move is in its history."))
            except DomainError as exc:
                form.add_error(getattr(exc, "field", None), str(exc))
            else:
                return redirect(request.path)
    return render(
        request,
        "collections_field/case.html",
        {
            "case": detail,
            "timeline": case_timeline(detail),
            "result_form": result_form,
            "form": override_form,
            "links": _case_links(request, detail),
        },
    )


def _case_links(request: HttpRequest, detail: dict) -> list[dict]:
    """Links other apps offer on the client page (`SEMAFORO["CASE_PAGE_LINKS"]`: each a
    `hook(*, request, case)` returning `{"label", "url", "note"}` dicts), so this app
    links to the money rules without importing them."""
    links: list[dict] = []
    for path in settings.SEMAFORO.get("CASE_PAGE_LINKS", ()):
        links.extend(import_string(path)(request=request, case=detail))
    return links


def _dashboard_panels(request: HttpRequest, board) -> list[dict]:
    """Panels other apps draw on the dashboards (`SEMAFORO["DASHBOARD_PANELS"]`: each a
    `hook(*, request, board)` returning `{"template", "context"}` or None), given the
    board whose unit and date were already resolved within the reader's scope; so
    the dashboard shows the automatic messages' productivity without importing them."""
    panels = []
    for path in settings.SEMAFORO.get("DASHBOARD_PANELS", ()):
        panel = import_string(path)(request=request, board=board)
        if panel:
            panels.append(panel)
    return panels


def _register(request: HttpRequest, client_code: str, data: dict) -> None:
    # The officer's own clock: the moment the form was sent (the server's, in Lima).
    occurred_at: datetime = timezone.now()
    result_register_for(
        user=request.user,
        uuid=data["uuid"],
        client_code=client_code,
        result_code=data["result_code"],
        occurred_at=occurred_at,
        channel=data["channel"],
        promise_date=data.get("promise_date"),
        promise_amount=data.get("promise_amount"),
        notes=data.get("notes") or "",
        lat=data.get("lat"),
        lon=data.get("lon"),
        address_kind=data.get("address_kind") or "",
        new_phone=data.get("new_phone") or "",
        new_address=data.get("new_address") or "",
    )


@login_required
def search_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    return render(
        request,
        "collections_field/search.html",
        {"query": query, "found": client_search(user=request.user, query=query)},
    )


@login_required
def worklist_page(request: HttpRequest) -> HttpResponse:
    """The officer's day (hoja de ruta): the list in order with its lights, and the
    stops on a map. An asesor sees its own; a jefe picks one of its officers."""
    from collections_field.selectors import worklist_for
    from portfolio.selectors import officers_visible_to

    officers = list(officers_visible_to(request.user).order_by("code"))
    own = [o for o in officers if o.user_id == request.user.pk]
    code = request.GET.get("officer") or (own[0].code if own else "")
    try:
        day = date.fromisoformat(request.GET["date"]) if request.GET.get("date") else None
    except ValueError:
        day = None
    # Default: the business date of the last finished night (today, once it has run).
    day = day or current_business_date() or timezone.localdate()
    rows = []
    if code:
        try:
            rows = worklist_for(user=request.user, officer_code=code, business_date=day)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
    stops = [
        {"n": r.position, "code": r.client_code, "name": r.client_name, "lat": r.lat,
         "lon": r.lon, "light": r.light}
        for r in rows
        if r.lat is not None and r.lon is not None
    ]  # fmt: skip
    return render(
        request,
        "collections_field/worklist.html",
        {
            "rows": rows,
            "stops": stops,
            "day": day,
            "officer_code": code,
            "officers": officers if not own else [],
            "map_tiles": settings.SEMAFORO["MAP_TILES_URL"],
        },
    )


INBOX_ROWS = 100  # the oldest first; the API pages through all of them


@login_required
def escalation_page(request: HttpRequest) -> HttpResponse:
    """Bandeja de escalamiento: the red actions of the reader's subtree at a level
    (its own by default), with comment, reassignment and "handled" for superiors."""
    from collections_field.engine.escalation import ROLE_LEVEL, SUPERIOR_ROLES
    from collections_field.forms import EscalationForm
    from collections_field.selectors import escalation_row, escalations_for, light_summary_for
    from collections_field.services import (
        escalation_comment,
        escalation_handle,
        escalation_reassign,
    )
    from portfolio.selectors import officers_visible_to

    role = role_of(request.user)
    if role is None or role == Role.SERVICIO:
        raise Http404(_("no escalation inbox for this user"))
    can_act = role in SUPERIOR_ROLES
    if request.method == "POST":
        form = EscalationForm(request.POST)
        if not can_act:
            raise Http404(_("no escalation inbox for this user"))
        if form.is_valid():
            data = form.cleaned_data
            try:
                who = {"user": request.user, "action_id": data["action"], "text": data["text"]}
                if data["op"] == "comment":
                    escalation_comment(**who)
                    messages.success(request, _("Comment saved."))
                elif data["op"] == "reassign":
                    escalation_reassign(**who, officer_code=data["officer_code"])
                    messages.success(request, _("The case was reassigned."))
                else:
                    escalation_handle(**who)
                    messages.success(request, _("Marked as handled."))
            except NotFound as exc:
                raise Http404(str(exc)) from exc
            except DomainError as exc:
                messages.error(request, str(exc))
        else:
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
        return redirect(request.get_full_path())

    raw_level = request.GET.get("level", "")
    if raw_level == "all":
        level = None
    elif raw_level.isdigit():
        level = int(raw_level)
    else:
        level = ROLE_LEVEL.get(role)
    try:
        day = date.fromisoformat(request.GET["date"]) if request.GET.get("date") else None
    except ValueError:
        day = None
    day, levels, actions = escalations_for(user=request.user, business_date=day, level=level)
    rows = [escalation_row(a, day=day, levels=levels) for a in actions[:INBOX_ROWS]]
    officers: dict[int, list] = {}
    if can_act and rows:
        agency_ids = {r["agency_id"] for r in rows}
        for officer in officers_visible_to(request.user).filter(agency_id__in=agency_ids):
            officers.setdefault(officer.agency_id, []).append(officer)
    for r in rows:
        r["officers"] = sorted(officers.get(r["agency_id"], []), key=lambda o: o.code)
    return render(
        request,
        "collections_field/escalations.html",
        {
            "rows": rows,
            "day": day,
            "level": level,
            "levels": [lv for lv, _after in levels],
            "can_act": can_act,
            "summary": light_summary_for(user=request.user, business_date=day),
            "shown_max": INBOX_ROWS,
        },
    )


# --- Dashboards (jefe de agencia, jefe zonal, gerente) ------------------------------

TABLE_COLUMNS = (
    "green", "amber", "red_pending", "red_late", "cases_open", "overdue_amount",
    "promises_today", "promises_due", "promises_kept", "promises_broken", "collected",
    "payments", "visits_verified", "visits_off", "cure_base", "cured", "tramo1_base",
    "tramo1_rolled", "balance_total", "balance_delinquent",
)  # fmt: skip
RATIO_LABELS = {
    "delinquency": gettext_lazy("Delinquency ratio (%)"),
    "contention": gettext_lazy("Contention (%)"),
    "cure": gettext_lazy("Cure rate (%)"),
    "promise_kept": gettext_lazy("Promise-kept rate (%)"),
}


def day_param(request: HttpRequest) -> date | None:
    try:
        return date.fromisoformat(request.GET["date"]) if request.GET.get("date") else None
    except ValueError:
        return None


def dashboard_errors(view):
    """The domain's refusals as pages: outside one's subtree is a 404, no dashboard
    for the role a 403 (also the panels other apps draw on the dashboards)."""
    from functools import wraps

    from django.core.exceptions import PermissionDenied as Forbidden

    from collections_field.exceptions import PermissionDenied

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            raise Forbidden(str(exc)) from exc
        except NotFound as exc:
            raise Http404(str(exc)) from exc

    return wrapped


def _value(row, name: str):
    return row.lights[name] if name in row.lights else row.figures[name]


@login_required
@dashboard_errors
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """Tablero: the reader's unit (agency, zone or company), a row per child with its
    semáforo and figures, the day's visits on a map; `?format=csv|xlsx` exports it."""
    from collections_field.dashboards import FIGURE_LABELS, dashboard_charts, dashboard_for
    from collections_field.exports import table_response

    board = dashboard_for(
        user=request.user, param=request.GET.get("unit"), business_date=day_param(request)
    )
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx"):
        header = [_("Code"), _("Name")] + [str(FIGURE_LABELS[c]) for c in TABLE_COLUMNS]
        header += [str(label) for label in RATIO_LABELS.values()]
        lines = [
            [r.unit.code, r.unit.name]
            + [_value(r, c) for c in TABLE_COLUMNS]
            + [r.ratios[k] for k in RATIO_LABELS]
            for r in [*board.rows, board.total]
        ]
        day = board.business_date.isoformat() if board.business_date else "sin-fecha"
        name = f"tablero-{board.unit.param.replace(':', '-')}-{day}"
        return table_response(fmt, name, header, lines)
    query = f"unit={board.unit.param}"
    if board.business_date:
        query += f"&date={board.business_date.isoformat()}"
    return render(
        request,
        "collections_field/dashboard.html",
        {
            "board": board,
            "charts": dashboard_charts(board),
            "query": query,
            "ratio_labels": RATIO_LABELS,
            "map_tiles": settings.SEMAFORO["MAP_TILES_URL"],
            "visits_ok": sum(1 for v in board.visits if v["ok"]),
            "panels": _dashboard_panels(request, board),
        },
    )


@login_required
@dashboard_errors
def dashboard_cases_page(request: HttpRequest) -> HttpResponse:
    """The cases behind one figure of a dashboard (drill-down); exports all of them."""
    from collections_field.dashboards import (
        CASE_ROWS,
        EXPORT_ROWS,
        FIGURE_LABELS,
        STATE_FIGURES,
        case_row,
        dashboard_cases,
        dashboard_date,
    )
    from collections_field.exports import table_response

    figure = request.GET.get("figure", "")
    team = request.GET.get("team") or None
    unit, day, cases = dashboard_cases(
        user=request.user,
        param=request.GET.get("unit"),
        figure=figure,
        business_date=day_param(request),
        team=team,
    )
    fmt = request.GET.get("format")
    columns = (
        ("client_code", _("Client")), ("client_name", _("Name")), ("agency", _("Agency")),
        ("officer", _("Officer")), ("external_agency", _("External agency")),
        ("action_code", _("Suggested action")),
        ("tramo", _("Tramo")), ("status", _("Status")), ("days_past_due", _("Days past due")),
        ("overdue_amount", _("Overdue amount (S/)")), ("promise_date", _("Promise date")),
    )  # fmt: skip
    if fmt in ("csv", "xlsx"):
        rows = (case_row(c, day) for c in cases[:EXPORT_ROWS])
        name = f"casos-{figure}-{unit.param.replace(':', '-')}-{day or 'sin-fecha'}"
        return table_response(
            fmt, name, [h for _k, h in columns], ([r[k] for k, _h in columns] for r in rows)
        )
    rows = [case_row(c, day) for c in cases[: CASE_ROWS + 1]]
    query = f"unit={unit.param}&figure={figure}"
    if team:
        query += f"&team={team}"
    if day:
        query += f"&date={day.isoformat()}"
    return render(
        request,
        "collections_field/dashboard_cases.html",
        {
            "unit": unit,
            "day": day,
            "figure": figure,
            "label": FIGURE_LABELS[figure],
            "team": team,
            "rows": rows[:CASE_ROWS],
            "more": len(rows) > CASE_ROWS,
            "shown_max": CASE_ROWS,
            "query": query,
            "as_of_now": figure in STATE_FIGURES and day is not None and day != dashboard_date(),
        },
    )
