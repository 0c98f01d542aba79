"""What changed between two strategy documents, row by row, per section.

A row is known by its section's identifying keys (`Section.label`: a tramo by type
and number, a BAS row by type, from and on, a plan item by type, tramo and order),
so a row whose other values moved is *changed*, and one whose keys are new or gone
is *added* or *removed*. Values are written as in the strategy file (`scalar`), so
the diff reads like the YAML the risk manager knows. Parts of the document that
are not row sections yet (the verbatim money sections) are compared by position
(lists) or by key (mappings), with the same three kinds.

The result is plain JSON, stored on the published version (`StrategyVersion.diff`)
and shown on its page; `diff_summary` is its one-line form for the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

from strategy.schema import SECTIONS, TOP_LEVEL, StrategyDocument
from strategy.yaml_io import flow, scalar

SETTINGS = ("name", "usd_rate")


def _text(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        return flow(value)
    return scalar(value)


def _row_texts(section: str, row: Any) -> dict[str, str]:
    values = asdict(row) if is_dataclass(row) else dict(row)
    return {spec.key: _text(values.get(spec.name)) for spec in SECTIONS[section].specs}


def _label(keys: tuple[str, ...], texts: Mapping[str, str]) -> str:
    return ", ".join(f"{key} {texts[key]}" for key in keys)


def _rows_diff(
    before: list[dict[str, str]], after: list[dict[str, str]], keys: tuple[str, ...]
) -> dict[str, list]:
    """Added, removed and changed rows, in the after (then the before) document's order."""
    old = {tuple(r[k] for k in keys): r for r in before}
    new = {tuple(r[k] for k in keys): r for r in after}
    changed = []
    for key, row in new.items():
        if key in old and old[key] != row:
            fields = [
                {"key": name, "before": old[key].get(name, ""), "after": value}
                for name, value in row.items()
                if old[key].get(name) != value
            ]
            changed.append({"row": _label(keys, row), "fields": fields})
    return {
        "added": [row for key, row in new.items() if key not in old],
        "removed": [row for key, row in old.items() if key not in new],
        "changed": changed,
    }


def _plain_part(value: Any) -> Any:
    """A part's value as plain data: a typed row (a single-mapping section) as its dict."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _part_rows(value: Any) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    """A part that is not a row section, as rows: a list by position, a mapping as one row."""
    value = _plain_part(value)
    if isinstance(value, Mapping):
        return ([{k: _text(v) for k, v in value.items()}] if value else []), ()
    rows = []
    for i, item in enumerate(value or []):
        item = asdict(item) if is_dataclass(item) else item
        texts = {k: _text(v) for k, v in item.items()} if isinstance(item, Mapping) else {}
        rows.append({"#": str(i), **texts} if texts else {"#": str(i), "value": _text(item)})
    return rows, ("#",)


def _mapping_diff(before: list[dict[str, str]], after: list[dict[str, str]]) -> dict[str, list]:
    old, new = (before[0] if before else {}), (after[0] if after else {})
    if not old or not new:
        return {"added": [new] if new else [], "removed": [old] if old else [], "changed": []}
    fields = [
        {"key": k, "before": old.get(k, ""), "after": new.get(k, "")}
        for k in [*new, *(k for k in old if k not in new)]
        if old.get(k) != new.get(k)
    ]
    changed = [{"row": "", "fields": fields}] if fields else []
    return {"added": [], "removed": [], "changed": changed}


def document_diff(before: StrategyDocument | None, after: StrategyDocument) -> dict[str, Any]:
    """The changes from `before` (None: nothing published yet) to `after`."""
    if before is None:
        return {"first": True, "settings": [], "sections": []}
    settings = [
        {"key": key, "before": _text(getattr(before, key)), "after": _text(getattr(after, key))}
        for key in SETTINGS
        if _text(getattr(before, key)) != _text(getattr(after, key))
    ]
    sections = []
    for name in TOP_LEVEL:
        if name in SETTINGS:
            continue
        old, new = _plain_part(getattr(before, name)), _plain_part(getattr(after, name))
        if name in SECTIONS:
            keys = SECTIONS[name].label
            change = _rows_diff(
                [_row_texts(name, r) for r in old], [_row_texts(name, r) for r in new], keys
            )
        else:
            (old_rows, keys), (new_rows, _keys) = _part_rows(old), _part_rows(new)
            if isinstance(old, Mapping) or isinstance(new, Mapping):
                change = _mapping_diff(old_rows, new_rows)
            else:
                change = _rows_diff(old_rows, new_rows, keys)
        if any(change.values()):
            sections.append({"name": name, **change})
    return {"first": False, "settings": settings, "sections": sections}


def diff_counts(diff: Mapping[str, Any]) -> list[tuple[str, int, int, int]]:
    """(section, added, removed, changed) for every section that moved."""
    return [
        (s["name"], len(s["added"]), len(s["removed"]), len(s["changed"]))
        for s in diff.get("sections", [])
    ]


def diff_summary(diff: Mapping[str, Any]) -> str:
    """One line: `tramos: 2 changed; action_plans: 1 added, 1 removed` (untranslated,
    like the section names it lists; it goes into the audit trail's reason)."""
    if diff.get("first"):
        return "first version"
    parts = [f"{s['key']} changed" for s in diff.get("settings", [])]
    for name, added, removed, changed in diff_counts(diff):
        kinds = [
            f"{n} {word}"
            for n, word in ((added, "added"), (removed, "removed"), (changed, "changed"))
            if n
        ]
        parts.append(f"{name}: {', '.join(kinds)}")
    return "; ".join(parts) or "no row changed"
