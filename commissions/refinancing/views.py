"""The refinancing pages: the simulator (linked from the client page by a settings
hook, `case_links`), the requests inbox of the jefes and one request's page."""

from __future__ import annotations

from decimal import ROUND_CEILING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from commissions.models import RefinancingRequest
from commissions.refinancing.forms import DecisionForm, RequestForm, SimulationForm
from commissions.refinancing.pdf import schedule_pdf
from commissions.refinancing.schedule import CENT, add_months
from commissions.refinancing.selectors import (
    CreditFigures,
    Simulation,
    client_credits,
    client_requests,
    max_term_for,
    pending_requests_for,
    recent_requests_for,
    request_for,
    requests_visible_to,
    simulation_for,
)
from commissions.refinancing.services import (
    APPROVER_ROLES,
    REQUESTER_ROLES,
    refinancing_request_approve,
    refinancing_request_create,
    refinancing_request_reject,
)
from portfolio.exceptions import DomainError, NotFound
from portfolio.selectors import role_of
from strategy.schema import RefinancingProductRow
from strategy.selectors import active_strategy, refinancing_products_for

SIMULATION_FIELDS = ("credit_code", "product", "term_months", "down_payment", "first_due_date")


def case_links(*, request: HttpRequest, case: dict) -> list[dict]:
    """The client page's hook (SEMAFORO["CASE_PAGE_LINKS"]): the simulator when one of
    the client's credits qualifies for a product, and the client's requests."""
    role = role_of(request.user)
    version = active_strategy()
    products = refinancing_products_for(version) if version else []
    offered = [
        p.code
        for p in products
        if any(
            c["days_past_due"] is not None and p.qualifies(c["days_past_due"])
            for c in case["credits"]
        )
    ]
    links = []
    if offered and role in REQUESTER_ROLES:
        links.append(
            {
                "label": _("Simulate a refinancing"),
                "url": reverse("refinancing-simulator", args=[case["client_code"]]),
                "note": ", ".join(offered),
            }
        )
    pending = (
        requests_visible_to(request.user)
        .filter(client__code=case["client_code"], status=RefinancingRequest.Status.PENDING)
        .values_list("pk", flat=True)
    )
    for pk in pending[:3]:
        links.append(
            {
                "label": _("Refinancing request #{id}").format(id=pk),
                "url": reverse("refinancing-request", args=[pk]),
                "note": _("waiting for approval"),
            }
        )
    return links


def _offers(
    credits: list[CreditFigures], products: list[RefinancingProductRow]
) -> dict[str, list[RefinancingProductRow]]:
    return {
        f.credit.code: [p for p in products if p.qualifies(f.position.days_past_due)]
        for f in credits
    }


def _product_label(product: RefinancingProductRow) -> str:
    days = f"{product.min_dpd}–{product.max_dpd}" if product.max_dpd else f"{product.min_dpd}+"
    return _("{code} · {name} ({days} days late)").format(
        code=product.code, name=product.name, days=days
    )


def _initial(figures: CreditFigures, product: RefinancingProductRow) -> dict:
    """Thumb-friendly defaults: a year (or the longest allowed), the minimum down
    payment, the first due date a month after the business date."""
    minimum = figures.position.principal_balance * product.min_down_payment_pct
    return {
        "credit_code": figures.credit.code,
        "product": product.code,
        "term_months": min(12, max_term_for(product, figures.position)),
        "down_payment": minimum.quantize(CENT, rounding=ROUND_CEILING),
        "first_due_date": add_months(figures.business_date, 1),
    }


def _simulate(request: HttpRequest, data: dict) -> Simulation:
    return simulation_for(
        user=request.user,
        credit_code=data["credit_code"],
        product=data["product"],
        term_months=data["term_months"],
        down_payment=data["down_payment"],
        first_due_date=data["first_due_date"],
    )


def _add_error(form, exc: DomainError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, str(exc))


