"""Parse and check a strategy document (DOMAIN.md 7.2).

`validate_strategy` never stops at the first problem: every error is collected,
each naming its key path and row (`bas[12] (type A, from A11, on 10; line 240)`),
and raised together as one StrategyValidationError, so the risk manager fixes a
file in one pass. Warnings (a missing BAS pair, a template not written yet) do
not stop publishing; they are returned with the document.
"""

import itertools
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.db import models
from django.utils.translation import gettext as _

from strategy import models as m
from strategy.exceptions import StrategyValidationError
from strategy.schema import (
    AUTOMATIC_CHANNELS,
    BOOL,
    CODE,
    DECIMAL,
    ESCALATION_LEVELS,
    EXAMPLES,
    INT,
    KNOWN_EVENTS,
    MAPPING_SECTIONS,
    REQUIRED,
    REQUIRED_TOP_LEVEL,
    ROW_SECTIONS,
    SECTIONS,
    TEXT,
    TOP_LEVEL,
    ActionRow,
    ClassificationRow,
    EscalationRow,
    ManagementTypeRow,
    ResultRow,
    Section,
    Spec,
    StrategyDocument,
    TramoRow,
)
from strategy.yaml_io import load_yaml, scalar


@dataclass
class ValidatedStrategy:
    document: StrategyDocument
    warnings: list[str]


def _model_field(section: Section, spec: Spec) -> models.Field:
    return section.model._meta.get_field(spec.name)


def _int_max(model_field: models.Field) -> int:
    if isinstance(model_field, models.PositiveSmallIntegerField):
        return 32767
    return 2147483647


# --- Parsing ---------------------------------------------------------------------------------


class _Collector:
    def __init__(self, lines: Mapping[str, list[int]]):
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.lines = lines

    def label(self, section: str, index: int, raw: Any) -> str:
        parts = []
        if isinstance(raw, Mapping):
            for key in SECTIONS[section].label if section in SECTIONS else ():
                if key in raw:
                    parts.append(f"{key} {_plain(raw[key])}")
        line = self.lines.get(section, [])
        at_line = _("line %(n)s") % {"n": line[index]} if index < len(line) else ""
        where = "; ".join(p for p in (", ".join(parts), at_line) if p)
        return f"{section}[{index}]" + (f" ({where})" if where else "")


def _plain(value: Any) -> str:
    """A value as it identifies a row in a label: `on 10`, `type A`."""
    if isinstance(value, str | int | float | Decimal | bool | None):
        return value if isinstance(value, str) else scalar(value)
    return "…"


