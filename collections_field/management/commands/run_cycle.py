from datetime import date

from django.core.management.base import BaseCommand, CommandError

from collections_field.exceptions import CycleError
from collections_field.services import cycle_run
from portfolio.exceptions import DomainError


class Command(BaseCommand):
    help = "Run the daily cycle (events, transitions, assignment, selection) for a business date."

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument(
            "--distributed",
            action="store_true",
            help="fan each step out to the running Celery workers and wait for them",
        )

    def handle(self, *args, date: date, distributed: bool, **options):
        def progress(step: str, counts: dict, seconds: float) -> None:
            figures = ", ".join(f"{k} {v}" for k, v in counts.items())
            self.stdout.write(f"  {step:<12} {seconds:6.1f} s  {figures}")

        self.stdout.write(f"cycle {date}" + (" (distributed)" if distributed else ""))
        try:
            run = cycle_run(business_date=date, distributed=distributed, progress=progress)
        except (CycleError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"cycle {date}: {run.status}")
