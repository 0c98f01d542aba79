"""The strategy file's shape (DOMAIN.md 7.2): plain row types, key specs, canonical dump.

`dump_document` writes a document back in a canonical text (fixed key order,
one flow mapping per row, codes quoted when they look like numbers), so the
sha256 of a dump identifies a strategy's content whatever the source file's
comments or spacing. Parsing and checking live in `strategy.validation`.

A key may be nested one level in the file (`max_waiver_pct: {late_interest: 1}`):
its `Spec.key` is then dotted (`max_waiver_pct.late_interest`) and the row holds
it flat. `row_mapping` gives rows with the dotted keys (the validator reads both
forms); only the dump nests them back.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models

from strategy import models as m
from strategy.yaml_io import flow, flow_row, scalar

# The events the engine raises (DOMAIN.md 3); a strategy may map only these.
KNOWN_EVENTS = ("60", "70", "80", "90", "PG", "LQ", "CA", "TR")
RESCHEDULING_EVENT = "80"  # Reprogramación: a credit refinanced or rescheduled
CHANNELS = ("sms", "whatsapp", "ivr", "email", "letter", "call", "visit", "refinancing_offer")
# CR Gestión: the system sends these; the asesor does the rest.
AUTOMATIC_CHANNELS = frozenset({"sms", "whatsapp", "ivr", "email", "letter"})
WHERE = ("home", "business", "work")
# Ley 29571 art. 62: only the debtor and the guarantor may be told about the debt.
WHOM = ("client", "guarantor")
ROLES = ("asesor", "jefe_agencia", "jefe_zonal", "gerente")
# The charges a refinancing or an exoneration may waive (DOMAIN.md 7.1's optional columns).
WAIVER_CONCEPTS = ("late_interest", "collection_fees", "commissions")
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


@dataclass(frozen=True)
class RefinancingProductRow:
    """Thesis 5.2.3. Money in soles; fractions 0..1 (0.45 = 45 %)."""

    code: str
    name: str
    min_dpd: int
    max_dpd: int | None
    max_term_months: int
    extra_term_months: int
    fee: Decimal
    tea: Decimal
    min_down_payment_pct: Decimal
    min_installment: Decimal
    waiver_late_interest: Decimal
    waiver_collection_fees: Decimal
    waiver_commissions: Decimal

    def qualifies(self, dpd: int) -> bool:
        """Whether a credit this many days past due may take the product."""
        return self.min_dpd <= dpd and (self.max_dpd is None or dpd <= self.max_dpd)

    def max_waiver(self, concept: str) -> Decimal:
        return getattr(self, f"waiver_{concept}")


@dataclass(frozen=True)
class ExonerationLimitRow:
    """Thesis 5.2.6: what `role` may waive alone for a client of `classification`
    who paid at least `min_installments_paid` installments."""

    role: str
    classification: str
    min_installments_paid: int
    max_pct: Decimal


@dataclass(frozen=True)
class CommissionSchemeRow:
    """Thesis 5.2.2. The defaults are what a strategy without a scheme pays: nothing."""

    per_cured_client: Decimal = Decimal(0)
    collected_share: Decimal = Decimal(0)
    per_refinanced_client: Decimal = Decimal(0)
    office_target_multiplier: Decimal = Decimal(1)
    external_agency_share: Decimal = Decimal(0)
    effective_days: int = 7


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
    refinancing_products: list[RefinancingProductRow] = field(default_factory=list)
    exoneration_limits: list[ExonerationLimitRow] = field(default_factory=list)
    # A single mapping (MAPPING_SECTIONS); None when the file has none.
    commission_scheme: CommissionSchemeRow | None = None

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
    maximum: int | Decimal | None = None
    omit_default: bool = False  # the dump writes the key only when it differs from default

    @property
    def name(self) -> str:
        return self.attr or self.key

    @property
    def group(self) -> str | None:
        """The file key this one is nested under (`max_waiver_pct`), if any."""
        return self.key.split(".", 1)[0] if "." in self.key else None


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
# The money rules (DOMAIN.md 6): optional sections, absent in older strategy files.
_FRACTION = {"maximum": Decimal(1)}
SECTIONS.update(
    {
        s.name: s
        for s in (
            Section(
                "refinancing_products",
                RefinancingProductRow,
                m.RefinancingProduct,
                (
                    Spec("code", CODE),
                    Spec("name", TEXT),
                    Spec("min_dpd", INT),
                    Spec("max_dpd", INT, nullable=True),  # null: no upper end
                    Spec("max_term_months", INT, minimum=1),
                    Spec("extra_term_months", INT, default=0),
                    Spec("fee", DECIMAL, default=Decimal(0)),
                    Spec("tea", DECIMAL),
                    Spec("min_down_payment_pct", DECIMAL, default=Decimal(0), **_FRACTION),
                    Spec("min_installment", DECIMAL, default=Decimal(0)),
                    *(
                        Spec(
                            f"max_waiver_pct.{concept}",
                            DECIMAL,
                            attr=f"waiver_{concept}",
                            default=Decimal(0),
                            **_FRACTION,
                        )
                        for concept in WAIVER_CONCEPTS
                    ),
                ),
                ("code",),
            ),
            Section(
                "exoneration_limits",
                ExonerationLimitRow,
                m.ExonerationLimit,
                (
                    Spec("role", TEXT, choices=ROLES),
                    Spec("classification", CODE),
                    Spec("min_installments_paid", INT, default=0),
                    Spec("max_pct", DECIMAL, **_FRACTION),
                ),
                ("role", "classification", "min_installments_paid"),
            ),
        )
    }
)
ROW_SECTIONS = tuple(SECTIONS)
# Sections a file may leave out (an empty list then; the dump leaves them out too).
OPTIONAL_SECTIONS = ("refinancing_products", "exoneration_limits")

# Sections that are one mapping, not a list of rows: the same specs, at most one row
# per version. Kept apart from SECTIONS, whose every entry is a list.
MAPPING_SECTIONS: dict[str, Section] = {
    "commission_scheme": Section(
        "commission_scheme",
        CommissionSchemeRow,
        m.CommissionScheme,
        (
            Spec("per_cured_client", DECIMAL, default=Decimal(0)),
            Spec("collected_share", DECIMAL, default=Decimal(0), **_FRACTION),
            Spec("per_refinanced_client", DECIMAL, default=Decimal(0)),
            Spec("office_target_multiplier", DECIMAL, default=Decimal(1)),
            Spec("external_agency_share", DECIMAL, default=Decimal(0), **_FRACTION),
            Spec("effective_days", INT, default=7, minimum=1),
        ),
        (),
    )
}
TOP_LEVEL = ("name", "usd_rate", *ROW_SECTIONS, *MAPPING_SECTIONS)
REQUIRED_TOP_LEVEL = (
    "name",
    "usd_rate",
    *(name for name in ROW_SECTIONS if name not in OPTIONAL_SECTIONS),
)


# --- Writing ----------------------------------------------------------------------------------


def row_mapping(section_name: str, row: Any) -> dict[str, Any]:
    """A row as file keys (from/on/to; nested keys dotted), leaving out keys the dump
    omits when default. `validate_strategy` reads this shape as well as the file's."""
    section = SECTIONS.get(section_name) or MAPPING_SECTIONS[section_name]
    values = asdict(row) if not isinstance(row, Mapping) else row
    out: dict[str, Any] = {}
    for spec in section.specs:
        value = values[spec.name]
        if spec.omit_default and value == spec.default:
            continue
        out[spec.key] = value
    return out