def _show(value: Any) -> str:
    """An offending value inside a message: text in double quotes (`to "Z99"`)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _plain(value)


def _parse_value(section: Section, spec: Spec, raw: Any) -> tuple[Any, str | None]:
    """The typed value of one key, or an error without the row label."""
    key = spec.key
    model_field = _model_field(section, spec)
    if raw is None:
        if spec.nullable:
            return None, None
        return None, _("{key} must not be null").format(key=key)
    if spec.kind in (CODE, TEXT):
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # codes are strings: `on: 10` means "10"
        if not isinstance(raw, str):
            return None, _("{key} must be text, got {value}").format(key=key, value=_show(raw))
        if not raw.strip() or raw != raw.strip():
            return None, _("{key} must be non-empty text without surrounding spaces").format(
                key=key
            )
        max_length = model_field.max_length
        if max_length and len(raw) > max_length:
            return None, _("{key} is longer than {n} characters").format(key=key, n=max_length)
        if spec.choices and raw not in spec.choices:
            return None, _("{key} {value} is not one of {allowed}").format(
                key=key, value=_show(raw), allowed=", ".join(spec.choices)
            )
        return raw, None
    if spec.kind == INT:
        if not isinstance(raw, int) or isinstance(raw, bool):
            return None, _("{key} must be a whole number, got {value}").format(
                key=key, value=_show(raw)
            )
        if raw < spec.minimum:
            return None, _("{key} must be at least {n}").format(key=key, n=spec.minimum)
        if raw > _int_max(model_field):
            return None, _("{key} is too large").format(key=key)
        if spec.maximum is not None and raw > spec.maximum:
            return None, _("{key} must be at most {n}").format(key=key, n=scalar(spec.maximum))
        return raw, None
    if spec.kind == DECIMAL:
        value, error = _decimal(raw, model_field.max_digits, model_field.decimal_places)
        if error:
            return None, f"{key} {error}"
        if value < 0:
            return None, _("{key} must not be negative").format(key=key)
        if spec.maximum is not None and value > spec.maximum:
            return None, _("{key} must be at most {n}").format(key=key, n=scalar(spec.maximum))
        return value, None
    if spec.kind == BOOL:
        if not isinstance(raw, bool):
            return None, _("{key} must be true or false, got {value}").format(
                key=key, value=_show(raw)
            )
        return raw, None
    raise AssertionError(spec.kind)


def _decimal(raw: Any, max_digits: int, places: int) -> tuple[Decimal, str | None]:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        return Decimal(0), _("must be a number, got {value}").format(value=_show(raw))
    try:
        # repr(float) is the shortest text that reads back the same: 3.75, not 3.7499…
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except InvalidOperation:
        return Decimal(0), _("must be a number")
    if not value.is_finite():
        return Decimal(0), _("must be a finite number")
    if abs(value) >= Decimal(10) ** (max_digits - places):
        return Decimal(0), _("is too large")
    if value.quantize(Decimal(1).scaleb(-places)) != value:
        return Decimal(0), _("has more than {n} decimals").format(n=places)
    return value, None


Parsed = list[tuple[int, dict[str, Any], Any]]


def _parse_rows(
    c: _Collector, section: Section, raw_rows: Any
) -> list[tuple[int, dict[str, Any], Any]]:
    """Every row of a list section as (index, parsed values, dataclass row or None)."""
    if raw_rows is None:
        raw_rows = []
    if not isinstance(raw_rows, list):
        c.errors.append(_("{section} must be a list of rows").format(section=section.name))
        return []
    parsed = []
    for index, raw in enumerate(raw_rows):
        label = c.label(section.name, index, raw)
        if not isinstance(raw, Mapping):
            c.errors.append(_("{row}: a row must be a mapping {{key: value, …}}").format(row=label))
            continue
        values, row = _parse_row(c, section, label, raw)
        parsed.append((index, values, row))
    return parsed


def _parse_mapping(c: _Collector, section: Section, raw: Any) -> Any:
    """A single-mapping section (commission_scheme): its row, or None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        c.errors.append(
            _("{section} must be a mapping {{key: value, …}}").format(section=section.name)
        )
        return None
    return _parse_row(c, section, section.name, raw)[1]


def _flatten(c: _Collector, section: Section, label: str, raw: Mapping) -> dict:
    """A row with its nested keys (`max_waiver_pct: {…}`) spelled dotted, as the specs."""
    groups = {spec.group for spec in section.specs if spec.group}
    if not groups:
        return dict(raw)
    flat: dict = {}
    for key, value in raw.items():
        if key not in groups:
            flat[key] = value
        elif isinstance(value, Mapping):
            flat.update({f"{key}.{_plain(sub)}": v for sub, v in value.items()})
        else:
            subs = ", ".join(s.key.split(".", 1)[1] for s in section.specs if s.group == key)
            c.errors.append(
                _("{row}: {key} must be a mapping {{{keys}}}").format(row=label, key=key, keys=subs)
            )
    return flat


def _parse_row(c: _Collector, section: Section, label: str, raw: Mapping) -> tuple[dict, Any]:
    """One row's typed values, and its dataclass row (None when any key was refused)."""
    by_key = {spec.key: spec for spec in section.specs}
    if section.name == "bas" and True in raw and "on" not in raw:
        # Parsed elsewhere with YAML 1.1 rules, `on:` became the boolean True.
        raw = {("on" if k is True else k): v for k, v in raw.items()}
    errors_before = len(c.errors)
    raw = _flatten(c, section, label, raw)
    values: dict[str, Any] = {}
    row_ok = len(c.errors) == errors_before
    for key in raw:
        if key not in by_key:
            c.errors.append(
                _("{row}: unknown key {key} (allowed: {allowed})").format(
                    row=label, key=_plain(key), allowed=", ".join(by_key)
                )
            )
            row_ok = False
    for spec in section.specs:
        if spec.key not in raw:
            if spec.default is REQUIRED:
                c.errors.append(_("{row}: {key} is missing").format(row=label, key=spec.key))
                row_ok = False
            else:
                values[spec.name] = spec.default
            continue
        value, error = _parse_value(section, spec, raw[spec.key])
        if error:
            c.errors.append(f"{label}: {error}")
            row_ok = False
        else:
            values[spec.name] = value
    if section.name == "action_plans" and values.get("manual") is None and "channel" in values:
        values["manual"] = values["channel"] not in AUTOMATIC_CHANNELS
    return values, section.row(**values) if row_ok else None


