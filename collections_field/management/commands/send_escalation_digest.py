"""`send_escalation_digest --date D`: the day's e-mail to each superior (once per date)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from collections_field.selectors import current_business_date
from collections_field.services import escalation_digest_send


class Command(BaseCommand):
    help = "E-mail each superior the red actions waiting at its level (idempotent per date)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="business date (default: the last finished cycle's)")

    def handle(self, *args, **options):
        try:
            day = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError("--date must be YYYY-MM-DD") from exc
        day = day or current_business_date()
        if day is None:
            raise CommandError("no cycle has finished yet: give --date")
        sent = escalation_digest_send(business_date=day)
        self.stdout.write(f"{day.isoformat()}: {sent} digest(s) sent")
