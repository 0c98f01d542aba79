from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from commissions.statements.services import office_targets_load
from portfolio.exceptions import DomainError


class Command(BaseCommand):
    help = "Load the agencies' monthly targets from a CSV: agency_code,month,amount."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file: str, **options):
        try:
            loaded = office_targets_load(text=Path(file).read_text(encoding="utf-8-sig"))
        except (OSError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{loaded.created} new, {loaded.updated} changed")