def _check_refinancing_products(c: _Collector, rows: Parsed) -> None:
    seen: dict[str, int] = {}
    for index, values, row in rows:
        code = values.get("code")
        if code is None:
            continue
        label = _label(c, "refinancing_products", index, values)
        if code in seen:
            c.errors.append(
                _("{row}: code {code} is repeated (first in refinancing_products[{first}])").format(
                    row=label, code=code, first=seen[code]
                )
            )
            continue
        seen[code] = index
        if row is not None and row.max_dpd is not None and row.max_dpd < row.min_dpd:
            c.errors.append(_("{row}: max_dpd must not be below min_dpd").format(row=label))


def _check_exoneration_limits(c: _Collector, rows: Parsed, classifications: set[str]) -> None:
    seen: dict[tuple, int] = {}
    for index, values, _row in rows:
        key = tuple(values.get(k) for k in ("role", "classification", "min_installments_paid"))
        if None in key:
            continue  # an unreadable key was reported already
        label = _label(c, "exoneration_limits", index, values)
        if key in seen:
            c.errors.append(
                _(
                    "{row}: a limit for role {role}, classification {cls} from {n} installments "
                    "paid already exists (exoneration_limits[{first}])"
                ).format(row=label, role=key[0], cls=key[1], n=key[2], first=seen[key])
            )
        else:
            seen[key] = index
        if key[1] not in classifications:
            # Limits carry no management type: a code of any type will do.
            c.warnings.append(
                _("{row}: classification {code} is not declared").format(
                    row=label, code=_show(key[1])
                )
            )


# --- Validation --------------------------------------------------------------------------------


def validate_strategy(
    source: str | Mapping, *, written_templates: Collection[str] = ()
) -> ValidatedStrategy:
    """Parse and check a strategy (YAML text or an already loaded mapping).

    Raises StrategyValidationError with every error found; returns the document
    and the warnings otherwise. `written_templates` are the message/letter
    templates that exist (names, or a mapping name → channel), so action plans
    naming others, or naming one written for another channel, can be warned about.
    """
    lines: dict[str, list[int]] = {}
    if isinstance(source, str):
        try:
            data, lines = load_yaml(source)
        except yaml.YAMLError as exc:
            raise StrategyValidationError(
                [
                    _("the file is not valid YAML: {problem}").format(
                        problem=" ".join(str(exc).split())
                    )
                ]
            ) from exc
    else:
        data = source
    if not isinstance(data, Mapping):
        raise StrategyValidationError([_("a strategy must be a mapping of sections")])

    c = _Collector(lines)
    for key in data:
        if key not in TOP_LEVEL:
            c.errors.append(
                _("unknown top-level key {key} (allowed: {allowed})").format(
                    key=_plain(key), allowed=", ".join(TOP_LEVEL)
                )
            )
    for key in REQUIRED_TOP_LEVEL:
        if key not in data:
            c.errors.append(_("top-level key {key} is missing").format(key=key))

    name = data.get("name")
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if "name" in data and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        c.errors.append(_("name must be non-empty text of at most 200 characters"))
    usd_rate = Decimal(0)
    if "usd_rate" in data:
        rate_field = m.StrategyVersion._meta.get_field("usd_rate")
        usd_rate, error = _decimal(
            data["usd_rate"], rate_field.max_digits, rate_field.decimal_places
        )
        if error:
            c.errors.append(f"usd_rate {error}")
        elif usd_rate <= 0:
            c.errors.append(_("usd_rate must be greater than 0"))

    parsed = {name_: _parse_rows(c, SECTIONS[name_], data.get(name_)) for name_ in ROW_SECTIONS}
    types = _check_management_types(c, parsed["management_types"])
    tramos = _check_tramos(c, parsed["tramos"], types)
    classes = _check_classifications(c, parsed["classifications"], types)
    events = _check_events(c, parsed["events"])
    results = _check_results(c, parsed["results"], types, events)
    actions = _check_actions(c, parsed["actions"], types, tramos, classes)
    _check_opening_codes(c, types, tramos, classes, actions)
    _check_bas(c, parsed["bas"], types, actions, results, events)
    _check_action_plans(c, parsed["action_plans"], types, tramos)
    _check_templates(c, parsed["actions"], parsed["action_plans"], written_templates)
    _check_escalation(c, parsed["escalation"])
    _check_refinancing_products(c, parsed["refinancing_products"])
    all_classes = {code for codes in classes.values() for code in codes}
    _check_exoneration_limits(c, parsed["exoneration_limits"], all_classes)
    mappings = {
        name_: _parse_mapping(c, section, data.get(name_))
        for name_, section in MAPPING_SECTIONS.items()
    }

    if c.errors:
        raise StrategyValidationError(c.errors, c.warnings)
    document = StrategyDocument(
        name=name,
        usd_rate=usd_rate,
        **{key: [row for _i, _v, row in parsed[key]] for key in ROW_SECTIONS},
        **mappings,
    )
    return ValidatedStrategy(document=document, warnings=c.warnings)


