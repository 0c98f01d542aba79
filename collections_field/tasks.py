"""Thin Celery tasks: they take dates and ids and call the engine's services."""

from datetime import date

from celery import shared_task
from django.utils import timezone

from collections_field.engine.cycle import cycle_context, cycle_run, cycle_step_run
from collections_field.engine.events import Scope
from collections_field.models import CycleRun
from portfolio.models import SnapshotImport


@shared_task(acks_late=True)
def run_cycle_task(business_date: str) -> dict:
    run = cycle_run(business_date=date.fromisoformat(business_date))
    return {"business_date": business_date, "status": run.status}


@shared_task(acks_late=True)
def cycle_chunk_task(
    business_date: str, step: str, position: int, agency_ids: list[int], chunk: int
) -> dict:
    run = CycleRun.objects.get(business_date=date.fromisoformat(business_date))
    return cycle_step_run(
        run=run,
        ctx=cycle_context(run),
        name=step,
        position=position,
        scope=Scope(agency_ids=tuple(agency_ids)),
        ledger_name=f"{step}#{chunk}",
    )


@shared_task(bind=True, acks_late=True, max_retries=48, default_retry_delay=900)
def nightly_cycle_task(self) -> dict:
    """Beat's nightly entry: today's cycle once core banking has sent today's snapshot."""
    today = timezone.localdate()
    if not SnapshotImport.objects.filter(business_date=today).exists():
        raise self.retry()
    return run_cycle_task(today.isoformat())


@shared_task(acks_late=True)
def send_escalation_digest_task(business_date: str | None = None) -> dict:
    """The morning digest (beat): the last finished cycle's date unless given."""
    from collections_field.selectors import current_business_date
    from collections_field.services import escalation_digest_send

    day = date.fromisoformat(business_date) if business_date else current_business_date()
    if day is None:
        return {"business_date": None, "sent": 0}
    return {"business_date": day.isoformat(), "sent": escalation_digest_send(business_date=day)}
