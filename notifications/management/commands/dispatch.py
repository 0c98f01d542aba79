from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notifications.services import LiveClock, dispatch
from portfolio.exceptions import DomainError

LIMA = "America/Lima"


def instant(value: str) -> datetime:
    """ISO 8601; without an offset it is Lima time."""
    moment = datetime.fromisoformat(value)
    if timezone.is_naive(moment):
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo(LIMA))
    return moment


class Command(BaseCommand):
    help = (
        "Send every queued automatic message that is due and allowed at an instant "
        "(default now) through the configured gateways; the same instant twice sends "
        "nothing more."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--at", type=instant, default=None, help="YYYY-MM-DDTHH:MM[:SS][±HH:MM] (Lima)"
        )

    def handle(self, *args, at: datetime | None, **options):
        # Without --at it is a live run: the clock moves on while it sends.
        clock = None if at else LiveClock()
        moment = at or clock.at
        try:
            result = dispatch(at=moment, clock=clock)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        figures = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
        self.stdout.write(f"dispatch {moment.isoformat()}: {figures or 'nothing due'}")
