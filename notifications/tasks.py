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


# --- msgs: the day's letters ------------------------------------------------------------


@shared_task(acks_late=True)
def letters_build_task(business_date: str | None = None, agency_code: str | None = None) -> list:
    """Without a date (beat, each weekday morning): today's batches once the night's
    cycle for today is done, skipping agencies already built. With one: that date's
    batches built again (delete-then-recreate). Delivered twice, it builds the same."""
    from datetime import date

    from notifications.letters import letters_build, letters_build_due

    if business_date is None:
        results = letters_build_due()
        return [] if results is None else [str(r) for r in results]
    results = letters_build(
        business_date=date.fromisoformat(business_date),
        agency_codes=[agency_code] if agency_code else None,
    )
    return [str(r) for r in results]
