"""`make bench`'s parts for notifications: rendering letters into agency batches, and
the outbox's throughput (`bench_outbox`).

Called from `collections_field/management/commands/bench.py` by one hook, after the
second night. The night plans the letter actions its strategy asks for; the bench tops
them up to the number it times with one synthetic letter action per open case that has
none (an action-plan order no strategy row uses, its window on that date only), then
builds every agency's batch as the morning task does: gate, render, WeasyPrint, file.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from datetime import time as dtime

from django.conf import settings
from django.db import connection, transaction

from collections_field.engine.lights import compute_lights
from collections_field.engine.sql import LIMA
from collections_field.models import PlannedAction
from notifications.letters import letters_build
from notifications.templating import templates_load_default

BENCH_ORDER = 9000  # no strategy's action plan reaches it


def bench_letters(command, business_date: date, *, letters: int = 10_000) -> None:
    templates_load_default()
    due = PlannedAction.objects.filter(
        status=PlannedAction.Status.QUEUED,
        manual=False,
        channel="letter",
        window_from__lte=business_date,
        window_to__gte=business_date,
        letter__isnull=True,
    )
    started = time.monotonic()
    missing = max(0, letters - due.count())
    if missing:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO collections_field_plannedaction (case_id, type, tramo, \"order\", "
                " channel, template, manual, from_day, to_day, window_from, window_to, "
                " planned_on, status, late) "
                "SELECT c.id, c.management_type, c.tramo, %s, 'letter', 'carta_T23', false, "
                " 0, 0, %s, %s, %s, 'queued', false "
                "FROM collections_field_case c "
                "WHERE c.status <> 'closed' AND NOT EXISTS (SELECT 1 FROM "
                " collections_field_plannedaction p WHERE p.case_id = c.id "
                " AND p.channel = 'letter' AND p.window_from <= %s AND p.window_to >= %s) "
                "ORDER BY c.id LIMIT %s",
                [BENCH_ORDER, business_date, business_date, business_date, business_date,
                 business_date, missing],
            )  # fmt: skip
    total = due.count()
    command.note(f"letters: {total:,} letter actions due (setup)", time.monotonic() - started)
    at = datetime.combine(business_date, dtime(6), tzinfo=LIMA)
    started = time.monotonic()
    results = letters_build(business_date=business_date, at=at)
    seconds = time.monotonic() - started
    printed = sum(r.letters for r in results)
    pages = sum(r.pages for r in results)
    blocked = sum(r.blocked for r in results)
    command.note(f"letters: {printed:,} into {len(results)} agency PDFs", seconds)
    per_letter = 1000 * seconds / max(printed + blocked, 1)
    slowest = max(results, key=lambda r: r.seconds, default=None)
    command.stdout.write(
        f"  letters: {pages:,} pages, {blocked:,} blocked, {per_letter:.1f} ms a letter; "
        + (f"largest batch {slowest.agency} {slowest.letters} letters in {slowest.seconds:.1f} s"
           if slowest else "no batch")
    )  # fmt: skip


# --- The outbox: automatic messages through the console gateway ---------------------

OUTBOX_ORDER = 9100  # above BENCH_ORDER: no strategy's action plan reaches either


def bench_outbox(command, business_date: date, *, messages: int = 100_000) -> None:
    """Top the queued automatic SMS actions of `business_date` up to `messages` (one per
    open case and bench order, as many orders as it takes), then time `outbox_fill` and
    a dispatch of all of them at 10:00 Lima that day, in this process, through the
    console gateway with its spool off and no send rate (the bench measures our
    bookkeeping, not a provider). A small portfolio has fewer open cases than messages,
    so each case gets several: the contact cap is lifted for the run (it would
    postpone all but 7 a case)."""
    from django.test import override_settings

    from notifications.gateways import gateways_reset
    from notifications.services import Clock, dispatch, outbox_fill

    at = datetime.combine(business_date, dtime(10), tzinfo=LIMA)
    due = PlannedAction.objects.filter(
        status=PlannedAction.Status.QUEUED,
        manual=False,
        channel="sms",
        window_from__lte=business_date,
        window_to__gte=business_date,
        outgoing_message__isnull=True,
    )
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM collections_field_case WHERE status <> 'closed'")
        cases = cursor.fetchone()[0]
        missing = max(0, messages - due.count())
        if missing and cases:
            cursor.execute(
                'SELECT coalesce(max("order"), %s) FROM collections_field_plannedaction',
                [OUTBOX_ORDER],
            )
            first = max(cursor.fetchone()[0], OUTBOX_ORDER) + 1
            rounds = -(-missing // cases)
            cursor.execute(
                "INSERT INTO collections_field_plannedaction (case_id, type, tramo, \"order\", "
                " channel, template, manual, from_day, to_day, window_from, window_to, "
                " planned_on, status, late) "
                "SELECT c.id, c.management_type, c.tramo, %s + r.n, 'sms', NULL, false, "
                " 0, 0, %s, %s, %s, 'queued', false "
                "FROM generate_series(0, %s - 1) AS r(n) "
                "CROSS JOIN collections_field_case c WHERE c.status <> 'closed' "
                "ORDER BY r.n, c.id LIMIT %s",
                [first, business_date, business_date, business_date, rounds, missing],
            )  # fmt: skip
        # The night drew the day's light summary before these actions existed: drawn
        # again, so each delivered message moves counts it is really in.
        compute_lights(business_date=business_date)
    with connection.cursor() as cursor:  # as autovacuum would have by the morning
        cursor.execute("ANALYZE collections_field_plannedaction")
    total = due.count()
    command.note(f"outbox: {total:,} SMS actions due (setup)", time.monotonic() - started)
    quiet = {
        **settings.SEMAFORO_DISPATCH,
        # Every channel (the strategy's own WhatsApp, IVR and e-mail actions of the day
        # are queued too) through the console.
        "GATEWAYS": {"default": "notifications.gateways.ConsoleGateway"},
        "CONSOLE_FILE": "",
        "RATES": {},
        "CONTACT_CAP": 10**6,
    }  # fmt: skip
    log = logging.getLogger("notifications")
    level = log.level
    with override_settings(SEMAFORO_DISPATCH=quiet):
        gateways_reset()
        log.setLevel(logging.WARNING)  # a line a message would time the terminal
        started = time.monotonic()
        queued = outbox_fill(at=at)
        command.note(f"outbox: outbox_fill, {queued:,} messages", time.monotonic() - started)
        started = time.monotonic()
        result = dispatch(at=at, clock=Clock(at))
        seconds = time.monotonic() - started
    log.setLevel(level)
    gateways_reset()
    counts = result.counts
    handled = sum(v for k, v in counts.items() if k != "queued")
    command.note(f"outbox: dispatch, {handled:,} messages", seconds)
    figures = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()) if k != "queued")
    command.stdout.write(
        f"  outbox: {handled / seconds if seconds else 0:,.0f} messages/s "
        f"({1000 * seconds / max(handled, 1):.2f} ms a message): {figures}"
    )
