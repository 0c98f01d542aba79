from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portfolio.exceptions import SnapshotError
from portfolio.services import snapshot_import


class Command(BaseCommand):
    help = "Import the core-banking snapshot of a business date (DOMAIN.md 7.1)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--date", required=True, type=date.fromisoformat, help="YYYY-MM-DD")

    def handle(self, *args, file: Path, date: date, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            result = snapshot_import(source=file, business_date=date, file_name=file.name)
        except SnapshotError as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{file.name}: {len(exc.errors)} error(s); nothing was loaded"
            ) from exc
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if result.unchanged:
            self.stdout.write(f"{date}: this file was already imported; nothing changed")
            return
        self.stdout.write(
            f"{date}: {result.rows} rows, {result.credits_new} new credits, "
            f"{result.clients_new} new clients, {result.credits_left} credits left the "
            f"portfolio ({result.seconds:.1f} s)"
        )
