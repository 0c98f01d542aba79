"""The versioned collections strategy (thesis section V plus CR Gestión's action plans).

Every table hangs off a `StrategyVersion`; publishing writes a whole new version
and flips `is_active`, so a running cycle keeps reading the version it started with
and a change never edits history. Codes are strings, as in the strategy file.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class StrategyVersion(models.Model):
    number = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    usd_rate = models.DecimalField(_("USD rate"), max_digits=8, decimal_places=4)
    is_active = models.BooleanField(_("active"), default=False)
    published_at = models.DateTimeField(_("published at"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    sha256 = models.CharField(max_length=64, help_text=_("hash of the canonical dump"))
    source = models.TextField(_("source file"), blank=True)
    source_name = models.CharField(_("source file name"), max_length=255, blank=True)
    warnings = models.JSONField(_("validation warnings"), default=list, blank=True)
    # Rows added, removed and changed per section against the version it replaced
    # (strategy.diff); {"first": true} for the first one.
    diff = models.JSONField(_("changes against the previous version"), default=dict, blank=True)
    replaced = models.PositiveIntegerField(_("replaced version"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["source"])

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_strategy"
            )
        ]
        verbose_name = _("strategy version")
        verbose_name_plural = _("strategy versions")

    def __str__(self) -> str:
        return f"v{self.number} {self.name}"


class VersionedRow(models.Model):
    version = models.ForeignKey(StrategyVersion, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0, help_text=_("order in the file"))

    class Meta:
        abstract = True
        ordering = ["version", "position"]


class ManagementType(VersionedRow):
    """Tipo de gestión (5.2.1): A Masiva, B Selectiva, by the client's exposure."""

    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=100)
    max_exposure = models.DecimalField(
        _("maximum exposure (PEN)"), max_digits=14, decimal_places=2, null=True, blank=True
    )

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="mtype_version_code")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Tramo(VersionedRow):
    """A band of days past due; `to_day` null means open-ended (366+)."""

    type = models.CharField(_("management type"), max_length=10)
    number = models.PositiveSmallIntegerField(_("tramo"))
    from_day = models.PositiveIntegerField(_("from day"))
    to_day = models.PositiveIntegerField(_("to day"), null=True, blank=True)
    max_visits = models.PositiveSmallIntegerField(_("maximum visits"))
    daily_cap = models.PositiveSmallIntegerField(_("clients per officer and day"))

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "type", "number"], name="tramo_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type} tramo {self.number}"


class Classification(VersionedRow):
    """CC table: client classification; `max_dpd` drives only the first one."""

    type = models.CharField(_("management type"), max_length=10)
    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=100)
    max_dpd = models.PositiveIntegerField(_("maximum DPD"), null=True, blank=True)
    campaign = models.BooleanField(_("campaign classification"), default=False)

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "type", "code"], name="class_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type}/{self.code} {self.name}"


class ResultCode(VersionedRow):
    """What a visit or call produced (código de respuesta)."""

    type = models.CharField(_("management type"), max_length=10)
    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=100)
    promise = models.BooleanField(_("payment promise"), default=False)
    to_phone_days = models.PositiveSmallIntegerField(
        _("days in phone collection"), null=True, blank=True
    )

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "type", "code"], name="result_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type}/{self.code} {self.name}"


class EventCode(VersionedRow):
    """What the system detected (60, 70, 80, 90, PG, LQ, CA, TR); shared by all types."""

    code = models.CharField(_("code"), max_length=10)
    name = models.CharField(_("name"), max_length=100)

    class Meta(VersionedRow.Meta):
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="event_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SuggestedAction(VersionedRow):
    """AS table: the code for classification x tramo x visit and its objective."""

    type = models.CharField(_("management type"), max_length=10)
    code = models.CharField(_("code"), max_length=10)
    classification = models.CharField(_("classification"), max_length=10)
    tramo = models.PositiveSmallIntegerField(_("tramo"))
    visit = models.PositiveSmallIntegerField(_("visit"))
    where = models.CharField(_("where"), max_length=30, blank=True)
    whom = models.CharField(_("to whom"), max_length=30, blank=True)
    instrument = models.CharField(_("instrument"), max_length=60, blank=True)
    message = models.TextField(_("message"), blank=True)
    letter_template = models.CharField(_("letter template"), max_length=60, blank=True, null=True)

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "type", "code"], name="action_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type}/{self.code}"


class BasTransition(VersionedRow):
    """BAS table (Baja/Avance/Salto): (current code, result or event) -> next code."""

    type = models.CharField(_("management type"), max_length=10)
    from_code = models.CharField(_("from"), max_length=10)
    on_code = models.CharField(_("on result/event"), max_length=10)
    to_code = models.CharField(_("to"), max_length=10)

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["version", "type", "from_code", "on_code"], name="bas_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type}: {self.from_code} on {self.on_code} -> {self.to_code}"


