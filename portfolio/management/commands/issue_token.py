from django.core.management.base import BaseCommand, CommandError

from portfolio.exceptions import InvalidInput
from portfolio.services import token_issue


class Command(BaseCommand):
    help = "Issue an API token for user NAME (a service account NAME is created if missing)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scopes", required=True, help="comma-separated, e.g. cases:read")

    def handle(self, *args, name: str, scopes: str, **options):
        try:
            issued = token_issue(name=name, scopes=[s.strip() for s in scopes.split(",") if s])
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"token for {name} ({', '.join(issued.token.scopes)}); shown once:")
        self.stdout.write(issued.raw)