def _type_ok(c: _Collector, section: str, index: int, values: dict, types: Collection[str]) -> bool:
    """Whether the row's type is declared (an error otherwise); False also when unreadable."""
    if "type" not in values:
        return False
    if values["type"] not in types:
        c.errors.append(
            _("{row}: type {type} is not a declared management type ({allowed})").format(
                row=_label(c, section, index, values),
                type=_show(values["type"]),
                allowed=", ".join(types) or "-",
            )
        )
        return False
    return True


def _raw_keys(section: str, values: dict) -> dict:
    """Parsed values under their file keys (from_code -> from), for row labels."""
    return {spec.key: values[spec.name] for spec in SECTIONS[section].specs if spec.name in values}


def _label(c: _Collector, section: str, index: int, values: dict) -> str:
    return c.label(section, index, _raw_keys(section, values))


def _check_management_types(c: _Collector, rows: Parsed) -> dict[str, ManagementTypeRow | None]:
    """The declared type codes (a row with a bad value still declares its code)."""
    types: dict[str, ManagementTypeRow | None] = {}
    first_index: dict[str, int] = {}
    for index, values, row in rows:
        code = values.get("code")
        if code is None:
            continue
        if code in first_index:
            c.errors.append(
                _("{row}: code {code} is repeated (first in management_types[{first}])").format(
                    row=_label(c, "management_types", index, values),
                    code=code,
                    first=first_index[code],
                )
            )
            continue
        first_index[code] = index
        types[code] = row
    if not rows:
        c.errors.append(_("management_types: at least one management type is needed"))
    # Thresholds: a client goes to the first type whose max_exposure covers it.
    previous = None
    for position, (index, values, row) in enumerate(rows):
        if row is None:
            continue
        label = _label(c, "management_types", index, values)
        last = position == len(rows) - 1
        if row.max_exposure is None and not last:
            c.errors.append(
                _("{row}: only the last management type may have max_exposure null").format(
                    row=label
                )
            )
        elif row.max_exposure is not None and last:
            c.errors.append(
                _(
                    "{row}: the last management type must have max_exposure null "
                    "(it takes every exposure above the previous one)"
                ).format(row=label)
            )
        if row.max_exposure is not None:
            if previous is not None and row.max_exposure <= previous:
                c.errors.append(
                    _("{row}: max_exposure must be greater than the previous one ({prev})").format(
                        row=label, prev=scalar(previous)
                    )
                )
            previous = row.max_exposure
    return types


