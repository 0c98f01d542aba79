"""`make bench`'s part for notifications: rendering letters into agency batches.

Called from `collections_field/management/commands/bench.py` by one hook, after the
second night. The night plans the letter actions its strategy asks for; the bench tops
them up to the number it times with one synthetic letter action per open case that has
none (an action-plan order no strategy row uses, its window on that date only), then
builds every agency's batch as the morning task does: gate, render, WeasyPrint, file.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from datetime import time as dtime

from django.db import connection, transaction

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
