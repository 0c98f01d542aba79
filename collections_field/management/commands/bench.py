"""`make bench`: the night on a synthetic portfolio, timed against the raw COPY floor.

Not a test: it prints figures. Needs PostgreSQL (DATABASE_URL, a *_bench
database that `make bench` recreates). Two business dates: the first loads the
portfolio, the second brings payments, results, DPD changes, new delinquencies
and credits leaving, as a real night does.
"""

from __future__ import annotations

import csv
import json
import random
import resource
import time
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from statistics import median

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.module_loading import import_string

from collections_field.engine.sql import LIMA, counting_statements
from collections_field.models import Case, CycleStep, FieldResult
from collections_field.services import cycle_run
from portfolio.generator import generate_portfolio
from portfolio.models import Credit, Officer, Payment
from portfolio.services import organisation_load, snapshot_import
from strategy.services import strategy_load_default

# The parts after the two nights, in the order they run (`--only` picks some).
PARTS = ("pages", "simulator", "api", "letters", "outbox", "commissions", "preview")


class Command(BaseCommand):
    help = "Benchmark import and cycle for two business dates (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--credits", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 2))
        parser.add_argument(
            "--profile", type=float, default=0, help="print statements slower than this (s)"
        )
        parser.add_argument(
            "--stop-before-cycle",
            type=int,
            default=0,
            help="leave the database just before night N's cycle (to experiment on it)",
        )
        parser.add_argument(
            "--stop-before-import",
            type=int,
            default=0,
            help="leave the database just before night N's import (to experiment on it)",
        )
        parser.add_argument(
            "--only",
            default="",
            help="after the two nights, run only these parts (comma-separated: "
            + ", ".join(PARTS)
            + "); default all",
        )
        parser.add_argument(
            "--outbox-messages", type=int, default=100_000, help="messages bench_outbox sends"
        )
        parser.add_argument(
            "--nights",
            type=int,
            default=3,
            help="run night 2 this many times from the same state (a copy of the database "
            "after the field day), each against COPYs of its file just before it",
        )

    def handle(self, *args, credits: int, seed: int, date: date, profile: float, **options):
        self.stop_before = options.get("stop_before_cycle") or 0
        self.stop_before_import = options.get("stop_before_import") or 0
        only = {p.strip() for p in (options.get("only") or "").split(",") if p.strip()}
        if only - set(PARTS):
            raise CommandError(f"unknown parts: {', '.join(sorted(only - set(PARTS)))}")
        wanted = only or set(PARTS)
        if connection.vendor != "postgresql":
            raise CommandError("the bench needs PostgreSQL: set DATABASE_URL")
        if profile:
            connection.execute_wrappers.append(SlowStatements(self.stdout, profile))
        self.rows: list[tuple[str, float, int | None]] = []
        workdir = Path(settings.VAR_DIR) / "bench"
        workdir.mkdir(parents=True, exist_ok=True)
        day1, day2 = date, date + timedelta(days=1)
        first, second = workdir / f"day1-{credits}.csv", workdir / f"day2-{credits}.csv"

        started = time.monotonic()
        generated = generate_portfolio(
            credits=credits,
            seed=seed,
            out=first,
            org_out=workdir / f"organisation-{credits}.yaml",
            business_date=day1,
        )
        self.note("generate_portfolio", time.monotonic() - started)
        # The floor moves by 10-20% from one COPY to the next on this kind of machine:
        # the median of three, each printed.
        copies = sorted(self.raw_copy(first) for _ in range(3))
        self.stdout.write(f"  raw COPY, three times: {', '.join(f'{c:.2f}' for c in copies)} s")
        floor = copies[1]
        self.note("raw COPY (floor, median)", floor)

        started = time.monotonic()
        organisation_load(document=generated.org_out.read_text(encoding="utf-8"))
        strategy_load_default()
        self.note("organisation + strategy (setup)", time.monotonic() - started)

        self.night(1, first, day1)
        advance_snapshot(first, second, seed=seed)
        self.field_day(day2, seed=seed)
        # The machine runs in faster and slower phases of minutes, the floor with them:
        # night 2 is run `--nights` times from the same state, each after three COPYs
        # of its own file (the summary below holds them together); the table shows the
        # median night.
        trials = self.nights_from_one_state(second, day2, max(1, options.get("nights") or 1))
        if "pages" in wanted:
            self.pages(day2)

        if "simulator" in wanted:
            import_string("commissions.bench.bench_simulator")(self, day2)
        if "api" in wanted:
            self.api(day2, third=workdir / f"day3-{credits}.csv", second=second)
        # notifications' parts (by name: collections_field does not import notifications).
        if "letters" in wanted:
            import_string("notifications.bench.bench_letters")(self, day2)
        if "outbox" in wanted:
            import_string("notifications.bench.bench_outbox")(
                self, day2, messages=options.get("outbox_messages") or 100_000
            )
        # The money rules' parts (by name: collections_field does not import commissions).
        if "commissions" in wanted:
            import_string("commissions.bench.bench_commissions")(self, first_night=day1)
        if "preview" in wanted:  # after the API part, day 3's snapshot is in, not run
            import_string("strategy_editor.bench.bench_preview")(self.note)

        self.stdout.write("")
        self.stdout.write(f"{'step':<34}{'seconds':>9}{'× COPY':>9}{'SQL':>7}")
        for name, seconds, statements in self.rows:
            ratio = f"{seconds / floor:8.1f}×" if floor else ""
            sql = f"{statements:>7}" if statements is not None else ""
            self.stdout.write(f"{name:<34}{seconds:>9.2f}{ratio:>9}{sql}")
        # The floor itself moves by up to a third between COPYs (1.4-1.9 s at 1M
        # credits, in runs of a few): the nights are held against the median of all
        # the COPYs of their file, each night against its own three as well.
        pooled = median([c for _t, _i, copies in trials for c in copies])
        for n, (total, imported, copies) in enumerate(trials, start=1):
            self.stdout.write(
                f"day 2, night {n} of {len(trials)}: import + run_cycle {total:.2f} s "
                f"(import {imported:.2f} s): {total / median(copies):.1f}× the three COPYs "
                f"just before it ({', '.join(f'{c:.2f}' for c in copies)} s)"
            )
        total, imported = median([t for t, _i, _c in trials]), median([i for _t, i, _c in trials])
        self.stdout.write(
            f"day 2, median of {len(trials)} nights: import + run_cycle {total:.2f} s, "
            f"{total / pooled:.1f}× the median of its file's {len(trials) * 3} COPYs "
            f"({pooled:.2f} s; import {imported / pooled:.1f}×), {total / floor:.1f}× the "
            f"first floor ({floor:.2f} s)"
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write("")
        self.stdout.write(f"peak memory: this process {own:,.0f} MiB; "
                          f"PostgreSQL backend {self.backend_peak_mib():,.0f} MiB")  # fmt: skip
        self.stdout.write(
            f"cases: {Case.objects.exclude(status='closed').count():,} open of "
            f"{Case.objects.count():,}; credits {Credit.objects.count():,}"
        )

    def note(self, name: str, seconds: float, statements: int | None = None) -> None:
        self.rows.append((name, seconds, statements))
        self.stdout.write(f"  {name}: {seconds:.2f} s", ending="\n")
        self.stdout.flush()

    def raw_copy(self, path: Path) -> float:
        """The floor: COPY of the same file into an UNLOGGED table without indexes."""
        with connection.cursor() as cursor:
            header = path.open(encoding="utf-8").readline().strip().split(",")
            cursor.execute("DROP TABLE IF EXISTS bench_floor")
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_floor ("
                + ", ".join(f'"{h}" text' for h in header)
                + ")"
            )
            checkpoint()
            started = time.monotonic()
            with path.open("rb") as stream:
                cursor.copy_expert(
                    "COPY bench_floor FROM STDIN WITH (FORMAT csv, HEADER true)", stream
                )
            seconds = time.monotonic() - started
            cursor.execute("DROP TABLE bench_floor")
        return seconds

    def nights_from_one_state(
        self, path: Path, day: date, nights: int
    ) -> list[tuple[float, float, list[float]]]:
        """Night `day` run `nights` times from the state it starts in, the database
        recreated from a copy of that state before each again: (import + cycle,
        import, three COPYs of `path` just before) for each. The table keeps the
        median night's rows; the database ends as after the last."""
        name = connection.settings_dict["NAME"]
        saved = f"{name}_night"
        if nights > 1:
            self.recreate(saved, template=name)
        trials, rows = [], []
        try:
            for n in range(nights):
                if n:
                    self.recreate(name, template=saved)
                copies = sorted(self.raw_copy(path) for _ in range(3))
                self.stdout.write(
                    f"  raw COPY of day 2's file, just before night {n + 1} of {nights}: "
                    f"{', '.join(f'{c:.2f}' for c in copies)} s"
                )
                before = len(self.rows)
                self.night(2, path, day)
                trials.append((self.night_total, self.night_imported, copies))
                rows.append(self.rows[before:])
                del self.rows[before:]
        finally:
            if nights > 1:
                self.drop(saved)
        middle = sorted(range(nights), key=lambda i: trials[i][0])[nights // 2]
        self.rows += rows[middle]
        return trials

    def recreate(self, name: str, *, template: str) -> None:
        """Database `name` as a copy of `template` (only the bench's own databases)."""
        if not name.startswith(connection.settings_dict["NAME"]) or "_bench" not in name:
            raise CommandError(f"refusing to recreate {name!r}: only the bench's databases")
        self.drop(name)
        with self.admin() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')

    def drop(self, name: str) -> None:
        connection.close()
        with self.admin() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def admin(self):
        """A connection to the server's `postgres` database, committing each statement
        (CREATE and DROP DATABASE run outside transactions)."""
        params = {**connection.get_connection_params(), "dbname": "postgres"}
        admin = connection.get_new_connection(params)
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                yield cursor
        finally:
            admin.close()

    def night(self, n: int, path: Path, day: date) -> None:
        if n == self.stop_before_import:
            raise CommandError(f"stopped before night {n}'s import of {path}, as asked")
        checkpoint()
        started, wal = time.monotonic(), wal_position()
        with counting_statements() as counter:
            snapshot_import(source=path, business_date=day, file_name=path.name)
        imported = time.monotonic() - started
        self.note(f"day {n}: import_snapshot", imported, counter.count)
        self.wal_note(f"day {n}: import_snapshot", wal)
        if n == self.stop_before:
            raise CommandError(f"stopped before night {n}'s cycle, as asked")
        checkpoint()
        started, wal = time.monotonic(), wal_position()
        cycle_run(business_date=day)
        seconds = time.monotonic() - started
        self.wal_note(f"day {n}: run_cycle", wal)
        steps = CycleStep.objects.filter(run__business_date=day).order_by("position", "name")
        # A step run in shares ("events#0", …) counts its shares' statements once.
        statements = sum(s.statements for s in steps if "#" not in s.name)
        for step in steps:
            self.note(f"day {n}:   {step.name}", step.seconds, step.statements)
        self.note(f"day {n}: run_cycle", seconds, statements)
        # The issue's target: a night's import and cycle together within 10x the floor.
        self.note(f"day {n}: import + run_cycle", imported + seconds)
        self.night_total = imported + seconds
        self.night_imported = imported

    def wal_note(self, name: str, since: str) -> None:
        """The WAL a part wrote: what its writes cost the server beyond its statements
        (full-page images, index entries, row locks; `pg_walinspect` tells which)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [since])
            self.stdout.write(f"  {name} wrote {cursor.fetchone()[0] / 2**20:,.0f} MiB of WAL")

    def field_day(self, day: date, *, seed: int) -> None:
        """The day's results and payments, registered before the cycle takes them in."""
        rng = random.Random(seed)
        started = time.monotonic()
        open_cases = list(
            Case.objects.exclude(status="closed").values_list("client_id", "officer_id")
        )
        rng.shuffle(open_cases)
        officers = list(Officer.objects.values_list("id", flat=True)[:1])
        at = datetime.combine(day, dtime(10), tzinfo=LIMA)
        results = [
            FieldResult(
                uuid=uuid.UUID(int=rng.getrandbits(128)),
                client_id=client_id,
                result_code=rng.choice(["10", "20", "30"]),
                occurred_at=at + timedelta(minutes=i % 480),
                officer_id=officer_id or officers[0],
                promise_date=day + timedelta(days=2),
                promise_amount=Decimal("100.00"),
                channel="visit",
            )
            for i, (client_id, officer_id) in enumerate(open_cases[: len(open_cases) // 10])
        ]
        FieldResult.objects.bulk_create(results, batch_size=5000)
        credits = list(
            Credit.objects.filter(
                client_id__in=[c for c, _o in open_cases[-len(open_cases) // 20 :]]
            ).values_list("id", flat=True)
        )
        Payment.objects.bulk_create(
            [
                Payment(
                    reference=f"BENCH-{day:%Y%m%d}-{credit_id}",
                    credit_id=credit_id,
                    amount=Decimal("200.00"),
                    paid_at=at + timedelta(hours=2),
                    installments=1,
                )
                for credit_id in credits
            ],
            batch_size=5000,
        )
        self.note(f"field day: {len(results):,} results, {len(credits):,} payments (setup)",
                  time.monotonic() - started)  # fmt: skip

    def pages(self, day: date) -> None:
        """Server time of the pages people open every morning, with the portfolio
        loaded: median and p95, and the queries each answer costs (fixed by design)."""
        from django.contrib.auth import get_user_model
        from django.db.models import Count
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from collections_field.models import WorklistEntry
        from portfolio.models import Role

        busiest = (
            WorklistEntry.objects.filter(business_date=day, officer__user__isnull=False)
            .values("officer_id")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        if busiest is None:
            self.stdout.write("  pages: no list on this date (not a collection day?)")
            return
        officer = Officer.objects.select_related("user", "agency").get(pk=busiest["officer_id"])
        jefe = (
            get_user_model()
            .objects.filter(
                staff_member__role=Role.JEFE_AGENCIA, staff_member__agency=officer.agency
            )
            .first()
        )
        probes = [(f"asesor list ({busiest['n']} clients)", officer.user, f"/today/?date={day}")]
        if jefe is not None:
            probes.append(("jefe escalation inbox", jefe, f"/escalations/?date={day}"))
            probes.append(("jefe de agencia dashboard", jefe, "/dashboard/"))
        zonal = (
            get_user_model()
            .objects.filter(
                staff_member__role=Role.JEFE_ZONAL, staff_member__zone=officer.agency.zone
            )
            .first()
        )
        gerente = get_user_model().objects.filter(staff_member__role=Role.GERENTE).first()
        for title, person in (("jefe zonal dashboard", zonal), ("gerente dashboard", gerente)):
            if person is not None:
                probes.append((title, person, "/dashboard/"))
        probes.append(("asesor client page", officer.user, None))
        client_code = (
            WorklistEntry.objects.filter(business_date=day, officer=officer)
            .values_list("client__code", flat=True)
            .first()
        )
        for name, user, url in probes:
            url = url or f"/cases/{client_code}/"
            browser = Client(SERVER_NAME="localhost")  # an allowed host, as a browser's
            browser.force_login(user)
            browser.get(url)  # warm
            timings = []
            for _ in range(100):
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as queries:
                    answer = browser.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (url, answer.status_code)
            median, p95 = median_and_p95(timings)
            self.note(f"page: {name} p95 (median {median:.0f} ms)", p95 / 1000, len(queries))

    def api(self, day: date, *, third: Path, second: Path) -> None:
        """Core banking's side: the next day's 1M-row snapshot posted to a real server
        (gunicorn, one worker) whose peak memory is read from /proc, then the latency
        of `GET cases/{code}/` and `POST results/` over 500 requests each."""
        import http.client
        import os
        import socket
        import subprocess
        import sys

        from portfolio.services import token_issue

        advance_snapshot(second, third, seed=99)
        token = token_issue(
            name="bench-core", scopes=["snapshots:write", "cases:read", "results:write"]
        ).raw
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
               "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
               "SEMAFORO_API_RATE": "100000/min"}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "1", "-b",
             f"127.0.0.1:{port}", "--timeout", "600", "--log-level", "warning"],
            cwd=settings.BASE_DIR, env=env,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            worker = self._gunicorn_worker(server.pid)
            headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            with third.open("rb") as body:
                conn.request(
                    "POST", f"/api/v1/snapshots/?date={day + timedelta(days=1)}", body=body,
                    headers={**headers, "Content-Type": "text/csv",
                             "Content-Length": str(third.stat().st_size)},
                )  # fmt: skip
                answer = conn.getresponse()
                answer.read()
            seconds = time.monotonic() - started
            peak = self._peak_mib(worker)
            self.note(f"API: POST day-3 snapshot ({answer.status}), server peak {peak:.0f} MiB",
                      seconds)  # fmt: skip
            codes = list(
                Case.objects.exclude(status="closed").values_list("client__code", flat=True)[:500]
            )
            officers = dict(
                Case.objects.filter(client__code__in=codes).values_list(
                    "client__code", "officer__code"
                )
            )
            for name, make in (
                ("GET cases/{code}/", lambda code: ("GET", f"/api/v1/cases/{code}/", None)),
                ("POST results/", lambda code: ("POST", "/api/v1/results/", json.dumps({
                    "uuid": str(uuid.uuid4()), "client_code": code, "result_code": "30",
                    "occurred_at": f"{day + timedelta(days=1)}T11:00:00-05:00",
                    "officer_code": officers.get(code) or "", "channel": "call"}))),
            ):  # fmt: skip
                timings = []
                for code in codes:
                    method, url, payload = make(code)
                    begun = time.perf_counter()
                    json_headers = {**headers, "Content-Type": "application/json"}
                    conn.request(method, url, body=payload, headers=json_headers)
                    reply = conn.getresponse()
                    reply.read()
                    timings.append((time.perf_counter() - begun) * 1000)
                    assert reply.status in (200, 201), (url, reply.status)
                median, p95 = median_and_p95(timings)
                self.note(f"API: {name} p95 (median {median:.0f} ms)", p95 / 1000)
            conn.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    @staticmethod
    def _gunicorn_worker(master: int) -> int:
        for _ in range(50):
            children = Path(f"/proc/{master}/task/{master}/children")
            if children.exists() and children.read_text().split():
                return int(children.read_text().split()[0])
            time.sleep(0.2)
        return master

    @staticmethod
    def _peak_mib(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def backend_peak_mib(self) -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")


class SlowStatements:
    """Prints each statement slower than the threshold, to see where a step spends."""

    def __init__(self, out, threshold: float):
        self.out, self.threshold = out, threshold

    def __call__(self, execute, sql, params, many, context):
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.monotonic() - started
            if seconds >= self.threshold:
                self.out.write(f"      {seconds:6.2f} s  {' '.join(sql.split())[:150]}")


def wal_position() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def checkpoint() -> None:
    """Write out the pages earlier parts left dirty, so that each timed part (the floor
    included) pays for its own writes only."""
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def median_and_p95(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95) - 1]


def advance_snapshot(source: Path, target: Path, *, seed: int) -> None:
    """The next day's snapshot: one day older, some payments and cures, some new
    delinquencies, a few credits gone (paid off or transferred)."""
    rng = random.Random(seed + 1)
    with (
        source.open(encoding="utf-8", newline="") as read,
        target.open("w", encoding="utf-8", newline="") as write,
    ):
        reader = csv.DictReader(read)
        writer = csv.DictWriter(write, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            draw = rng.random()
            if draw < 0.002:
                continue  # left the portfolio
            dpd, overdue = int(row["days_past_due"]), int(row["overdue_installments"])
            if dpd > 0:
                if draw < 0.05 and overdue > 0:  # paid one installment
                    overdue -= 1
                    dpd = 0 if overdue == 0 else max(1, dpd - 30)
                else:
                    dpd += 1
            elif draw < 0.012:  # a current credit falls behind
                dpd, overdue = 1, min(1, int(row["total_installments"]))
            row["days_past_due"], row["overdue_installments"] = str(dpd), str(overdue)
            if overdue == 0:
                row["overdue_amount"] = "0.00"
            writer.writerow(row)