def _check_tramos(c: _Collector, rows: Parsed, types: Mapping) -> dict[str, dict[int, TramoRow]]:
    by_type: dict[str, dict[int, tuple[int, TramoRow]]] = defaultdict(dict)
    for index, values, row in rows:
        if not _type_ok(c, "tramos", index, values, types) or row is None:
            continue
        label = _label(c, "tramos", index, values)
        if row.number in by_type[row.type]:
            c.errors.append(
                _("{row}: tramo {n} of type {type} is repeated (first in tramos[{first}])").format(
                    row=label, n=row.number, type=row.type, first=by_type[row.type][row.number][0]
                )
            )
            continue
        if row.to_day is not None and row.to_day < row.from_day:
            c.errors.append(_("{row}: to_day must not be before from_day").format(row=label))
        by_type[row.type][row.number] = (index, row)

    for type_code in types:
        numbered = by_type.get(type_code, {})
        if not numbered:
            c.errors.append(_("tramos: type {type} has no tramos").format(type=type_code))
            continue
        numbers = sorted(numbered)
        if numbers != list(range(1, len(numbers) + 1)):
            c.errors.append(
                _("tramos: the tramos of type {type} must be numbered 1..n; found {found}").format(
                    type=type_code, found=", ".join(map(str, numbers))
                )
            )
        ordered = [numbered[n] for n in numbers]
        for (i_prev, prev), (i_next, nxt) in itertools.pairwise(ordered):
            label = c.label("tramos", i_next, {"type": type_code, "number": nxt.number})
            prev_label = f"tramo {prev.number} ({_days(prev)}, tramos[{i_prev}])"
            if prev.to_day is None:
                c.errors.append(
                    _("{row}: {prev} is open-ended; only the last tramo may be").format(
                        row=label, prev=prev_label
                    )
                )
            elif nxt.from_day <= prev.to_day:
                c.errors.append(
                    _("{row}: days {days} overlap {prev}").format(
                        row=label, days=_days(nxt), prev=prev_label
                    )
                )
            elif nxt.from_day > prev.to_day + 1:
                c.errors.append(
                    _("{row}: days {a}–{b} belong to no tramo (gap after {prev})").format(
                        row=label, a=prev.to_day + 1, b=nxt.from_day - 1, prev=prev_label
                    )
                )
        last = ordered[-1][1]
        if last.to_day is not None:
            c.warnings.append(
                _(
                    "tramos: the last tramo of type {type} ends at day {day}; "
                    "cases past it stay in it"
                ).format(type=type_code, day=last.to_day)
            )
    return {t: {n: row for n, (_i, row) in numbered.items()} for t, numbered in by_type.items()}


def _days(tramo: TramoRow) -> str:
    return f"{tramo.from_day}–{tramo.to_day}" if tramo.to_day is not None else f"{tramo.from_day}+"


def _check_classifications(
    c: _Collector, rows: Parsed, types: Mapping
) -> dict[str, dict[str, ClassificationRow]]:
    by_type: dict[str, dict[str, ClassificationRow]] = defaultdict(dict)
    first: dict[tuple[str, str], int] = {}
    ranked: dict[str, list[tuple[int, ClassificationRow]]] = defaultdict(list)
    for index, values, row in rows:
        if not _type_ok(c, "classifications", index, values, types) or "code" not in values:
            continue
        key = (values["type"], values["code"])
        if key in first:
            c.errors.append(
                _(
                    "{row}: classification {code} is repeated (first in classifications[{first}])"
                ).format(
                    row=_label(c, "classifications", index, values), code=key[1], first=first[key]
                )
            )
            continue
        first[key] = index
        if row is not None:
            by_type[row.type][row.code] = row
            if not row.campaign:
                ranked[row.type].append((index, row))
    # The initial classification follows DPD (DOMAIN.md 3): thresholds must rise.
    for type_code in types:
        ordered = ranked.get(type_code, [])
        if not ordered:
            c.errors.append(
                _("classifications: type {type} has no (non-campaign) classification").format(
                    type=type_code
                )
            )
            continue
        previous = None
        for position, (index, row) in enumerate(ordered):
            label = c.label("classifications", index, {"type": row.type, "code": row.code})
            if row.max_dpd is None:
                if position != len(ordered) - 1:
                    c.errors.append(
                        _("{row}: only the last classification may have max_dpd null").format(
                            row=label
                        )
                    )
                continue
            if previous is not None and row.max_dpd <= previous:
                c.errors.append(
                    _("{row}: max_dpd must be greater than the previous one ({prev})").format(
                        row=label, prev=previous
                    )
                )
            previous = row.max_dpd
        if ordered[-1][1].max_dpd is not None:
            c.warnings.append(
                _(
                    "classifications: the last classification of type {type} ends at "
                    "{day} days; a client first seen later gets it anyway"
                ).format(type=type_code, day=ordered[-1][1].max_dpd)
            )
    return by_type


