"""Thin Celery tasks over the commission services."""

from celery import shared_task

from collections_field.selectors import current_business_date
from commissions.models import CommissionMonth
from commissions.statements.services import commissions_compute, parse_month


@shared_task(acks_late=True)
def compute_commissions_task(month: str | None = None) -> int:
    """Recompute an open month (default: the last finished night's), so the pages
    show this morning's figures; a closed month is left as it is. Returns its lines."""
    if month:
        first = parse_month(month)
    else:
        day = current_business_date()
        if day is None:
            return 0
        first = day.replace(day=1)
    if CommissionMonth.objects.filter(month=first, status=CommissionMonth.Status.CLOSED).exists():
        return 0
    return commissions_compute(month=first).lines
