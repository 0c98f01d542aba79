from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portfolio.exceptions import OrganisationError
from portfolio.services import organisation_load


class Command(BaseCommand):
    help = "Load or update (by code) the organisation and geography from a YAML file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from exc
        try:
            result = organisation_load(document=text)
        except OrganisationError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(f"{file}: {len(exc.errors)} error(s); nothing was loaded") from exc
        parts = [f"{k} +{v}" for k, v in sorted(result.created.items())]
        parts += [f"{k} ~{v}" for k, v in sorted(result.updated.items())]
        self.stdout.write(f"organisation loaded: {', '.join(parts) or 'no changes'}")