def _check_events(c: _Collector, rows: Parsed) -> set[str]:
    events: set[str] = set()
    for index, values, _row in rows:
        code = values.get("code")
        if code is None:
            continue
        label = _label(c, "events", index, values)
        if code not in KNOWN_EVENTS:
            c.errors.append(
                _("{row}: event {code} is not one the engine raises ({allowed})").format(
                    row=label, code=_show(code), allowed=", ".join(KNOWN_EVENTS)
                )
            )
        elif code in events:
            c.errors.append(_("{row}: event {code} is repeated").format(row=label, code=code))
        events.add(code)
    missing = [code for code in KNOWN_EVENTS if code not in events]
    if missing:
        c.warnings.append(
            _(
                "events: {codes} not declared; when the engine raises them the case keeps its code"
            ).format(codes=", ".join(missing))
        )
    return events & set(KNOWN_EVENTS)


def _check_results(
    c: _Collector, rows: Parsed, types: Mapping, events: set[str]
) -> dict[str, dict[str, ResultRow]]:
    by_type: dict[str, dict[str, ResultRow]] = defaultdict(dict)
    seen: dict[tuple[str, str], int] = {}
    for index, values, row in rows:
        if not _type_ok(c, "results", index, values, types) or "code" not in values:
            continue
        label = _label(c, "results", index, values)
        key = (values["type"], values["code"])
        if key in seen:
            c.errors.append(
                _("{row}: result {code} is repeated (first in results[{first}])").format(
                    row=label, code=key[1], first=seen[key]
                )
            )
            continue
        seen[key] = index
        if key[1] in events:
            # A BAS row's `on` names a result or an event: the two must not collide.
            c.errors.append(
                _("{row}: result code {code} is also an event code").format(row=label, code=key[1])
            )
        if row is not None:
            by_type[row.type][row.code] = row
    for type_code in types:
        if not by_type.get(type_code):
            c.errors.append(_("results: type {type} has no result codes").format(type=type_code))
    return by_type


def _check_actions(
    c: _Collector, rows: Parsed, types: Mapping, tramos: Mapping, classes: Mapping
) -> dict[str, dict[str, ActionRow]]:
    by_type: dict[str, dict[str, ActionRow]] = defaultdict(dict)
    codes: dict[tuple[str, str], int] = {}
    slots: dict[tuple[str, str, int, int], int] = {}
    for index, values, row in rows:
        if not _type_ok(c, "actions", index, values, types) or "code" not in values:
            continue
        label = _label(c, "actions", index, values)
        key = (values["type"], values["code"])
        if key in codes:
            c.errors.append(
                _("{row}: code {code} is repeated (first in actions[{first}])").format(
                    row=label, code=key[1], first=codes[key]
                )
            )
            continue
        codes[key] = index
        if row is None:
            continue
        by_type[row.type][row.code] = row
        type_tramos = tramos.get(row.type, {})
        if row.classification not in classes.get(row.type, {}):
            c.errors.append(
                _("{row}: classification {code} is not a classification of type {type}").format(
                    row=label, code=_show(row.classification), type=row.type
                )
            )
        if row.tramo not in type_tramos:
            c.errors.append(
                _("{row}: tramo {n} is not a tramo of type {type}").format(
                    row=label, n=row.tramo, type=row.type
                )
            )
        elif row.visit > type_tramos[row.tramo].max_visits:
            c.warnings.append(
                _("{row}: visit {v} is beyond tramo {n}'s max_visits ({max})").format(
                    row=label, v=row.visit, n=row.tramo, max=type_tramos[row.tramo].max_visits
                )
            )
        slot = (row.type, row.classification, row.tramo, row.visit)
        if slot in slots:
            c.errors.append(
                _(
                    "{row}: classification {cls}, tramo {n}, visit {v} already has a code "
                    "(actions[{first}])"
                ).format(row=label, cls=slot[1], n=slot[2], v=slot[3], first=slots[slot])
            )
        else:
            slots[slot] = index
    for type_code in types:
        if not by_type.get(type_code):
            c.errors.append(
                _("actions: type {type} has no suggested actions").format(type=type_code)
            )
    return by_type


