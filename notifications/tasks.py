"""Thin Celery tasks: they take instants and ids and call the dispatch services."""

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from notifications.services import LiveClock, dispatch, message_dispatch
from notifications.settle import outbox_settle


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


@shared_task(acks_late=True)
def settle_task(at: str | None = None) -> dict:
    """The rows stuck in flight (a killed worker, a lost answer): found at the provider,
    sent again, or handed to a human (notifications/settle.py). Dispatch settles too;
    beat runs this at all hours, so nothing waits for the next morning's dispatch."""
    moment = datetime.fromisoformat(at) if at else timezone.now()
    return dict(outbox_settle(at=moment))


# --- msgs: the day's letters ------------------------------------------------------------


@shared_task(acks_late=True)
def letters_build_task(business_date: str | None = None, agency_code: str | None = None) -> list:
    """One agency's batch of a date (delete-then-recreate: delivered twice, it builds the
    same). Without an agency it fans out one task per agency with letters that day, so
    the workers render them in parallel; without a date too (beat, each weekday
    morning): today's, once the night's cycle for today is done, skipping agencies
    already built."""
    from datetime import date

    from notifications.letters import letter_agencies_due, letters_build, letters_date_due

    if agency_code is not None:
        day = date.fromisoformat(business_date)
        return [str(r) for r in letters_build(business_date=day, agency_codes=[agency_code])]
    day = date.fromisoformat(business_date) if business_date else letters_date_due()
    if day is None:
        return []
    agencies = letter_agencies_due(business_date=day, only_missing=business_date is None)
    for agency in agencies:
        letters_build_task.delay(day.isoformat(), agency.code)
    return [agency.code for agency in agencies]


# --- Productivity per channel -----------------------------------------------------------


@shared_task(acks_late=True)
def channel_figures_task(since: str | None = None, until: str | None = None) -> dict:
    """Beat's entry (every few minutes of the day): today's productivity rows (Lima),
    so the dashboards follow the day's dispatch; the night refreshes the last days
    whose replies, promises and payments may still move."""
    from datetime import date

    from notifications.productivity import channel_figures_refresh

    today = timezone.localdate()
    first = date.fromisoformat(since) if since else today
    last = date.fromisoformat(until) if until else first if since else today
    return channel_figures_refresh(since=first, until=last)
