"""The strategy file's shape (DOMAIN.md 7.2): plain row types, key specs, canonical dump.

`dump_document` writes a document back in a canonical text (fixed key order,
one flow mapping per row, codes quoted when they look like numbers), so the
sha256 of a dump identifies a strategy's content whatever the source file's
comments or spacing. Parsing and checking live in `strategy.validation`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models

from strategy import models as m
from strategy.yaml_io import flow_row, mapping_pairs, scalar

# The events the engine raises (DOMAIN.md 3); a strategy may map only these.
KNOWN_EVENTS = ("60", "70", "80", "90", "PG", "LQ", "CA", "TR")
CHANNELS = ("sms", "whatsapp", "ivr", "email", "letter", "call", "visit", "refinancing_offer")
# CR Gestión: the system sends these; the asesor does the rest.
AUTOMATIC_CHANNELS = frozenset({"sms", "whatsapp", "ivr", "email", "letter"})
WHERE = ("home", "business", "work")
# Ley 29571 art. 62: only the debtor and the guarantor may be told about the debt.
WHOM = ("client", "guarantor")
ROLES = ("asesor", "jefe_agencia", "jefe_zonal", "gerente")
ESCALATION_LEVELS = (2, 3, 4)  # asesor is level 1; the gerente is level 4
EXAMPLES = 5  # how many examples a summarising warning names


# --- The document ------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagementTypeRow:
    code: str
    name: str
    max_exposure: Decimal | None


@dataclass(frozen=True)
class TramoRow:
    type: str
    number: int
    from_day: int
    to_day: int | None
    max_visits: int
    daily_cap: int


@dataclass(frozen=True)
class ClassificationRow:
    type: str
    code: str
    name: str
    max_dpd: int | None
    campaign: bool = False


@dataclass(frozen=True)
class ResultRow:
    type: str
    code: str
    name: str
    promise: bool = False
    to_phone_days: int | None = None


@dataclass(frozen=True)
class EventRow:
    code: str
    name: str


@dataclass(frozen=True)
class ActionRow:
    type: str
    code: str
    classification: str
    tramo: int
    visit: int
    where: str
    whom: str
    instrument: str
    message: str
    letter_template: str | None = None


@dataclass(frozen=True)
class BasRow:
    type: str
    from_code: str
    on_code: str
    to_code: str


@dataclass(frozen=True)
class ActionPlanRow:
    type: str
    tramo: int
    order: int
    channel: str
    from_day: int
    to_day: int
    template: str | None
    manual: bool


@dataclass(frozen=True)
class EscalationRow:
    level: int
    after_days: int


@dataclass
class StrategyDocument:
    """A whole strategy as plain values; what is published and what is dumped."""

    name: str
    usd_rate: Decimal
    management_types: list[ManagementTypeRow] = field(default_factory=list)
    tramos: list[TramoRow] = field(default_factory=list)
    classifications: list[ClassificationRow] = field(default_factory=list)
    results: list[ResultRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    actions: list[ActionRow] = field(default_factory=list)
    bas: list[BasRow] = field(default_factory=list)
    action_plans: list[ActionPlanRow] = field(default_factory=list)
    escalation: list[EscalationRow] = field(default_factory=list)
    # Kept verbatim (JSON values) until the money rules give them models (DOMAIN.md 6).
    refinancing_products: list[dict] = field(default_factory=list)
    exoneration_limits: list[dict] = field(default_factory=list)
    commission_scheme: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ROW_SECTIONS}


# --- Field specifications -------------------------------------------------------------------

CODE, TEXT, INT, DECIMAL, BOOL = "code", "text", "int", "decimal", "bool"
REQUIRED = object()


@dataclass(frozen=True)
class Spec:
    """One key of a row: how to read it, and whether the dump may leave it out."""

    key: str
    kind: str
    attr: str = ""
    default: Any = REQUIRED  # REQUIRED: the key must be present
    nullable: bool = False
    choices: tuple = ()
    minimum: int = 0
    omit_default: bool = False  # the dump writes the key only when it differs from default

    @property
    def name(self) -> str:
        return self.attr or self.key


@dataclass(frozen=True)
class Section:
    name: str
    row: type
    model: type[models.Model]
    specs: tuple[Spec, ...]
    label: tuple[str, ...]  # the keys that identify a row in messages
    # The key that orders the rows sharing the other label keys (the editor's ↑/↓).
    ordered_by: str | None = None


def _nullable(key: str, kind: str, **kw) -> Spec:
    return Spec(key, kind, default=None, nullable=True, **kw)


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "management_types",
            ManagementTypeRow,
            m.ManagementType,
            (Spec("code", CODE), Spec("name", TEXT), _nullable("max_exposure", DECIMAL)),
            ("code",),
        ),
        Section(
            "tramos",
            TramoRow,
            m.Tramo,
            (
                Spec("type", CODE),
                Spec("number", INT, minimum=1),
                Spec("from_day", INT),
                _nullable("to_day", INT),
                Spec("max_visits", INT, minimum=1),
                Spec("daily_cap", INT, minimum=1),
            ),
            ("type", "number"),
        ),
        Section(
            "classifications",
            ClassificationRow,
            m.Classification,
            (
                Spec("type", CODE),
                Spec("code", CODE),
                Spec("name", TEXT),
                _nullable("max_dpd", INT),
                Spec("campaign", BOOL, default=False, omit_default=True),
            ),
            ("type", "code"),
        ),
        Section(
            "results",
            ResultRow,
            m.ResultCode,
            (
                Spec("type", CODE),
                Spec("code", CODE),
                Spec("name", TEXT),
                Spec("promise", BOOL, default=False, omit_default=True),
                _nullable("to_phone_days", INT, minimum=1, omit_default=True),
            ),
            ("type", "code"),
        ),
        Section(
            "events", EventRow, m.EventCode, (Spec("code", CODE), Spec("name", TEXT)), ("code",)
        ),
        Section(
            "actions",
            ActionRow,
            m.SuggestedAction,
            (
                Spec("type", CODE),
                Spec("code", CODE),
                Spec("classification", CODE),
                Spec("tramo", INT, minimum=1),
                Spec("visit", INT, minimum=1),
                Spec("where", TEXT, choices=WHERE),
                Spec("whom", TEXT, choices=WHOM),
                Spec("instrument", TEXT),
                Spec("message", TEXT),
                _nullable("letter_template", TEXT),
            ),
            ("type", "code"),
        ),
        Section(
            "bas",
            BasRow,
            m.BasTransition,
            (
                Spec("type", CODE),
                Spec("from", CODE, attr="from_code"),
                Spec("on", CODE, attr="on_code"),
                Spec("to", CODE, attr="to_code"),
            ),
            ("type", "from", "on"),
        ),
        Section(
            "action_plans",
            ActionPlanRow,
            m.ActionPlanItem,
            (
                Spec("type", CODE),
                Spec("tramo", INT, minimum=1),
                Spec("order", INT, minimum=1),
                Spec("channel", TEXT, choices=CHANNELS),
                Spec("from_day", INT),
                Spec("to_day", INT),
                _nullable("template", TEXT),
                # Absent: decided by the channel (CR Gestión's automatic channels).
                _nullable("manual", BOOL),
            ),
            ("type", "tramo", "order"),
            ordered_by="order",
        ),
        Section(
            "escalation",
            EscalationRow,
            m.EscalationLevel,
            (Spec("level", INT), Spec("after_days", INT)),
            ("level",),
        ),
    )
}
ROW_SECTIONS = tuple(SECTIONS)
VERBATIM_SECTIONS = ("refinancing_products", "exoneration_limits", "commission_scheme")
TOP_LEVEL = ("name", "usd_rate", *ROW_SECTIONS, *VERBATIM_SECTIONS)
REQUIRED_TOP_LEVEL = ("name", "usd_rate", *ROW_SECTIONS)

# Key order of the verbatim sections in a dump (DOMAIN.md 7.2); other keys follow, sorted.
REFINANCING_KEYS = (
    "code",
    "name",
    "min_dpd",
    "max_dpd",
    "max_term_months",
    "extra_term_months",
    "fee",
    "tea",
    "min_down_payment_pct",
    "min_installment",
    "max_waiver_pct",
)
WAIVER_KEYS = ("late_interest", "collection_fees", "commissions")
EXONERATION_KEYS = ("role", "classification", "min_installments_paid", "max_pct")
COMMISSION_KEYS = (
    "per_cured_client",
    "collected_share",
    "per_refinanced_client",
    "office_target_multiplier",
    "external_agency_share",
    "effective_days",
)


# --- Writing ----------------------------------------------------------------------------------


def row_mapping(section_name: str, row: Any) -> dict[str, Any]:
    """A row as file keys (from/on/to), leaving out keys the dump omits when default."""
    section = SECTIONS[section_name]
    values = asdict(row) if not isinstance(row, Mapping) else row
    out: dict[str, Any] = {}
    for spec in section.specs:
        value = values[spec.name]
        if spec.omit_default and value == spec.default:
            continue
        out[spec.key] = value
    return out


def dump_document(document: StrategyDocument) -> str:
    """The canonical text of a strategy (DOMAIN.md 7.2 shape and key order)."""
    out = [f"name: {scalar(document.name)}", f"usd_rate: {scalar(document.usd_rate)}"]
    for name in ROW_SECTIONS:
        out.extend(_dump_rows(name, [row_mapping(name, r) for r in getattr(document, name)]))
    nested = {"max_waiver_pct": WAIVER_KEYS}
    for name, order in (
        ("refinancing_products", REFINANCING_KEYS),
        ("exoneration_limits", EXONERATION_KEYS),
    ):
        rows = getattr(document, name)
        if rows:
            out.append(f"{name}:")
            out.extend(
                flow_row(mapping_pairs(r, order, nested), first_prefix="  - ", indent=5)
                for r in rows
            )
    if document.commission_scheme:
        out.append(
            flow_row(
                mapping_pairs(document.commission_scheme, COMMISSION_KEYS),
                first_prefix="commission_scheme: ",
                indent=2,
            )
        )
    return "\n".join(out) + "\n"


def _dump_rows(name: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    rows = list(rows)
    if not rows:
        return [f"{name}: []"]
    # Known keys are written plain: `on:` is the format's key, whatever YAML 1.1 thinks.
    return [f"{name}:"] + [
        flow_row(((k, scalar(v)) for k, v in row.items()), first_prefix="  - ", indent=5)
        for row in rows
    ]
