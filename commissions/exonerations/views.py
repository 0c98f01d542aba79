"""Exoneration pages: the requests in one's scope, the jefe's pending ones to decide,
and the request form (phone first)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from commissions.exonerations.forms import DecisionForm, ExonerationForm
from commissions.exonerations.selectors import (
    exonerations_list,
    exonerations_to_decide,
    waiver_base,
)
from commissions.exonerations.services import (
    REQUESTER_ROLES,
    exoneration_approve,
    exoneration_reject,
    exoneration_request,
)
from portfolio.exceptions import DomainError, NotFound
from portfolio.selectors import role_of

LIST_ROWS = 100


@login_required
def exonerations_page(request: HttpRequest) -> HttpResponse:
    role = role_of(request.user)
    if role not in REQUESTER_ROLES:
        raise Http404(_("no exonerations for this user"))
    if request.method == "POST":
        form = DecisionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["op"] == "approve":
                    exoneration_approve(user=request.user, exoneration_id=data["exoneration"],
                                        note=data["note"])  # fmt: skip
                    messages.success(request, _("Exoneration approved."))
                else:
                    exoneration_reject(user=request.user, exoneration_id=data["exoneration"],
                                       note=data["note"])  # fmt: skip
                    messages.success(request, _("Exoneration rejected."))
            except NotFound as exc:
                raise Http404(str(exc)) from exc
            except DomainError as exc:
                messages.error(request, str(exc))
        return redirect(request.get_full_path())
    to_decide = list(exonerations_to_decide(user=request.user)[:LIST_ROWS])
    decided_ids = {e.pk for e in to_decide}
    recent = [
        e for e in exonerations_list(user=request.user)[:LIST_ROWS] if e.pk not in decided_ids
    ]
    return render(
        request,
        "commissions/exonerations.html",
        {"to_decide": to_decide, "recent": recent, "shown_max": LIST_ROWS},
    )


@login_required
def exoneration_new_page(request: HttpRequest) -> HttpResponse:
    if role_of(request.user) not in REQUESTER_ROLES:
        raise Http404(_("no exonerations for this user"))
    initial = {"client_code": request.GET.get("client", ""),
               "credit_code": request.GET.get("credit", "")}  # fmt: skip
    form = ExonerationForm(request.POST or None, initial=initial)
    base = None
    client_code = request.POST.get("client_code") or initial["client_code"]
    credit_code = request.POST.get("credit_code") or initial["credit_code"]
    if client_code and credit_code:
        try:
            base = waiver_base(user=request.user, client_code=client_code, credit_code=credit_code)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        except DomainError as exc:
            if request.method != "POST":
                messages.error(request, str(exc))
    if request.method == "POST" and form.is_valid():
        try:
            exoneration = exoneration_request(user=request.user, **form.fractions())
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        except DomainError as exc:
            form.add_error(getattr(exc, "field", None) and _form_field(exc.field), str(exc))
        else:
            if exoneration.status == exoneration.Status.APPROVED:
                messages.success(request, _("Approved at once: it is within your limit."))
            else:
                messages.success(request, _("Sent: it waits for the %(role)s.")
                                 % {"role": exoneration.get_required_role_display()})  # fmt: skip
            return redirect("exonerations")
    return render(request, "commissions/exoneration_form.html", {"form": form, "base": base})


def _form_field(field: str) -> str | None:
    return field if field in ExonerationForm.base_fields else None
