from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from portfolio import selectors
from portfolio.models import Role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """An officer starts the day on its list, a jefe or the gerente on its dashboard;
    anyone else on the portfolio summary."""
    role = selectors.role_of(request.user)
    if role in (Role.ASESOR, Role.AGENCIA_EXTERNA):
        return redirect("worklist")
    if role in (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE):
        return redirect("dashboard")  # the jefes and the gerente start on their tablero
    return render(request, "home.html", {"summary": selectors.portfolio_summary(user=request.user)})
