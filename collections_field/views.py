from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from collections_field.exceptions import DomainError, NotFound
from collections_field.forms import OverrideForm
from collections_field.selectors import case_detail, override_choices
from collections_field.services import OVERRIDE_ROLES, case_override
from portfolio.selectors import role_of


@login_required
def case_page(request: HttpRequest, client_code: str) -> HttpResponse:
    try:
        detail = case_detail(user=request.user, client_code=client_code)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    form = None
    if role_of(request.user) in OVERRIDE_ROLES:
        form = OverrideForm(
            request.POST or None,
            codes=override_choices(user=request.user, client_code=client_code),
        )
        if request.method == "POST" and form.is_valid():
            try:
                case_override(user=request.user, client_code=client_code, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The case was moved; the move is in its history."))
                return redirect("case", client_code=client_code)
    return render(request, "collections_field/case.html", {"case": detail, "form": form})
