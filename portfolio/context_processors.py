"""What the top bar may offer the signed-in person (decided here, not in templates)."""

from portfolio.models import Role
from portfolio.selectors import role_of


def navigation(request) -> dict:
    role = role_of(request.user) if hasattr(request, "user") else None
    return {
        "nav_can_audit": role == Role.GERENTE,
        "nav_can_strategy": role == Role.GERENTE,  # the strategy editor
        "nav_can_escalations": role in (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE),
        "nav_can_dashboard": role in (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE),
    }