@login_required
def simulator_page(request: HttpRequest, client_code: str) -> HttpResponse:
    """Pick a product the credit qualifies for, a term, a down payment and the first due
    date; see the new principal, the waivers, the installment, the TCEA and the whole
    schedule; send the request. The simulation is a GET and writes nothing."""
    credits = client_credits(user=request.user, client_code=client_code)
    if not credits:
        raise Http404(_("client {code} not found").format(code=client_code))
    version = active_strategy()
    offers = _offers(credits, refinancing_products_for(version) if version else [])
    qualifying = [f for f in credits if offers[f.credit.code]]
    products: dict[str, tuple[str, str, list[str]]] = {}
    for figures in qualifying:
        for product in offers[figures.credit.code]:
            entry = products.setdefault(product.code, (product.code, _product_label(product), []))
            entry[2].append(figures.credit.code)
    choices = {
        "credits": [(f.credit.code, f"{f.credit.code} · {f.credit.product}") for f in qualifying],
        "products": list(products.values()),
    }
    can_request = role_of(request.user) in REQUESTER_ROLES
    simulation = None
    request_form = None
    if request.method == "POST" and can_request:
        request_form = RequestForm(request.POST, **choices)
        form = SimulationForm(request.POST, **choices)
        if request_form.is_valid():
            data = request_form.cleaned_data
            try:
                created = refinancing_request_create(
                    user=request.user, reason=data["reason"],
                    **{name: data[name] for name in SIMULATION_FIELDS},
                )  # fmt: skip
            except DomainError as exc:
                _add_error(request_form, exc)
            else:
                if created.status == RefinancingRequest.Status.APPROVED:
                    messages.success(request, _("Refinancing approved; core banking books it."))
                else:
                    messages.success(request, _("Request sent to the jefe de agencia."))
                return redirect("refinancing-request", created.pk)
        if form.is_valid():
            try:
                simulation = _simulate(request, form.cleaned_data)
            except DomainError as exc:
                _add_error(form, exc)
    else:
        data = request.GET if "credit_code" in request.GET else None
        initial = (
            _initial(qualifying[0], offers[qualifying[0].credit.code][0]) if qualifying else {}
        )
        form = SimulationForm(data, initial=initial, **choices)
        if data is not None and form.is_valid():
            try:
                simulation = _simulate(request, form.cleaned_data)
            except DomainError as exc:
                _add_error(form, exc)
            else:
                if can_request:
                    request_form = RequestForm(
                        initial={n: form.cleaned_data[n] for n in SIMULATION_FIELDS}, **choices
                    )
    return render(
        request,
        "commissions/refinancing_simulator.html",
        {
            "client_code": client_code,
            "client_name": credits[0].credit.client.name,
            "credits": credits,
            "offers": offers,
            "form": form,
            "simulation": simulation,
            "request_form": request_form,
            "pdf_query": request.GET.urlencode() if simulation and request.method == "GET" else "",
            "requests": client_requests(user=request.user, client_code=client_code),
        },
    )


@login_required
def simulation_pdf(request: HttpRequest, client_code: str) -> HttpResponse:
    """The simulated schedule (the same GET parameters) as a PDF to sign."""
    credits = client_credits(user=request.user, client_code=client_code)
    if not credits:
        raise Http404(_("client {code} not found").format(code=client_code))
    codes = [f.credit.code for f in credits]
    version = active_strategy()
    products = refinancing_products_for(version) if version else []
    form = SimulationForm(
        request.GET,
        credits=[(c, c) for c in codes],
        products=[(p.code, p.code, codes) for p in products],
    )
    if not form.is_valid():
        raise Http404(_("incomplete simulation"))
    try:
        simulation = _simulate(request, form.cleaned_data)
    except DomainError as exc:
        raise Http404(str(exc)) from exc
    client = credits[0].credit.client
    return _pdf_response(
        schedule_pdf(
            simulation=simulation, client_name=client.name, document_id=client.document_id
        ),
        f"simulacion-{simulation.credit_code}.pdf",
    )


def _pdf_response(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def requests_page(request: HttpRequest) -> HttpResponse:
    """The requests of one's scope: the pending ones first (a jefe approves or rejects
    them here), then the latest decided."""
    pending = list(pending_requests_for(user=request.user)[:100])
    return render(
        request,
        "commissions/refinancing_requests.html",
        {
            "pending": pending,
            "recent": recent_requests_for(user=request.user),
            "can_decide": role_of(request.user) in APPROVER_ROLES,
            "title": ngettext(
                "%(n)s refinancing request waiting", "%(n)s refinancing requests waiting",
                len(pending),
            ) % {"n": len(pending)},
        },
    )  # fmt: skip


@login_required
def request_page(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        found = request_for(user=request.user, request_id=request_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    can_decide = (
        role_of(request.user) in APPROVER_ROLES
        and found.status == RefinancingRequest.Status.PENDING
    )
    form = DecisionForm(request.POST or None) if can_decide else None
    if request.method == "POST" and form is not None and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        decide = refinancing_request_approve if approve else refinancing_request_reject
        try:
            decide(user=request.user, request_id=found.pk, note=form.cleaned_data["note"])
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(
                request,
                _("Request approved: the case moves with the next cycle.")
                if approve
                else _("Request rejected."),
            )
            return redirect("refinancing-request", found.pk)
    return render(
        request,
        "commissions/refinancing_request.html",
        {
            "req": found,
            "simulation": Simulation.from_data(found.simulation),
            "form": form,
            "history": found.history.select_related("history_user").order_by("history_date"),
        },
    )


@login_required
def request_pdf(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        found = request_for(user=request.user, request_id=request_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    content = schedule_pdf(
        simulation=Simulation.from_data(found.simulation),
        client_name=found.client.name,
        document_id=found.client.document_id,
        request_id=found.pk,
        status=found.get_status_display(),
    )
    return _pdf_response(content, f"refinanciamiento-{found.pk}.pdf")
