"""The draft's document, edited in the browser, generically over `strategy.schema`.

Nothing here knows a section by name: the sections, their keys, kinds, choices and
identifying keys come from `strategy.schema.SECTIONS`, so a section added there
appears in the editor with no code here. The rules come from
`strategy.validation.validate_strategy`, never a second set: its messages already
name the section, the row and (first) the key, which is how each one is placed
next to its row and field (`locate`).

A form value is kept as typed when it does not read as its kind (`parse_field`):
the validator then names it ("from_day must be a whole number, got "x"") and the
risk manager sees the value it typed, next to the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import translation

from strategy.exceptions import StrategyValidationError
from strategy.schema import BOOL, DECIMAL, INT, REQUIRED, SECTIONS, TOP_LEVEL, Section, Spec
from strategy.selectors import written_template_names
from strategy.services import strategy_dump
from strategy.validation import validate_strategy
from strategy.yaml_io import flow, load_yaml, scalar

SETTINGS = ("name", "usd_rate")
PAGE_SIZE = 50


def parts() -> list[str]:
    """Top-level keys that are neither settings nor row sections (kept verbatim until
    they get a schema): edited as YAML text."""
    return [k for k in TOP_LEVEL if k not in SETTINGS and k not in SECTIONS]


# --- The document ------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A value as the draft's JSON holds it: numbers as the YAML loader gives them."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def complete_row(section: Section, row: Mapping[str, Any]) -> dict[str, Any]:
    """Every key of the section, a missing optional one at its default."""
    return {
        spec.key: row.get(spec.key, None if spec.default is REQUIRED else json_value(spec.default))
        for spec in section.specs
    }


def document_of(version) -> dict[str, Any]:
    """A published version in the file's shape (its canonical dump, read back)."""
    data, _lines = load_yaml(strategy_dump(version=version))
    for name, section in SECTIONS.items():
        data[name] = [complete_row(section, row) for row in data.get(name) or []]
    return data


def rows_of(document: Mapping[str, Any], section: str) -> list[dict[str, Any]]:
    rows = document.get(section)
    return rows if isinstance(rows, list) else []


# --- Form values --------------------------------------------------------------------

_WHOLE = re.compile(r"[+-]?\d+")


def parse_field(spec: Spec, raw: str | None) -> Any:
    """A form's text as the value the file would hold; kept as typed when it is not
    of the key's kind, so the validator names it."""
    text = "" if raw is None else str(raw)
    stripped = text.strip()
    if spec.kind == BOOL:
        if stripped == "":
            return None
        return {"true": True, "false": False}.get(stripped.lower(), text)
    if spec.kind == INT:
        if stripped == "":
            return None
        return int(stripped) if _WHOLE.fullmatch(stripped) else text
    if spec.kind == DECIMAL:
        if stripped == "":
            return None
        try:
            value = Decimal(stripped)
        except InvalidOperation:
            return text
        if not value.is_finite():
            return text
        # JSON numbers, as the YAML loader gives them (the validator reads both).
        return int(value) if value == value.to_integral_value() else float(stripped)
    if text == "":
        return None if spec.nullable else ""
    return text


