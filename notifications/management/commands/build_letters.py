from datetime import date

from django.core.management.base import BaseCommand, CommandError

from notifications.letters import letters_build
from portfolio.exceptions import DomainError


class Command(BaseCommand):
    help = (
        "Build the printed letters of a business date: one merged PDF per agency "
        "(delete-then-recreate, so a re-run is safe). Nothing on a day without visits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
        parser.add_argument("--agency", action="append", help="only this agency (repeatable)")

    def handle(self, *args, date: date, agency: list[str] | None, **options):
        try:
            results = letters_build(business_date=date, agency_codes=agency)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        if not results:
            self.stdout.write(f"letters {date}: nothing to print")
        for result in results:
            self.stdout.write(f"letters {result}")
