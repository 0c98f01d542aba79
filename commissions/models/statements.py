"""Comisiones (thesis 5.2.2): a month's statements per asesor, per agency (its jefe)
and per external agency, each the sum of its lines, and the agencies' targets."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from collections_field.models import CaseHistory, FieldResult
from portfolio.models import Agency, Client, ExternalAgency, Officer, Payment


class CommissionMonth(models.Model):
    """A month's computation: open (recomputed whole, as often as needed) or closed by
    the gerente (never changes again; a late payment counts in the month it is booked)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    month = models.DateField(_("month"), unique=True, help_text=_("its first day"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The last finished night when it closed: it counted the payments taken in up to
    # that business date; its payments taken in later count in a later month.
    closed_through = models.DateField(_("closed through"), null=True, blank=True)
    # What the computation used: the strategy version, its scheme and dollar rate.
    strategy_version = models.PositiveIntegerField(_("strategy version"), null=True, blank=True)
    scheme = models.JSONField(_("commission scheme"), default=dict, blank=True)
    usd_rate = models.DecimalField(_("USD rate"), max_digits=8, decimal_places=4, default=0)
    lines = models.PositiveIntegerField(_("lines"), default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-month"]
        verbose_name = _("commission month")
        verbose_name_plural = _("commission months")

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.status}"


class OfficeTarget(models.Model):
    """Meta de la oficina: what an agency's asesores should collect in a month (PEN).
    Loaded by the gerente (page with a CSV, the admin, or `load_office_targets`)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="targets")
    month = models.DateField(_("month"), help_text=_("its first day"))
    amount = models.DecimalField(_("collection target (S/)"), max_digits=16, decimal_places=2)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-month", "agency"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "month"], name="office_target_unique")
        ]
        verbose_name = _("office target")
        verbose_name_plural = _("office targets")

    def __str__(self) -> str:
        return f"{self.agency_id} {self.month:%Y-%m} {self.amount}"


class CommissionStatement(models.Model):
    """One beneficiary's month: an asesor (`officer`), an agency's jefe (`agency`) or
    an external agency (`external`). Every figure is the sum of its lines."""

    class Kind(models.TextChoices):
        OFFICER = "officer", _("Officer")
        AGENCY = "agency", _("Agency (jefe de agencia)")
        EXTERNAL = "external", _("External agency")

    month = models.ForeignKey(CommissionMonth, on_delete=models.CASCADE, related_name="statements")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    officer = models.ForeignKey(
        Officer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The officer's agency for an officer; the agency itself for a jefe's statement.
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    external_agency = models.ForeignKey(
        ExternalAgency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    clients_cured = models.PositiveIntegerField(_("clients cured"), default=0)
    amount_collected = models.DecimalField(
        _("amount collected (S/)"), max_digits=18, decimal_places=2, default=0
    )
    clients_refinanced = models.PositiveIntegerField(_("clients refinanced"), default=0)
    office_target_reached = models.BooleanField(_("office target reached"), default=False)
    target_amount = models.DecimalField(
        _("office target (S/)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    amount = models.DecimalField(_("commission (S/)"), max_digits=18, decimal_places=2, default=0)

    class Meta:
        ordering = ["month", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "officer"],
                condition=models.Q(kind="officer"),
                name="statement_officer_unique",
            ),
            models.UniqueConstraint(
                fields=["month", "agency"],
                condition=models.Q(kind="agency"),
                name="statement_agency_unique",
            ),
            models.UniqueConstraint(
                fields=["month", "external_agency"],
                condition=models.Q(kind="external"),
                name="statement_external_unique",
            ),
        ]
        verbose_name = _("commission statement")
        verbose_name_plural = _("commission statements")

    def __str__(self) -> str:
        return f"{self.month_id} {self.kind} {self.amount}"


class CommissionLine(models.Model):
    """One record behind a statement's figures, with its value in soles: a cure (the
    case history's 70 and the effective result), a payment (its reference), a
    refinancing (the request, or the case history's 80), or the target bonus.

    An asesor's line is also a line of its agency's (the jefe's) statement, with the
    same value: `agency_statement` points there, so the record is stored once.

    Written set-based from keyed joins and deleted with their month, half a million
    rows at a time: the references carry no database constraint (checking them at
    commit would cost seconds for nothing; every id comes from the row it names)."""

    class Kind(models.TextChoices):
        CURE = "cure", _("Client brought current")
        COLLECTION = "collection", _("Amount collected")
        REFINANCING = "refinancing", _("Client refinanced")
        TARGET = "target", _("Office target reached")

    statement = models.ForeignKey(
        CommissionStatement, on_delete=models.DO_NOTHING, db_constraint=False, related_name="lines"
    )
    agency_statement = models.ForeignKey(
        CommissionStatement, on_delete=models.DO_NOTHING, db_constraint=False, null=True,
        db_index=False, related_name="agency_lines",
    )  # fmt: skip
    month = models.ForeignKey(
        CommissionMonth,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    client = models.ForeignKey(
        Client,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    client_code = models.CharField(_("client"), max_length=40, blank=True)
    credit_code = models.CharField(_("credit"), max_length=40, blank=True)
    reference = models.CharField(_("reference"), max_length=80)
    date = models.DateField(_("date"))
    # What the line counts: the payment in soles (collection); null for the others.
    base = models.DecimalField(_("base (S/)"), max_digits=16, decimal_places=2, null=True)
    currency = models.CharField(max_length=3, blank=True)
    original_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    value = models.DecimalField(_("value (S/)"), max_digits=16, decimal_places=2)
    payment = models.ForeignKey(
        Payment, on_delete=models.DO_NOTHING, db_constraint=False, null=True, db_index=False,
        related_name="+",
    )  # fmt: skip
    case_history = models.ForeignKey(
        CaseHistory, on_delete=models.DO_NOTHING, db_constraint=False, null=True,
        db_index=False, related_name="+",
    )  # fmt: skip
    result = models.ForeignKey(
        FieldResult, on_delete=models.DO_NOTHING, db_constraint=False, null=True,
        db_index=False, related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["statement", "kind", "date", "id"]
        indexes = [
            models.Index(
                fields=["agency_statement"],
                condition=models.Q(agency_statement__isnull=False),
                name="line_agency_statement",
            ),
        ]
        verbose_name = _("commission line")
        verbose_name_plural = _("commission lines")

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} {self.value}"
