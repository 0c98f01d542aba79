"""Thin Celery tasks: they take instants and ids and call the dispatch services."""

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from notifications.services import LiveClock, dispatch, message_dispatch


@shared_task(acks_late=True)
def dispatch_task(at: str | None = None) -> dict:
    """Beat's entry (every few minutes): everything due and allowed at that instant."""
    if at:
        result = dispatch(at=datetime.fromisoformat(at))
    else:
        clock = LiveClock()
        result = dispatch(at=clock.at, clock=clock)
    return {"at": result.at.isoformat(), **result.counts}


@shared_task(acks_late=True)
def message_send_task(message_id: int, at: str | None = None) -> str:
    """One message; delivered twice (acks_late, a redelivery), it is sent once."""
    moment = datetime.fromisoformat(at) if at else timezone.now()
    return message_dispatch(message_id=message_id, at=moment)
