from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from portfolio import selectors
from portfolio.models import Role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """An officer starts the day on its list; the others on their summary."""
    if selectors.role_of(request.user) in (Role.ASESOR, Role.AGENCIA_EXTERNA):
        return redirect("worklist")
    return render(request, "home.html", {"summary": selectors.portfolio_summary(user=request.user)})