def _check_opening_codes(
    c: _Collector, types: Mapping, tramos: Mapping, classes: Mapping, actions: Mapping
) -> None:
    """Warn when a client first seen at some DPD would have no code to open at.

    The opening code is the classification's visit-1 code of the tramo, or of the
    highest tramo below it (selectors.opening_action_for).
    """
    for type_code in types:
        openings = {
            (a.classification, a.tramo) for a in actions.get(type_code, {}).values() if a.visit == 1
        }
        low = 0
        for cls in classes.get(type_code, {}).values():
            if cls.campaign:
                continue
            high = cls.max_dpd
            for tramo in tramos.get(type_code, {}).values():
                overlaps = (high is None or tramo.from_day <= high) and (
                    tramo.to_day is None or tramo.to_day >= low
                )
                if overlaps and not any(
                    (cls.code, n) in openings for n in range(1, tramo.number + 1)
                ):
                    c.warnings.append(
                        _(
                            "actions: type {type}: a client first seen in tramo {n} with "
                            "classification {cls} has no visit-1 code to open at"
                        ).format(type=type_code, n=tramo.number, cls=cls.code)
                    )
            if high is None:
                break
            low = high + 1


def _check_bas(
    c: _Collector,
    rows: Parsed,
    types: Mapping,
    actions: Mapping,
    results: Mapping,
    events: set[str],
) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    for index, values, row in rows:
        if not _type_ok(c, "bas", index, values, types) or row is None:
            continue
        label = _label(c, "bas", index, values)
        type_actions = actions.get(row.type, {})
        type_results = results.get(row.type, {})
        if row.from_code not in type_actions:
            c.errors.append(
                _("{row}: from {code} is not a suggested action of type {type}").format(
                    row=label, code=_show(row.from_code), type=row.type
                )
            )
        if row.on_code not in type_results and row.on_code not in events:
            c.errors.append(
                _(
                    "{row}: on {code} is neither a result code of type {type} ({results}) "
                    "nor a declared event ({events})"
                ).format(
                    row=label,
                    code=_show(row.on_code),
                    type=row.type,
                    results=", ".join(type_results) or "-",
                    events=", ".join(e for e in KNOWN_EVENTS if e in events) or "-",
                )
            )
        if row.to_code not in type_actions:
            c.errors.append(
                _("{row}: to {code} is not a suggested action of type {type}").format(
                    row=label, code=_show(row.to_code), type=row.type
                )
            )
        key = (row.type, row.from_code, row.on_code)
        if key in seen:
            c.errors.append(
                _(
                    "{row}: a row for type {type}, from {frm}, on {on} already exists "
                    "(bas[{first}])"
                ).format(
                    row=label,
                    type=row.type,
                    frm=row.from_code,
                    on=row.on_code,
                    first=seen[key],
                )
            )
        else:
            seen[key] = index
    # thesis 5.2.10 / DOMAIN.md 3: a missing pair keeps the code; say so once per type.
    on_codes_order = [e for e in KNOWN_EVENTS if e in events]
    for type_code in types:
        ons = [*results.get(type_code, {}), *on_codes_order]
        missing = [
            (frm, on)
            for frm in actions.get(type_code, {})
            for on in ons
            if (type_code, frm, on) not in seen
        ]
        if missing:
            total = len(actions.get(type_code, {})) * len(ons)
            c.warnings.append(
                _(
                    "bas: type {type}: {n} of {total} (action, result/event) pairs have no row; "
                    "a missing pair keeps the code (e.g. {examples})"
                ).format(
                    type=type_code,
                    n=len(missing),
                    total=total,
                    examples=", ".join(f"{frm} on {on}" for frm, on in missing[:EXAMPLES]),
                )
            )