class ActionPlanItem(VersionedRow):
    """CR Gestión: an action of a tramo's plan with its DPD window."""

    type = models.CharField(_("management type"), max_length=10)
    tramo = models.PositiveSmallIntegerField(_("tramo"))
    order = models.PositiveSmallIntegerField(_("order"))
    channel = models.CharField(_("channel"), max_length=30)
    from_day = models.PositiveIntegerField(_("from day"))
    to_day = models.PositiveIntegerField(_("to day"))
    template = models.CharField(_("template"), max_length=60, blank=True, null=True)
    manual = models.BooleanField(_("manual"), default=False)

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["version", "type", "tramo", "order"], name="plan_item_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} tramo {self.tramo} #{self.order} {self.channel}"


class EscalationLevel(VersionedRow):
    """Days after the window closed at which a red action reaches each level."""

    level = models.PositiveSmallIntegerField(_("level"))
    after_days = models.PositiveSmallIntegerField(_("after days"))

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "level"], name="escalation_unique")
        ]

    def __str__(self) -> str:
        return f"level {self.level} after {self.after_days} days"


# --- Money rules (DOMAIN.md 6): products, waiver limits, the commission scheme -----------

PCT = {"max_digits": 5, "decimal_places": 4}  # a fraction 0..1 with four decimals (xx.xx %)
MONEY = {"max_digits": 12, "decimal_places": 2}


class RefinancingProduct(VersionedRow):
    """A refinancing/restructuring product (thesis 5.2.3).

    `fee` and `min_installment` are soles; a dollar credit gets them converted at the
    version's `usd_rate`. The three waivers are the file's nested `max_waiver_pct`.
    """

    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    min_dpd = models.PositiveIntegerField(_("from days past due"))
    max_dpd = models.PositiveIntegerField(_("to days past due"), null=True, blank=True)
    max_term_months = models.PositiveSmallIntegerField(_("maximum term (months)"))
    extra_term_months = models.PositiveSmallIntegerField(
        _("extra months over unpaid installments"), default=0
    )
    fee = models.DecimalField(_("fee (PEN, financed)"), default=0, **MONEY)
    tea = models.DecimalField(_("TEA"), max_digits=7, decimal_places=4)
    min_down_payment_pct = models.DecimalField(_("minimum down payment"), default=0, **PCT)
    min_installment = models.DecimalField(_("minimum installment (PEN)"), default=0, **MONEY)
    waiver_late_interest = models.DecimalField(
        _("maximum waiver of late interest"), default=0, **PCT
    )
    waiver_collection_fees = models.DecimalField(
        _("maximum waiver of collection fees"), default=0, **PCT
    )
    waiver_commissions = models.DecimalField(_("maximum waiver of commissions"), default=0, **PCT)

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="refinancing_product_code")
        ]
        verbose_name = _("refinancing product")
        verbose_name_plural = _("refinancing products")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ExonerationLimit(VersionedRow):
    """The largest waiver a role may grant alone, by classification, once the client
    paid `min_installments_paid` installments (thesis 5.2.6)."""

    role = models.CharField(_("role"), max_length=20)
    classification = models.CharField(_("classification"), max_length=10)
    min_installments_paid = models.PositiveSmallIntegerField(
        _("minimum installments paid"), default=0
    )
    max_pct = models.DecimalField(_("maximum waiver"), **PCT)

    class Meta(VersionedRow.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["version", "role", "classification", "min_installments_paid"],
                name="exoneration_limit_unique",
            )
        ]
        verbose_name = _("exoneration limit")
        verbose_name_plural = _("exoneration limits")

    def __str__(self) -> str:
        return f"{self.role}/{self.classification} ≥{self.min_installments_paid}: {self.max_pct}"


class CommissionScheme(VersionedRow):
    """The commission scheme (thesis 5.2.2): one mapping per version, or none."""

    per_cured_client = models.DecimalField(_("per cured client (PEN)"), default=0, **MONEY)
    collected_share = models.DecimalField(_("share of the amount collected"), default=0, **PCT)
    per_refinanced_client = models.DecimalField(
        _("per refinanced client (PEN)"), default=0, **MONEY
    )
    office_target_multiplier = models.DecimalField(
        _("multiplier when the office target is reached"), max_digits=6, decimal_places=4, default=1
    )
    external_agency_share = models.DecimalField(
        _("external agency share of what it recovered"), default=0, **PCT
    )
    effective_days = models.PositiveSmallIntegerField(
        _("days in which an action counts as effective"), default=7
    )

    class Meta(VersionedRow.Meta):
        constraints = [models.UniqueConstraint(fields=["version"], name="commission_scheme_one")]
        verbose_name = _("commission scheme")
        verbose_name_plural = _("commission schemes")

    def __str__(self) -> str:
        return f"commission scheme of version {self.version_id}"
