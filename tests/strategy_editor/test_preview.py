"""The preview simulates the next cycle with the active version and with the draft;
its counts equal what the published version then produces (issue 6's test), and
shortening a tramo's days changes which actions are due on the next cycle."""

from datetime import timedelta

import pytest
from django.db import connection

from collections_field.models import Case, CaseHistory, CycleRun, PlannedAction, WorklistEntry
from portfolio.models import CreditPosition, SnapshotImport
from strategy.models import StrategyVersion
from strategy_editor import services
from strategy_editor.preview import preview_date, preview_run

from .conftest import gerente, outcome, previewed, run_preview, shorten_tramo_1


def footprint() -> dict:
    """Row counts the simulations must leave as they found them."""
    return {
        "cases": Case.objects.count(),
        "history": CaseHistory.objects.count(),
        "actions": PlannedAction.objects.count(),
        "lists": WorklistEntry.objects.count(),
        "runs": CycleRun.objects.count(),
        "versions": StrategyVersion.objects.count(),
        "snapshots": SnapshotImport.objects.count(),
        "positions": CreditPosition.objects.count(),
        "codes": sorted(Case.objects.values_list("client__code", "action_code", "tramo")),
    }


def test_the_preview_names_what_changes_and_leaves_nothing_behind(night, queued):
    before = footprint()
    draft = shorten_tramo_1(services.draft_start(user=gerente()))
    draft = run_preview(draft, queued)
    assert footprint() == before
    assert StrategyVersion.objects.filter(is_active=True).get().number == 1

    result = draft.preview
    assert result["business_date"] == night.day(2).isoformat()
    assert result["aged_from"] is None and result["active_version"] == 1
    # C1 (26 days, past the new end 20) leaves tramo 1 by TR; C9 (13) and C2 do not.
    cases = result["cases"]
    assert cases["changed"] == 1
    assert cases["moves"] == [
        {"type_before": "A", "tramo_before": 1, "type_after": "A", "tramo_after": 2, "cases": 1}
    ]
    assert cases["sample"] == [
        {"client": "C1", "agency": "AG01", "officer": "AS001", "code_before": "A11",
         "tramo_before": 1, "code_after": "B21", "tramo_after": 2},
    ]  # fmt: skip
    assert cases["by_agency"] == [{"agency": "AG01", "name": "Comas", "cases": 1}]
    # Its tramo-1 visit (16–30) disappears; tramo 2's call, now from day 21, appears.
    overdue_since = night.day(2) - timedelta(days=26)
    actions = result["planned"]
    changes = {(a["kind"], a["client"], a["tramo"], a["channel"]) for a in actions["sample"]}
    assert ("disappear", "C1", 1, "visit") in changes
    assert ("appear", "C1", 2, "call") in changes
    call = next(a for a in actions["sample"] if a["kind"] == "appear" and a["channel"] == "call")
    assert call["window_from"] == (overdue_since + timedelta(days=21)).isoformat()
    assert {a["client"] for a in actions["sample"]} == {"C1"}
    assert (actions["appear"], actions["disappear"]) == (
        sum(r["appear"] for r in actions["by_channel"]),
        sum(r["disappear"] for r in actions["by_channel"]),
    )
    assert set(result["steps"]) == {"active", "draft"}
    assert result["steps"]["draft"]["events"]["TR"] == result["steps"]["active"]["events"]["TR"] + 1


@pytest.mark.parametrize("publish", [True, False])
def test_the_preview_s_counts_equal_what_the_next_cycle_produces(night, queued, publish):
    """Published, the next cycle produces the preview's "after"; not published, its
    "before" (the active version's)."""
    draft = run_preview(shorten_tramo_1(services.draft_start(user=gerente())), queued)
    if publish:
        services.draft_publish(user=gerente(), draft_id=draft.pk, revision=draft.revision)
    run = night.cycle(2)
    assert run.strategy_version == (2 if publish else 1)
    real = outcome(night.day(2))
    assert real == previewed(draft.preview, "after" if publish else "before")
    assert real["lists"]  # the lists were made (a collection day), so the check bites
    moved = {r["client"]: r["tramo_after" if publish else "tramo_before"]
             for r in draft.preview["cases"]["sample"]}  # fmt: skip
    assert moved == {"C1": night.case("C1").tramo}


def test_shortening_a_tramo_changes_which_actions_are_due_on_the_next_cycle(night, queued):
    c1 = Case.objects.get(client__code="C1")
    due = set(c1.planned_actions.filter(status="open").values_list("tramo", "channel"))
    assert due == {(1, "visit")}
    draft = shorten_tramo_1(services.draft_start(user=gerente()))
    services.draft_publish(user=gerente(), draft_id=draft.pk, revision=draft.revision)
    night.cycle(2)
    pending = c1.planned_actions.filter(status__in=("open", "queued"))
    assert set(pending.values_list("tramo", "channel")) == {(2, "call")}
    visit = c1.planned_actions.get(tramo=1, channel="visit")
    assert visit.status == "cancelled"  # its window was still running


