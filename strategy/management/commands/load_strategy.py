"""`load_strategy FILE | --default`: validate and publish a strategy file (DOMAIN.md 7.3)."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from strategy.exceptions import StrategyValidationError
from strategy.services import strategy_load_default, strategy_publish


class Command(BaseCommand):
    help = "Validate a strategy file and publish it as the new active version."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("file", nargs="?", help="strategy YAML file")
        source.add_argument(
            "--default", action="store_true", help="publish the shipped thesis strategy"
        )
        parser.add_argument("--user", help="username recorded as the publisher")

    def handle(self, *args, file=None, default=False, user=None, **options):
        published_by = None
        if user:
            published_by = get_user_model().objects.filter(username=user).first()
            if published_by is None:
                raise CommandError(_("no user {user}").format(user=user))
        try:
            if default:
                result = strategy_load_default(published_by=published_by)
            else:
                path = Path(file)
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise CommandError(
                        _("cannot read {file}: {exc}").format(file=file, exc=exc)
                    ) from exc
                result = strategy_publish(
                    document=text, published_by=published_by, source_name=path.name
                )
        except StrategyValidationError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(
                _("{n} error(s); nothing was published").format(n=len(exc.errors))
            ) from exc

        version = result.version
        if result.created:
            self.stdout.write(
                _("Published strategy version {number}: {name}").format(
                    number=version.number, name=version.name
                )
            )
        else:
            self.stdout.write(
                _("Unchanged: version {number} ({name}) is already active").format(
                    number=version.number, name=version.name
                )
            )
        for section, count in result.counts.items():
            self.stdout.write(f"  {section}: {count}")
        for warning in result.warnings:
            self.stdout.write(_("warning: {warning}").format(warning=warning))
