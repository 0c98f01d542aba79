"""Organisation, geography and the portfolio that core banking feeds every night.

The credit table holds only what rarely changes (product, client, agency); the
day's balances and days past due live in `CreditPosition`, written once per
business date (a partition per date on PostgreSQL), so a night rewrites no rows
it does not have to (see shared/PERFORMANCE.md).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history import register
from simple_history.models import HistoricalRecords


class Role(models.TextChoices):
    ASESOR = "asesor", _("Field officer (asesor)")
    JEFE_AGENCIA = "jefe_agencia", _("Branch head (jefe de agencia)")
    JEFE_ZONAL = "jefe_zonal", _("Zone head (jefe zonal)")
    GERENTE = "gerente", _("Risk and collections manager (gerente)")
    AGENCIA_EXTERNA = "agencia_externa", _("External collection agency user")
    SERVICIO = "servicio", _("API service account")


class Zone(models.Model):
    """Zona: a group of agencies under a jefe zonal."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["code"]
        verbose_name = _("zone")
        verbose_name_plural = _("zones")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Agency(models.Model):
    """Agencia (oficina): the branch whose head reviews its asesores' work."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="agencies")
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    # For messages and letters (the templates' agency placeholders).
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Subzone(models.Model):
    """Subzona: quadrants grouped by the density of accounts in them (thesis 5.2.8)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="subzones")
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["code"]
        verbose_name = _("subzone")
        verbose_name_plural = _("subzones")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Quadrant(models.Model):
    """Cuadrante: a small map cell centred on (lat, lon), `size_m` metres a side."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    subzone = models.ForeignKey(Subzone, on_delete=models.PROTECT, related_name="quadrants")
    lat = models.FloatField(_("latitude"))
    lon = models.FloatField(_("longitude"))
    size_m = models.PositiveIntegerField(_("size (m)"), default=200)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["lat", "lon"], name="quadrant_latlon")]
        verbose_name = _("quadrant")
        verbose_name_plural = _("quadrants")

    def __str__(self) -> str:
        return self.code


class ExternalAgency(models.Model):
    """An outsourced collection agency (estudio de cobranza)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["code"]
        verbose_name = _("external agency")
        verbose_name_plural = _("external agencies")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Officer(models.Model):
    """Asesor (gestor): works the cases of some subzones and tramos."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=120)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="officers")
    external_agency = models.ForeignKey(
        ExternalAgency, on_delete=models.PROTECT, null=True, blank=True, related_name="officers"
    )
    subzones = models.ManyToManyField(Subzone, blank=True, related_name="officers")
    tramos = models.JSONField(_("tramos"), default=list, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="officer",
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("officer")
        verbose_name_plural = _("officers")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StaffMember(models.Model):
    """A person's role and the part of the organisation it may see."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_member"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True)
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, null=True, blank=True)
    external_agency = models.ForeignKey(
        ExternalAgency, on_delete=models.PROTECT, null=True, blank=True
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    IVR = "ivr", _("IVR call")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    CALL = "call", _("Phone call")
    VISIT = "visit", _("Visit")


class Client(models.Model):
    """Titular: the unit of collection work (thesis 5.2.7)."""

    code = models.CharField(_("client code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    document_id = models.CharField(_("document (DNI/RUC)"), max_length=20, db_index=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=20, choices=Channel.choices, blank=True
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="clients", null=True, blank=True
    )
    created_on = models.DateField(_("first seen on"), null=True, blank=True)
    # Contact changes from the field are audited; the nightly import writes set-based
    # (core banking is the source of truth there, recorded by SnapshotImport).
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("client")
        verbose_name_plural = _("clients")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ChannelConsent(models.Model):
    """Consent and opt-out per channel (Ley 29733): an opt-out is honoured at once."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    consent = models.BooleanField(_("consent"), default=True)
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "channel"], name="consent_client_channel")
        ]
        verbose_name = _("channel consent")
        verbose_name_plural = _("channel consents")

    def __str__(self) -> str:
        return f"{self.client_id} {self.channel}"


class Guarantor(models.Model):
    """Aval: may be contacted about the debt (and only the debtor and the guarantor)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="guarantors")
    name = models.CharField(_("name"), max_length=200)
    document_id = models.CharField(_("document"), max_length=20, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("guarantor")
        verbose_name_plural = _("guarantors")

    def __str__(self) -> str:
        return self.name


class Address(models.Model):
    """An address of the client or of a guarantor, with coordinates and quadrant."""

    class Kind(models.TextChoices):
        HOME = "home", pgettext_lazy("address kind", "Home")
        BUSINESS = "business", _("Business")
        WORK = "work", _("Work")

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="addresses")
    guarantor = models.ForeignKey(
        Guarantor, on_delete=models.CASCADE, null=True, blank=True, related_name="addresses"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.HOME)
    text = models.CharField(_("address"), max_length=300, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    quadrant = models.ForeignKey(
        Quadrant, on_delete=models.SET_NULL, null=True, blank=True, related_name="addresses"
    )
    subzone = models.ForeignKey(
        Subzone, on_delete=models.SET_NULL, null=True, blank=True, related_name="addresses"
    )

    class Meta:
        constraints = [
            # One address of each kind for the client itself (guarantor IS NULL).
            models.UniqueConstraint(
                fields=["client", "kind"],
                condition=models.Q(guarantor__isnull=True),
                name="address_client_kind",
            )
        ]
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        return self.text or f"{self.lat},{self.lon}"


class Currency(models.TextChoices):
    PEN = "PEN", "S/"
    USD = "USD", "US$"


class Credit(models.Model):
    """A credit's stable facts; its daily numbers are in `CreditPosition`."""

    code = models.CharField(_("credit code"), max_length=40, unique=True)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="credits")
    product = models.CharField(_("product"), max_length=60)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    disbursed_amount = models.DecimalField(_("disbursed amount"), max_digits=14, decimal_places=2)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="credits")
    origin_officer_code = models.CharField(_("origin officer"), max_length=20, blank=True)
    first_seen_on = models.DateField(_("first seen on"))
    # Hash of the snapshot columns that feed the credit, its client and the client's
    # home address: a night rewrites only the rows whose hash changed.
    snapshot_hash = models.CharField(max_length=32, blank=True)
    # Set when a later snapshot no longer lists the credit (paid off or transferred).
    left_on = models.DateField(_("left the portfolio on"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        indexes = [
            models.Index(
                fields=["client"], condition=models.Q(left_on__isnull=True), name="credit_active"
            ),
            # The few dollar credits, which the night converts to soles: read off this
            # small index instead of every credit (0.2 s a night at 1M credits).
            models.Index(
                fields=["id"],
                condition=models.Q(currency="USD", left_on__isnull=True),
                name="credit_usd_active",
            ),
        ]
        verbose_name = _("credit")
        verbose_name_plural = _("credits")

    def __str__(self) -> str:
        return self.code


class CreditPosition(models.Model):
    """A credit's position at the start of a business date (after the close of D-1).

    Append-only and compact: one row per credit per snapshot date, enough for
    the engine and for later roll-rate analytics. On PostgreSQL the table is
    partitioned by business date and each import attaches one partition.
    """

    pk = models.CompositePrimaryKey("business_date", "credit")
    business_date = models.DateField(_("business date"))
    credit = models.ForeignKey(
        Credit,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="positions",
    )
    client = models.ForeignKey(
        Client, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    principal_balance = models.DecimalField(max_digits=14, decimal_places=2)
    overdue_amount = models.DecimalField(max_digits=14, decimal_places=2)
    overdue_installments = models.PositiveSmallIntegerField()
    total_installments = models.PositiveSmallIntegerField()
    days_past_due = models.PositiveIntegerField()
    next_due_date = models.DateField(null=True, blank=True)
    late_interest = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    collection_fees = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    commissions = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("credit position")
        verbose_name_plural = _("credit positions")

    def __str__(self) -> str:
        return f"{self.credit_id}@{self.business_date}"


class Payment(models.Model):
    """A payment reported by core banking; `reference` makes a repeat harmless."""

    reference = models.CharField(_("reference"), max_length=60, unique=True)
    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    paid_at = models.DateTimeField(_("paid at"))
    installments = models.PositiveSmallIntegerField(_("installments covered"), default=0)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    # The business date of the cycle that took it in (null: waiting for a cycle).
    applied_on = models.DateField(_("applied on"), null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["paid_at"], name="payment_paid_at"),
            models.Index(
                fields=["paid_at"],
                condition=models.Q(applied_on__isnull=True),
                name="payment_pending",
            ),
            # A night's payments by the date its cycle took them in (the figures, the
            # teams' figures, the commissions): without it each night read every
            # payment ever received.
            models.Index(
                fields=["applied_on"],
                condition=models.Q(applied_on__isnull=False),
                name="payment_applied_on",
            ),
        ]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return self.reference


class SnapshotImport(models.Model):
    """The ledger of imported snapshots: one per business date, by content hash."""

    business_date = models.DateField(_("business date"), unique=True)
    sha256 = models.CharField(max_length=64)
    file_name = models.CharField(max_length=300, blank=True)
    rows = models.PositiveIntegerField(default=0)
    credits_new = models.PositiveIntegerField(default=0)
    credits_left = models.PositiveIntegerField(default=0)
    clients_new = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    imported_at = models.DateTimeField(auto_now=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["-business_date"]
        verbose_name = _("snapshot import")
        verbose_name_plural = _("snapshot imports")

    def __str__(self) -> str:
        return f"{self.business_date} ({self.rows})"


class NonWorkingDay(models.Model):
    """Día no laborable: a lender-defined day without collection visits or calls
    (decreed non-working days, regional holidays), on top of the national holidays."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=120)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        verbose_name = _("non-working day")
        verbose_name_plural = _("non-working days")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class ApiToken(models.Model):
    """A bearer token for a service account or a person; only its hash is stored."""

    name = models.CharField(_("name"), max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("prefix"), max_length=12, help_text=_("to recognise it"))
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["key_hash", "last_used_at"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


# Who may do what is audited too: every change to a user (never its password hash).
register(
    get_user_model(),
    app="portfolio",
    excluded_fields=["password", "last_login"],
    verbose_name=_("user history"),
)
