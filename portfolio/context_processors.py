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
        # The jefes approve refinancing requests (commissions' pages).
        "nav_can_refinancing": role in (Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE),
        # msgs: the day's letters (who prints or hands them over); templates (gerente).
        "nav_can_letters": role is not None and role != Role.SERVICIO,
        "nav_can_templates": role == Role.GERENTE,
        # Money rules (commissions app): exonerations and commissions, for every person.
        "nav_can_money": role is not None and role != Role.SERVICIO,
    }
