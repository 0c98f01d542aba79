"""The editor's part of `make bench`: the preview at the loaded size, and its pages.

Called from `collections_field/management/commands/bench.py` once the portfolio is
loaded and the next day's snapshot is in (its cycle not run), so the preview
simulates a real next cycle: twice, then the comparison. The draft shortens type
A's first tramo by ten days (the shipped strategy's; the bench only loads that one).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collections_field.engine.cycle import STEPS
from collections_field.engine.sql import counting_statements
from portfolio.models import Role, StaffMember
from strategy_editor import services
from strategy_editor.models import StrategyDraft

Note = Callable[..., None]


def _gerente():
    member = StaffMember.objects.filter(role=Role.GERENTE).select_related("user").first()
    if member is not None:
        return member.user
    user = get_user_model().objects.create_user("bench-gerente")
    StaffMember.objects.create(user=user, role=Role.GERENTE)
    return user


def bench_preview(note: Note, *, requests: int = 20) -> None:
    from collections_field.management.commands.bench import median_and_p95

    user = _gerente()
    draft = services.draft_start(user=user, title="bench: tramo 1 ten days shorter")
    tramos = draft.document["tramos"]
    first = next(
        i for i, r in enumerate(tramos) if (r["type"], r["number"]) == ("A", 1)
    )  # the shipped strategy's type A
    second = next(i for i, r in enumerate(tramos) if (r["type"], r["number"]) == ("A", 2))
    end = tramos[first]["to_day"] - 10
    draft = services.draft_edit_rows(
        user=user,
        draft_id=draft.pk,
        revision=draft.revision,
        section="tramos",
        rows={first: {"to_day": str(end)}, second: {"from_day": str(end + 1)}},
    )
    # The task's own work, run here (no worker, and not twice when Celery is eager).
    token = uuid.uuid4()
    StrategyDraft.objects.filter(pk=draft.pk).update(preview_token=token)
    phases: list[tuple[str, float]] = []
    begun = time.monotonic()

    def progress(stage: str, done: int, total: int) -> None:
        phases.append((stage, time.monotonic() - begun))

    started = time.monotonic()
    with counting_statements() as counter:
        services.draft_preview_run(draft_id=draft.pk, token=str(token), progress=progress)
    seconds = time.monotonic() - started
    draft = StrategyDraft.objects.get(pk=draft.pk)
    result = draft.preview
    note(
        f"editor: preview ({result['cases']['changed']:,} cases move, "
        f"{result['planned']['appear']:,}/{result['planned']['disappear']:,} actions)",
        seconds,
        counter.count,
    )
    # The tick after the active version's last step: its run, rolled back and carried out.
    note("editor:   active version's run", phases[len(STEPS)][1])

    browser = Client(SERVER_NAME="localhost")
    browser.force_login(user)
    for name, url in (
        ("editor: preview page", f"/strategy/drafts/{draft.pk}/preview/"),
        ("editor: BAS page (filtered)", f"/strategy/drafts/{draft.pk}/sections/bas/?f-type=A"),
    ):
        browser.get(url)
        timings = []
        for _ in range(requests):
            begun_request = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                answer = browser.get(url)
            timings.append((time.perf_counter() - begun_request) * 1000)
            assert answer.status_code == 200, (url, answer.status_code)
        median, p95 = median_and_p95(timings)
        note(f"{name} p95 (median {median:.0f} ms)", p95 / 1000, len(queries))
