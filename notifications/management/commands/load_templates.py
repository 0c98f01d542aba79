from django.core.management.base import BaseCommand, CommandError

from notifications.templating import TemplateRefused, templates_load_default


class Command(BaseCommand):
    help = (
        "Write the shipped Spanish message and letter templates for the default "
        "strategy's names; a template already written (and maybe edited) is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--default", action="store_true", required=True)

    def handle(self, *args, **options):
        try:
            created = templates_load_default()
        except TemplateRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"templates: {created} written")
