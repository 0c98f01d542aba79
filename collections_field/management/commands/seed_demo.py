"""A realistic demo on the configured database: organisation, default strategy,
a generated portfolio for today's business date, and one login per role."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from portfolio.generator import generate_portfolio
from portfolio.models import (
    Agency,
    ExternalAgency,
    Officer,
    Role,
    SnapshotImport,
    StaffMember,
)
from portfolio.selectors import is_collection_day
from portfolio.services import organisation_load, snapshot_import, staff_member_set_role
from strategy.services import strategy_load_default

DEMO_PASSWORD = "semaforo-demo"


class Command(BaseCommand):
    help = "Load a demo portfolio (a few thousand credits) and print one login per role."

    def add_arguments(self, parser):
        parser.add_argument("--credits", type=int, default=4000)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, credits: int, seed: int, **options):
        # The demo's business date: today, or on a weekend or holiday the last day
        # with field work, so the officers' lists are not empty.
        today = timezone.localdate()
        while not is_collection_day(today):
            today -= timedelta(days=1)
        workdir = Path(settings.VAR_DIR) / "demo"
        workdir.mkdir(parents=True, exist_ok=True)
        snapshot = workdir / f"snapshot-{today:%Y%m%d}.csv"
        org = workdir / "organisation.yaml"
        generated = generate_portfolio(
            credits=credits, seed=seed, out=snapshot, org_out=org, business_date=today
        )
        self.stdout.write(f"generated {generated}")
        organisation_load(document=org.read_text(encoding="utf-8"))
        published = strategy_load_default()
        self.stdout.write(f"strategy: v{published.version.number} {published.version.name}")
        if not SnapshotImport.objects.filter(business_date__gt=today).exists():
            result = snapshot_import(source=snapshot, business_date=today, file_name=snapshot.name)
            self.stdout.write(
                f"snapshot {today}: {result.rows} credits"
                + (" (already loaded)" if result.unchanged else "")
            )
        self._run_cycle(today)
        # msgs: the shipped Spanish templates and the day's letters (by command name:
        # collections_field does not import notifications).
        from django.core.management import call_command

        call_command("load_templates", "--default", stdout=self.stdout)
        call_command("build_letters", "--date", today.isoformat(), stdout=self.stdout)
        logins = self._demo_logins()
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Semáforo demo — http://127.0.0.1:8000/"))
        width = max(len(role) for role, _username in logins)
        for role, username in logins:
            self.stdout.write(f"  {role:<{width}}  {username:<14} password: {DEMO_PASSWORD}")

    def _run_cycle(self, day) -> None:
        try:
            from collections_field.services import cycle_run
        except ImportError:  # the engine arrives with its own issue
            return
        run = cycle_run(business_date=day)
        self.stdout.write(f"daily cycle {day}: {run}")

    @transaction.atomic
    def _demo_logins(self) -> list[tuple[str, str]]:
        """Give a password to one person per role, picked from the loaded organisation."""
        officer = (
            Officer.objects.filter(external_agency__isnull=True, user__isnull=False)
            .order_by("code")
            .first()
        )
        agency: Agency = officer.agency
        chosen = [(Role.ASESOR, officer.user)]
        for role, scope in (
            (Role.JEFE_AGENCIA, {"agency": agency}),
            (Role.JEFE_ZONAL, {"zone": agency.zone}),
            (Role.GERENTE, {}),
        ):
            member = StaffMember.objects.filter(role=role, **scope).order_by("user__username")
            member = member.first()
            if member is not None:
                chosen.append((role, member.user))
        external = ExternalAgency.objects.order_by("code").first()
        if external is not None:
            user, _created = get_user_model().objects.get_or_create(username="externo")
            staff_member_set_role(user=user, role=Role.AGENCIA_EXTERNA, external_agency=external)
            chosen.append((Role.AGENCIA_EXTERNA, user))
        for _role, user in chosen:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return [(str(Role(role).label), user.username) for role, user in chosen]
