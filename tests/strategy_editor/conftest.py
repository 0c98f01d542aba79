"""A small portfolio after one night, the next snapshot imported, and helpers to edit
and preview a draft the way the editor's pages do (through the services)."""

from collections import Counter

import pytest

from collections_field.models import Case, PlannedAction, WorklistEntry
from portfolio.services import organisation_load
from strategy.services import strategy_load_default
from strategy_editor import services
from strategy_editor.models import StrategyDraft
from tests.collections_field.replay import Replay, overdue_row
from tests.support import ORGANISATION, person


def day_rows(n: int) -> list[dict]:
    """C1 at 24+n days (tramo 1's visit window open), C9 at 11+n, C2 (Arequipa) at 39+n."""
    return [
        overdue_row("C1", "CR1", 24 + n),
        overdue_row("C9", "CR9", 11 + n, lat="-11.9300", lon="-77.0500"),
        overdue_row("C2", "CR2", 39 + n, agency_code="AG02", lat="-16.4", lon="-71.54",
                    origin_officer_code="AS002"),
    ]  # fmt: skip


@pytest.fixture
def night(transactional_db, tmp_path) -> Replay:
    """Day 1's cycle has run with the default strategy; day 2's snapshot is in, its
    cycle not yet: the next cycle is day 2's."""
    organisation_load(document=ORGANISATION)
    strategy_load_default()
    replay = Replay(tmp_path)
    replay.snapshot(1, day_rows(1))
    replay.cycle(1)
    replay.snapshot(2, day_rows(2))
    return replay


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """Preview tasks are recorded instead of sent (the tests run them in-process)."""
    from strategy_editor import tasks

    calls: list[tuple] = []

    class Sent:
        id = "test-task"

    def delay(*args):
        calls.append(args)
        return Sent()

    monkeypatch.setattr(tasks.draft_preview_task, "delay", delay)
    return calls


def gerente():
    return person("gerencia")


def index_of(draft: StrategyDraft, section: str, **keys) -> int:
    rows = draft.document[section]
    found = [i for i, r in enumerate(rows) if all(r.get(k) == v for k, v in keys.items())]
    assert len(found) == 1, (section, keys, found)
    return found[0]


def edit(draft: StrategyDraft, section: str, keys: dict, **values) -> StrategyDraft:
    index = index_of(draft, section, **keys)
    return services.draft_edit_rows(
        user=gerente(),
        draft_id=draft.pk,
        revision=draft.revision,
        section=section,
        rows={index: {k: str(v) for k, v in values.items()}},
    )


def shorten_tramo_1(draft: StrategyDraft) -> StrategyDraft:
    """Type A's tramo 1 ends at day 20 instead of 30, tramo 2 starts at 21, and tramo
    2's call opens at day 21 instead of 31."""
    draft = edit(draft, "tramos", {"type": "A", "number": 1}, to_day=20)
    draft = edit(draft, "tramos", {"type": "A", "number": 2}, from_day=21)
    return edit(draft, "action_plans", {"type": "A", "tramo": 2, "order": 2}, from_day=21)


def run_preview(draft: StrategyDraft, queued: list) -> StrategyDraft:
    services.draft_preview_request(user=gerente(), draft_id=draft.pk)
    (draft_id, token), *_rest = queued[-1:]
    assert services.draft_preview_run(draft_id=draft_id, token=token) == "done"
    return StrategyDraft.objects.get(pk=draft.pk)


def outcome(business_date) -> dict:
    """What a cycle left, in the preview's terms: open cases per type and tramo, pending
    actions per channel, list size per officer."""
    tramos = Counter(
        (t, n)
        for t, n in Case.objects.exclude(status="closed").values_list("management_type", "tramo")
    )
    channels = Counter(
        PlannedAction.objects.filter(status__in=("queued", "open")).values_list(
            "channel", flat=True
        )
    )
    lists = Counter(
        WorklistEntry.objects.filter(business_date=business_date).values_list(
            "officer__code", flat=True
        )
    )
    return {"tramos": dict(tramos), "channels": dict(channels), "lists": dict(lists)}


def previewed(result: dict, side: str) -> dict:
    """The same figures as the preview reported them for one side (before/after)."""
    return {
        "tramos": {
            (r["type"], r["tramo"]): r[side] for r in result["cases"]["per_tramo"] if r[side]
        },
        "channels": {r["channel"]: r[side] for r in result["planned"]["channels"] if r[side]},
        "lists": {r["officer"]: r[side] for r in result["lists"]["officers"] if r[side]},
    }
