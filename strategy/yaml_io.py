"""Reading and writing strategy YAML: a strict loader and the canonical emitter.

The loader follows YAML 1.2 rather than PyYAML's YAML 1.1 defaults: the BAS rows
use the key `on:`, which YAML 1.1 turns into the boolean True, and codes such as
`010` or `1:30` would silently become numbers (octal, sexagesimal). Only
true/false are booleans here, only plain decimal digits are integers, and dates
stay strings.

The emitter writes one flow mapping per row (the DOMAIN.md 7.2 shape) with a
fixed key order, so the same document always gives the same bytes: that text is
what the published version's sha256 is computed from.
"""

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_STR = "tag:yaml.org,2002:str"
_DROPPED = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


class StrategyLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars and duplicate keys refused."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node, deep=False):
        # PyYAML keeps the last of two equal keys without a word; in a strategy
        # file that hides a typo (two `to:` in one BAS row), so refuse it.
        seen: set[str] = set()
        for key_node, _value in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


StrategyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
StrategyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
StrategyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9]+[eE][-+]?[0-9]+
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> tuple[Any, dict[str, list[int]]]:
    """Parse `text`; return the data and, per top-level list, the line of each row.

    Raises yaml.YAMLError on bad syntax or a duplicate key.
    """
    loader = StrategyLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[str, list[int]] = {}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and isinstance(value_node, SequenceNode):
                lines[key_node.value] = [item.start_mark.line + 1 for item in value_node.value]
    return data, lines


# --- Emitting -------------------------------------------------------------------------

WIDTH = 100
_PLAIN_FORBIDDEN_START = set("-?:,[]{}#&*!|>'\"%@` ")
_FLOW_INDICATORS = set(",[]{}#")


def _resolves_to_str(value: str) -> bool:
    # Resolver.resolve only reads class attributes, so the class can stand in for self.
    # Both loaders are asked, so a dump is read the same by any YAML 1.1 reader too
    # (`on`, `yes`, `2024-01-01` get quoted).
    return all(
        yaml.resolver.Resolver.resolve(loader, ScalarNode, value, (True, False)) == _STR
        for loader in (StrategyLoader, yaml.SafeLoader)
    )


def _plain_ok(value: str) -> bool:
    return bool(
        value
        and value == value.strip()
        and value[0] not in _PLAIN_FORBIDDEN_START
        and not (_FLOW_INDICATORS & set(value))
        and ": " not in value
        and not value.endswith(":")
        and value.isprintable()
        and _resolves_to_str(value)
    )


def _double_quoted(value: str) -> str:
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def format_decimal(value: Decimal) -> str:
    """Shortest plain form: 30000.00 -> 30000, 3.7500 -> 3.75."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def scalar(value: Any) -> str:
    """One YAML scalar in canonical form."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r}")
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
            if "." not in text:
                text += ".0"
        return text
    if isinstance(value, str):
        return value if _plain_ok(value) else _double_quoted(value)
    raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")


def flow(value: Any, key_order: Sequence[str] = (), nested: Mapping | None = None) -> str:
    """A scalar, or a mapping/list written inline (see `mapping_pairs` for the key order)."""
    if isinstance(value, Mapping):
        pairs = mapping_pairs(value, key_order, nested)
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    return scalar(value)


def mapping_pairs(
    mapping: Mapping, key_order: Sequence[str] = (), nested: Mapping | None = None
) -> list[tuple[str, str]]:
    """(key, value text) pairs: keys of `key_order` first, in that order, then the rest sorted.

    A fixed order matters because PostgreSQL's jsonb does not keep the file's key
    order; `nested` gives the order for mapping values (key -> key order).
    """
    nested = nested or {}
    known = [k for k in key_order if k in mapping]
    rest = sorted((k for k in mapping if k not in key_order), key=str)
    return [(_key(k), flow(mapping[k], nested.get(k, ()))) for k in [*known, *rest]]


def _key(name: Any) -> str:
    return scalar(name) if isinstance(name, str) else scalar(str(name))


def flow_row(pairs: Iterable[tuple[str, str]], *, first_prefix: str, indent: int) -> str:
    """`{k: v, ...}` after `first_prefix`, wrapped at WIDTH onto lines indented by `indent`."""
    parts = [f"{k}: {v}" for k, v in pairs]
    if not parts:
        return first_prefix + "{}"
    lines: list[str] = []
    current = first_prefix + "{"
    for i, part in enumerate(parts):
        piece = part + ("}" if i == len(parts) - 1 else ",")
        opening = current.endswith("{")
        candidate = current + ("" if opening else " ") + piece
        if len(candidate) > WIDTH and not opening:
            lines.append(current)
            current = " " * indent + piece
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)