def test_with_no_snapshot_waiting_the_last_day_is_aged_by_one(night, queued):
    night.cycle(2)
    assert preview_date().business_date == night.day(3)
    assert preview_date().aged_from == night.day(2)
    if connection.vendor == "postgresql":  # an empty leftover partition of the date
        with connection.cursor() as cursor:
            day, following = night.day(3), night.day(4)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS portfolio_creditposition_d{day:%Y%m%d} PARTITION OF "
                f"portfolio_creditposition FOR VALUES FROM ('{day}') TO ('{following}')"
            )
    before = footprint()
    tables = _partitions()
    draft = run_preview(shorten_tramo_1(services.draft_start(user=gerente())), queued)
    assert footprint() == before and _partitions() == tables
    result = draft.preview
    assert (result["business_date"], result["aged_from"]) == (
        night.day(3).isoformat(),
        night.day(2).isoformat(),
    )
    # Aged: C1 at 27 days (26 yesterday, past 20) leaves tramo 1 on the draft.
    assert [r["client"] for r in result["cases"]["sample"]] == ["C1"]


def test_a_cycle_under_way_blocks_the_preview(night):
    CycleRun.objects.create(business_date=night.day(2), strategy_version=1, status="failed")
    from strategy_editor.preview import PreviewError

    with pytest.raises(PreviewError, match="under way or failed"):
        preview_run(document={})


def test_the_statement_count_does_not_grow_with_the_portfolio(night, queued, tmp_path, monkeypatch):
    """The preview's own statements (dating, carrying, comparing) are the same for 3 and
    300 clients; the steps' are the engine's, whose own test checks them."""
    from collections_field.engine import cycle, sql
    from tests.collections_field.replay import Replay, overdue_row

    in_steps = [0]

    def counted(fn):
        def step(ctx, scope):
            with sql.counting_statements() as counter:
                out = fn(ctx, scope)
            in_steps[0] += counter.count
            return out

        return step

    for name, fn in list(cycle.STEP_FUNCTIONS.items()):
        monkeypatch.setitem(cycle.STEP_FUNCTIONS, name, counted(fn))

    def statements() -> int:
        draft = shorten_tramo_1(services.draft_start(user=gerente()))
        in_steps[0] = 0
        with sql.counting_statements() as counter:
            preview_run(document=draft.document)
        assert in_steps[0] > 0
        return counter.count - in_steps[0]

    small = statements()
    (tmp_path / "more").mkdir()
    more = Replay(tmp_path / "more")
    rows = [overdue_row(f"X{i:04d}", f"XR{i:04d}", 5 + i % 80) for i in range(300)]
    more.snapshot(3, rows)  # the next snapshot, a bigger portfolio
    CycleRun.objects.create(business_date=night.day(2), strategy_version=1, status="done")
    assert preview_date().business_date == night.day(3)
    assert statements() == small


def _partitions() -> list[str]:
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'portfolio_creditposition_d%%' "
            "ORDER BY relname"
        )
        return [r[0] for r in cursor.fetchall()]


def test_the_preview_page_shows_progress_then_the_figures(night, queued):
    from django.test import Client

    from strategy_editor.models import StrategyDraft

    client = Client()
    client.force_login(gerente())
    draft = shorten_tramo_1(services.draft_start(user=gerente()))
    answer = client.post(f"/strategy/drafts/{draft.pk}/preview/")
    assert answer.status_code == 302 and len(queued) == 1
    waiting = client.get(answer.url).content.decode()
    assert "Waiting for a worker" in waiting and 'http-equiv="refresh"' in waiting
    draft_id, token = queued[0]
    services.draft_preview_run(draft_id=draft_id, token=token)
    page = client.get(answer.url).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert '<dd id="cases-changed">1</dd>' in page
    assert '<a href="/cases/C1/">C1</a>' in page
    assert "Out of date" not in page
    # Edited afterwards: the preview says so.
    draft = StrategyDraft.objects.get(pk=draft.pk)
    services.draft_edit_rows(
        user=gerente(), draft_id=draft.pk, revision=draft.revision, section="tramos",
        rows={0: {"daily_cap": "30"}},
    )  # fmt: skip
    assert "the draft was edited after this preview" in client.get(answer.url).content.decode()


def test_an_older_request_s_task_does_not_store_its_result(night, queued):
    draft = shorten_tramo_1(services.draft_start(user=gerente()))
    services.draft_preview_request(user=gerente(), draft_id=draft.pk)
    services.draft_preview_request(user=gerente(), draft_id=draft.pk)
    (first_id, first), (second_id, second) = queued
    assert services.draft_preview_run(draft_id=first_id, token=first) == "superseded"
    assert services.draft_preview_run(draft_id=second_id, token=second) == "done"
