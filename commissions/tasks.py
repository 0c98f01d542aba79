"""Thin Celery tasks over the commission services."""

from celery import shared_task

from commissions.statements.services import commissions_compute, parse_month


@shared_task(acks_late=True)
def compute_commissions_task(month: str) -> int:
    """Recompute an open month (e.g. after the night); returns its lines."""
    return commissions_compute(month=parse_month(month)).lines
