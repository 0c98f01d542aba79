"""A published version keeps its diff against the version it replaced: rows added,
removed and changed per section, known by their identifying keys; the audit
record's reason summarises it and names who published."""

import pytest
from django.contrib.auth import get_user_model

from strategy.diff import diff_summary
from strategy.services import strategy_publish

pytestmark = pytest.mark.django_db

SHORTER = (
    "  - {type: M, number: 1, from_day: 1, to_day: 15, max_visits: 2, daily_cap: 30}\n"
    "  - {type: M, number: 2, from_day: 16, to_day: null, max_visits: 2, daily_cap: 30}\n",
    "  - {type: M, number: 1, from_day: 1, to_day: 10, max_visits: 2, daily_cap: 30}\n"
    "  - {type: M, number: 2, from_day: 11, to_day: null, max_visits: 3, daily_cap: 30}\n",
)
PLAN = (
    "  - {type: M, tramo: 1, order: 1, channel: sms, from_day: 1, to_day: 2, template: hola}\n",
    "  - {type: M, tramo: 1, order: 2, channel: call, from_day: 3, to_day: 9}\n",
)


def changed(small_text: str) -> str:
    text = small_text.replace(*SHORTER).replace(*PLAN)
    text = text.replace(
        "  - {type: M, from: X2, on: PG, to: X1}\n",
        "  - {type: M, from: X2, on: PG, to: X1}\n  - {type: M, from: Y1, on: PG, to: X1}\n",
    )
    return text.replace("usd_rate: 3.8", "usd_rate: 3.75").replace(
        "per_cured_client: 12.5", "per_cured_client: 15"
    )


def test_the_diff_names_rows_added_removed_and_changed_per_section(small_text):
    first = strategy_publish(document=small_text).version
    assert first.diff == {"first": True, "settings": [], "sections": []}
    assert first.replaced is None

    user = get_user_model().objects.create_user("riesgo")
    second = strategy_publish(document=changed(small_text), published_by=user).version
    diff = second.diff
    assert second.replaced == first.number
    assert diff["settings"] == [{"key": "usd_rate", "before": "3.8", "after": "3.75"}]
    sections = {s["name"]: s for s in diff["sections"]}
    assert set(sections) == {"tramos", "bas", "action_plans", "commission_scheme"}
    tramos = sections["tramos"]
    assert (tramos["added"], tramos["removed"]) == ([], [])
    assert tramos["changed"] == [
        {"row": "type M, number 1", "fields": [{"key": "to_day", "before": "15", "after": "10"}]},
        {
            "row": "type M, number 2",
            "fields": [
                {"key": "from_day", "before": "16", "after": "11"},
                {"key": "max_visits", "before": "2", "after": "3"},
            ],
        },
    ]
    # A plan item is known by type, tramo and order: order 1 gone, order 2 new.
    plans = sections["action_plans"]
    assert [r["order"] for r in plans["removed"]] == ["1"]
    assert [(r["order"], r["channel"]) for r in plans["added"]] == [("2", "call")]
    assert plans["changed"] == []
    assert sections["bas"]["added"] == [{"type": "M", "from": "Y1", "on": "PG", "to": "X1"}]
    assert sections["commission_scheme"]["changed"] == [
        {"row": "", "fields": [{"key": "per_cured_client", "before": "12.5", "after": "15"}]}
    ]

    # The audit trail: who, and the summary as the reason.
    record = second.history.get()
    assert record.history_user == user
    summary = diff_summary(diff)
    assert len(summary) > 100  # the reason holds 100 characters: cut, the rows are in `diff`
    assert record.history_change_reason == summary[:99] + "…"
    assert summary == (
        "usd_rate changed; tramos: 2 changed; bas: 1 added; "
        "action_plans: 1 added, 1 removed; commission_scheme: 1 changed"
    )


def test_a_republished_old_version_diffs_against_the_one_it_replaces(small_text):
    strategy_publish(document=small_text)
    strategy_publish(document=changed(small_text))
    third = strategy_publish(document=small_text, source_name="vuelta").version
    assert third.replaced == 2
    tramos = next(s for s in third.diff["sections"] if s["name"] == "tramos")
    assert tramos["changed"][0]["fields"] == [{"key": "to_day", "before": "10", "after": "15"}]
    assert third.history.get().history_change_reason.startswith("vuelta: usd_rate changed;")
