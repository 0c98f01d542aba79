"""`dump_strategy [--out FILE]`: the active strategy as a strategy file (DOMAIN.md 7.2)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from strategy.exceptions import StrategyError
from strategy.selectors import strategy_version
from strategy.services import strategy_dump


class Command(BaseCommand):
    help = "Write the active (or a given) strategy version as YAML."

    def add_arguments(self, parser):
        parser.add_argument("--out", help="file to write (default: standard output)")
        parser.add_argument(
            "--version-number", type=int, help="a published version instead of the active one"
        )

    def handle(self, *args, out=None, version_number=None, **options):
        version = None
        if version_number is not None:
            version = strategy_version(number=version_number)
            if version is None:
                raise CommandError(_("no strategy version {n}").format(n=version_number))
        try:
            text = strategy_dump(version=version)
        except StrategyError as exc:
            raise CommandError(str(exc)) from exc
        if out:
            Path(out).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