def _check_action_plans(
    c: _Collector,
    rows: Parsed,
    types: Mapping,
    tramos: Mapping,
) -> None:
    seen: dict[tuple[str, int, int], int] = {}
    for index, values, row in rows:
        if not _type_ok(c, "action_plans", index, values, types) or row is None:
            continue
        label = _label(c, "action_plans", index, values)
        tramo = tramos.get(row.type, {}).get(row.tramo)
        if tramo is None:
            c.errors.append(
                _("{row}: tramo {n} is not a tramo of type {type}").format(
                    row=label, n=row.tramo, type=row.type
                )
            )
        if row.to_day < row.from_day:
            c.errors.append(_("{row}: to_day must not be before from_day").format(row=label))
        elif tramo is not None and (
            row.from_day < tramo.from_day
            or (tramo.to_day is not None and row.to_day > tramo.to_day)
        ):
            c.warnings.append(
                _("{row}: days {a}–{b} fall outside tramo {n} ({days})").format(
                    row=label, a=row.from_day, b=row.to_day, n=row.tramo, days=_days(tramo)
                )
            )
        key = (row.type, row.tramo, row.order)
        if key in seen:
            c.errors.append(
                _("{row}: order {order} is repeated in tramo {n} (action_plans[{first}])").format(
                    row=label, order=row.order, n=row.tramo, first=seen[key]
                )
            )
        else:
            seen[key] = index
        if (row.channel in AUTOMATIC_CHANNELS) == row.manual:
            c.warnings.append(
                _("{row}: channel {channel} is usually {kind}").format(
                    row=label,
                    channel=row.channel,
                    kind=_("automatic") if row.channel in AUTOMATIC_CHANNELS else _("manual"),
                )
            )


def _check_templates(
    c: _Collector, actions: Parsed, plans: Parsed, written_templates: Collection[str]
) -> None:
    """One warning naming every template not written yet (DOMAIN.md 7.2: not an error),
    and, when the channels of the written ones are known (a mapping name → channel),
    one for each template written for another channel than the one that sends it."""
    named = [(values.get("letter_template"), "letter") for _i, values, _row in actions]
    named += [(values.get("template"), values.get("channel")) for _i, values, _row in plans]
    unwritten = list(dict.fromkeys(n for n, _ch in named if n and n not in written_templates))
    if unwritten:
        c.warnings.append(
            _(
                "templates: none written yet for {names}; those actions get a plain default "
                "text built from the action"
            ).format(names=", ".join(unwritten))
        )
    if not isinstance(written_templates, Mapping):
        return
    mismatched = dict.fromkeys(
        (name, channel, written_templates[name])
        for name, channel in named
        if name in written_templates and channel and written_templates[name] != channel
    )
    for name, channel, written in mismatched:
        c.warnings.append(
            _(
                "templates: {name} is written for {written} but sent by {channel}; "
                "that action gets a plain default text"
            ).format(name=name, written=written, channel=channel)
        )


def _check_escalation(c: _Collector, rows: Parsed) -> None:
    levels: dict[int, tuple[int, EscalationRow]] = {}
    for index, values, row in rows:
        if row is None:
            continue
        label = _label(c, "escalation", index, values)
        if row.level not in ESCALATION_LEVELS:
            c.errors.append(
                _("{row}: level must be one of {allowed}").format(
                    row=label, allowed=", ".join(map(str, ESCALATION_LEVELS))
                )
            )
        elif row.level in levels:
            c.errors.append(
                _("{row}: level {level} is repeated (escalation[{first}])").format(
                    row=label, level=row.level, first=levels[row.level][0]
                )
            )
        else:
            levels[row.level] = (index, row)
    ordered = [levels[level] for level in sorted(levels)]
    for (_i, prev), (index, nxt) in itertools.pairwise(ordered):
        if nxt.after_days < prev.after_days:
            c.errors.append(
                _("{row}: after_days {a} is less than level {level}'s ({b})").format(
                    row=c.label("escalation", index, {"level": nxt.level}),
                    a=nxt.after_days,
                    level=prev.level,
                    b=prev.after_days,
                )
            )
    if not rows:
        c.warnings.append(_("escalation: no levels; red actions are not escalated"))