def field_text(value: Any) -> str:
    """A stored value as the text of its form field."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return flow(value)
    return scalar(value)


def row_label(section: Section, row: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {field_text(row.get(key))}" for key in section.label)


def describe_changes(
    section: Section, index: int, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[str]:
    """`tramos[0] (type A, number 1): to_day 30 → 20` per changed key (audit reasons)."""
    where = f"{section.name}[{index}] ({row_label(section, after)})"
    return [
        f"{where}: {spec.key} {field_text(before.get(spec.key)) or '—'} → "
        f"{field_text(after.get(spec.key)) or '—'}"
        for spec in section.specs
        if before.get(spec.key) != after.get(spec.key)
    ]


# --- Problems, placed next to their row and key ---------------------------------------


@dataclass(frozen=True)
class Problem:
    message: str
    section: str | None = None  # a top-level key (a section, a setting or a part)
    index: int | None = None  # the row, for a row section or a list part
    key: str | None = None  # the field the message names first
    warning: bool = False

    @property
    def text(self) -> str:
        """The message without its row label, for showing next to the row itself."""
        if self.index is None:
            return self.message
        return _ROW_PREFIX.sub("", self.message, count=1)


_ROW_PREFIX = re.compile(r"^[a-z_]+\[\d+\](?: \([^)]*\))?: ")
_START = re.compile(r"(?P<section>[a-z_]+)(?:\[(?P<index>\d+)\](?: \([^)]*\))?)?(?P<rest>.*)", re.S)


def locate(message: str) -> tuple[str | None, int | None, str | None]:
    """(section, row index, key) named by a validator message (read in English):
    `tramos[1] (type A, number 2): to_day must …` → ("tramos", 1, "to_day");
    `tramos: the tramos of type A …` → ("tramos", None, None)."""
    match = _START.match(message)
    if not match or match["section"] not in TOP_LEVEL:
        return None, None, None
    section = match["section"]
    if match["index"] is None:
        return section, None, None
    rest = match["rest"].removeprefix(":").strip()
    first = re.split(r"[\s:]", rest, maxsplit=1)[0] if rest else ""
    keys = {spec.key for spec in SECTIONS[section].specs} if section in SECTIONS else set()
    return section, int(match["index"]), first if first in keys else None


def _validate(document: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    try:
        validated = validate_strategy(document, written_templates=written_template_names())
    except StrategyValidationError as exc:
        return exc.errors, exc.warnings
    return [], validated.warnings


@dataclass
class Check:
    """The validator's errors and warnings of a document, each placed."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def all(self) -> list[Problem]:
        return [*self.errors, *self.warnings]

    def general(self) -> list[Problem]:
        """Problems of no section, or of the settings and parts (shown on the draft page)."""
        return [p for p in self.all() if p.section is None or p.section not in SECTIONS]

    def of_section(self, section: str) -> list[Problem]:
        """Problems of a section as a whole (no row)."""
        return [p for p in self.all() if p.section == section and p.index is None]

    def of_rows(self, section: str) -> dict[int, list[Problem]]:
        rows: dict[int, list[Problem]] = {}
        for p in self.all():
            if p.section == section and p.index is not None:
                rows.setdefault(p.index, []).append(p)
        return rows

    def counts(self, section: str) -> tuple[int, int]:
        return (
            sum(1 for p in self.errors if p.section == section),
            sum(1 for p in self.warnings if p.section == section),
        )


def check(document: Mapping[str, Any]) -> Check:
    """Validate in English to place each message, show it in the reader's language.

    Both runs find the same problems in the same order (only the words differ), so
    the n-th message of one is the n-th of the other.
    """
    with translation.override("en"):
        errors_en, warnings_en = _validate(document)
    language = translation.get_language() or "en"
    if language.startswith("en"):
        errors, warnings = errors_en, warnings_en
    else:
        errors, warnings = _validate(document)
        if len(errors) != len(errors_en) or len(warnings) != len(warnings_en):
            errors, warnings = errors_en, warnings_en
    return Check(
        errors=[Problem(shown, *locate(en)) for shown, en in zip(errors, errors_en, strict=True)],
        warnings=[
            Problem(shown, *locate(en), warning=True)
            for shown, en in zip(warnings, warnings_en, strict=True)
        ],
    )


# --- The section page: filters and paging -------------------------------------------------


def filter_options(section: Section, rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """For each identifying key, the values present, in first-seen order."""
    options: dict[str, dict[str, None]] = {key: {} for key in section.label}
    for row in rows:
        for key in section.label:
            options[key].setdefault(field_text(row.get(key)), None)
    return {key: list(values) for key, values in options.items()}


def filtered_indexes(
    section: Section,
    rows: list[Mapping[str, Any]],
    filters: Mapping[str, str],
    only: set[int] | None = None,
) -> list[int]:
    """Indexes of the rows matching every filter (exact text of an identifying key)."""
    wanted = {k: v for k, v in filters.items() if k in section.label and v != ""}
    return [
        i
        for i, row in enumerate(rows)
        if all(field_text(row.get(k)) == v for k, v in wanted.items())
        and (only is None or i in only)
    ]


def group_of(section: Section, row: Mapping[str, Any]) -> tuple:
    """The identifying keys other than the ordering one (the rows ↑/↓ move among)."""
    return tuple(row.get(k) for k in section.label if k != section.ordered_by)
