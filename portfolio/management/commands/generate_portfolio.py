import argparse
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portfolio.generator import default_org_path, generate_portfolio


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Write a realistic synthetic core-banking snapshot (DOMAIN.md 7.1) and the "
        "organisation file (7.5) it needs; the same seed and date give the same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--credits", type=int, required=True, help="number of credits")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--out", type=Path, required=True, help="the snapshot CSV to write")
        parser.add_argument(
            "--org-out",
            type=Path,
            help="the organisation YAML to write (default: next to --out, FILE.organisation.yaml)",
        )
        parser.add_argument(
            "--date",
            type=_iso_date,
            help="business date the snapshot is for, YYYY-MM-DD (default: today in Lima)",
        )

    def handle(self, *args, credits: int, seed: int, out: Path, org_out, date, **options):
        if credits < 1:
            raise CommandError("--credits must be at least 1")
        org_out = org_out or default_org_path(out)
        if org_out.resolve() == out.resolve():
            raise CommandError("--org-out must differ from --out")
        business_date = date or timezone.localdate()
        try:
            result = generate_portfolio(
                credits=credits, seed=seed, out=out, org_out=org_out, business_date=business_date
            )
        except OSError as exc:
            raise CommandError(f"{exc.filename or out}: {exc.strerror or exc}") from exc
        self.stdout.write(
            f"wrote {result.out}: {result.credits:,} credits of {result.clients:,} clients, "
            f"{result.csv_bytes / 1e6:,.1f} MB (business date {result.business_date}, "
            f"seed {seed})"
        )
        self.stdout.write(
            f"wrote {result.org_out}: {result.zones} zones, {result.agencies} agencies, "
            f"{result.subzones} subzones, {result.quadrants:,} quadrants, "
            f"{result.officers:,} officers, {result.external_agencies} external agencies, "
            f"{result.people} people"
        )
        self.stdout.write(f"done in {result.seconds:.1f} s")