def nested(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys back under their group, in spec order: the file's shape."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        group, _dot, sub = key.partition(".")
        if sub:
            out.setdefault(group, {})[sub] = value
        else:
            out[key] = value
    return out


def dump_document(document: StrategyDocument) -> str:
    """The canonical text of a strategy (DOMAIN.md 7.2 shape and key order)."""
    out = [f"name: {scalar(document.name)}", f"usd_rate: {scalar(document.usd_rate)}"]
    for name in ROW_SECTIONS:
        rows = getattr(document, name)
        if not rows and name in OPTIONAL_SECTIONS:
            continue
        out.extend(_dump_rows(name, [nested(row_mapping(name, r)) for r in rows]))
    for name in MAPPING_SECTIONS:
        row = getattr(document, name)
        if row is not None:
            out.append(
                flow_row(_pairs(nested(row_mapping(name, row))), first_prefix=f"{name}: ", indent=2)
            )
    return "\n".join(out) + "\n"


def _pairs(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    # Known keys are written plain: `on:` is the format's key, whatever YAML 1.1 thinks.
    return [(k, flow(v, tuple(v)) if isinstance(v, Mapping) else scalar(v)) for k, v in row.items()]


def _dump_rows(name: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    rows = list(rows)
    if not rows:
        return [f"{name}: []"]
    return [f"{name}:"] + [flow_row(_pairs(row), first_prefix="  - ", indent=5) for row in rows]
