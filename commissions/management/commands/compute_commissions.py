from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from commissions.statements.services import commissions_close, commissions_compute, parse_month
from portfolio.exceptions import DomainError


class Command(BaseCommand):
    help = "Compute (or recompute) a month's commissions; --close closes it for good."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--close", action="store_true", help="close the month afterwards")
        parser.add_argument(
            "--user", default="", help="the gerente closing it (needed with --close)"
        )

    def handle(self, *args, month: str, close: bool, user: str, **options):
        try:
            first = parse_month(month)
            if close:
                person = get_user_model().objects.filter(username=user).first()
                if person is None:
                    raise CommandError("--close needs --user NAME, a gerente")
                record = commissions_close(month=first, by=person)
            else:
                record = commissions_compute(month=first)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{first:%Y-%m}: {record.status}, {record.lines} lines")
