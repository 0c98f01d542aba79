"""The outbox: one outgoing message per automatic planned action, its status machine
and every change of it with its time (the evidence the lender shows Indecopi)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from collections_field.models import Case, PlannedAction
from portfolio.models import Agency, Client, Guarantor, Officer


class OutgoingMessage(models.Model):
    """Mensaje saliente. `queued → sending → sent → delivered | failed | expired`, or
    `queued → blocked | expired` when the gate refuses it for good. A row moves only
    forward, always by a conditional UPDATE on its current status, so two workers (or
    a task delivered twice) can never both send it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")
        BLOCKED = "blocked", _("Blocked")

    class Recipient(models.TextChoices):
        DEBTOR = "debtor", _("Debtor")
        GUARANTOR = "guarantor", _("Guarantor")

    class Gate(models.TextChoices):
        SENT = "sent", _("Allowed and sent")
        POSTPONED = "postponed", _("Postponed")
        BLOCKED = "blocked", _("Blocked")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="messages")
    # One message per automatic action, ever: the outbox is filled idempotently.
    action = models.OneToOneField(
        PlannedAction, on_delete=models.PROTECT, related_name="outgoing_message"
    )
    channel = models.CharField(_("channel"), max_length=20)
    recipient = models.CharField(
        _("recipient"), max_length=10, choices=Recipient.choices, default=Recipient.DEBTOR
    )
    guarantor = models.ForeignKey(
        Guarantor, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The phone (E.164), e-mail or postal address it goes to, fixed when queued.
    address = models.CharField(_("address or phone"), max_length=300, blank=True)
    template = models.CharField(_("template"), max_length=60, blank=True)
    text = models.TextField(_("rendered text"))
    # msgs: what a template adds to the text (templating.py): the e-mail's subject and
    # HTML body, WhatsApp's approved content (used outside the 24-hour window).
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    html = models.TextField(_("rendered HTML"), blank=True)
    content_sid = models.CharField(_("approved content SID"), max_length=40, blank=True)
    content_variables = models.JSONField(_("content variables"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # The last gate decision and why (quiet_hours, weekend, holiday, paid, opt_out, …).
    gate = models.CharField(_("gate"), max_length=10, choices=Gate.choices, blank=True)
    gate_reason = models.CharField(_("gate reason"), max_length=30, blank=True)
    # From this date on the message may go (the action's window), until `last_day`.
    due_on = models.DateField(_("due on"))
    last_day = models.DateField(_("last day"))
    # Never delivered after this instant: 20:00 Lima of the day it was sent.
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    provider_id = models.CharField(_("provider id"), max_length=64, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.CharField(_("error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    # When the row was last claimed, by the database's clock (`claimed_at` is the
    # dispatch's instant, which a replay sets): settle finds rows stuck in flight by it.
    in_flight_since = models.DateTimeField(_("in flight since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    final_at = models.DateTimeField(_("final status at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_id"],
                condition=models.Q(provider_id__isnull=False),
                name="message_provider_id",
            )
        ]
        indexes = [
            models.Index(
                fields=["due_on"], condition=models.Q(status="queued"), name="message_queued"
            ),
            models.Index(fields=["case", "sent_at"], name="message_case_sent"),
            # Replies and opt-outs find the clients a number was written to.
            models.Index(fields=["address"], name="message_address"),
            # The productivity refresh reads a few days of the outbox by each instant.
            models.Index(fields=["created_at"], name="message_created"),
            models.Index(
                fields=["sent_at"], condition=models.Q(sent_at__isnull=False), name="message_sent"
            ),
            models.Index(
                fields=["final_at"],
                condition=models.Q(final_at__isnull=False),
                name="message_final",
            ),
            # Settle: the few rows in flight, by age.
            models.Index(
                fields=["in_flight_since"],
                condition=models.Q(status="sending"),
                name="message_in_flight",
            ),
        ]
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outgoing messages")

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} {self.status}"


class MessageEvent(models.Model):
    """Every status change and every new gate decision of a message, with its time."""

    class Source(models.TextChoices):
        OUTBOX = "outbox", _("Outbox")
        GATE = "gate", _("Legal gate")
        GATEWAY = "gateway", _("Gateway")
        CALLBACK = "callback", _("Provider callback")
        SETTLE = "settle", _("Settled after a lost answer")

    message = models.ForeignKey(OutgoingMessage, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("at"))
    source = models.CharField(max_length=10, choices=Source.choices)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    gate = models.CharField(max_length=10, blank=True)
    reason = models.CharField(max_length=30, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["message", "at", "id"]
        verbose_name = _("message event")
        verbose_name_plural = _("message events")

    def __str__(self) -> str:
        return f"{self.from_status}->{self.to_status} {self.reason}"


class InboundMessage(models.Model):
    """A message a client (or anyone) sent us: a reply, or an opt-out word."""

    channel = models.CharField(_("channel"), max_length=20)
    provider_id = models.CharField(_("provider id"), max_length=64, unique=True)
    sender = models.CharField(_("from"), max_length=64)
    text = models.TextField(_("text"), blank=True)
    client = models.ForeignKey(
        Client, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opt_out = models.BooleanField(_("opt-out"), default=False)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["received_at"], name="inbound_received")]
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")

    def __str__(self) -> str:
        return f"{self.channel} {self.received_at:%Y-%m-%d %H:%M}"


# --- msgs: templates and printed letters ----------------------------------------------


class MessageTemplate(models.Model):
    """Plantilla: the Spanish text of a message or letter, by the name an action-plan
    item's `template` (or an AS row's `letter_template`) gives. Edited by the gerente
    through `templating.template_save`, which refuses unknown placeholders, court
    wording and debt named to a third party; every version is kept (simple-history)."""

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        IVR = "ivr", _("IVR call")
        EMAIL = "email", _("E-mail")
        LETTER = "letter", _("Letter")

    class Recipient(models.TextChoices):
        DEBTOR = "debtor", _("Debtor")
        GUARANTOR = "guarantor", _("Guarantor")
        THIRD_PARTY = "third_party", _("Anyone else (may not name the debt)")

    name = models.CharField(_("name"), max_length=60, unique=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(
        _("written for"), max_length=12, choices=Recipient.choices, default=Recipient.DEBTOR
    )
    subject = models.CharField(_("subject (e-mail)"), max_length=200, blank=True)
    body = models.TextField(_("text (Spanish)"))
    # WhatsApp outside the 24-hour window: the provider's approved template and which
    # placeholder fills each of its numbered variables ({{1}}, {{2}}, …), in order.
    content_sid = models.CharField(_("approved content SID (WhatsApp)"), max_length=40, blank=True)
    variables = models.JSONField(_("content variables (WhatsApp)"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"


class LetterBatch(models.Model):
    """The day's letters of one agency merged into one PDF for printing. Built by a
    task, delete-then-recreate (pretix's generated files): a re-run replaces it."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    business_date = models.DateField(_("business date"))
    file = models.FileField(_("PDF"), upload_to="letters/%Y/%m/", blank=True)
    letters = models.PositiveIntegerField(_("letters"), default=0)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    built_at = models.DateTimeField(_("built at"))
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-business_date", "agency"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "business_date"], name="letter_batch_day")
        ]
        verbose_name = _("letter batch")
        verbose_name_plural = _("letter batches")

    def __str__(self) -> str:
        return f"{self.agency_id} {self.business_date}"


class Letter(models.Model):
    """Carta: one printed letter of a letter action, addressed to the debtor at the
    contract or collection address. `ready` once in its agency's batch, `delivered`
    when the asesor hands it over (the action is done), `blocked` when the gate
    refused it (why in `gate_reason`). Audited: who delivered it, and when."""

    class Status(models.TextChoices):
        READY = "ready", _("Printed, to deliver")
        DELIVERED = "delivered", _("Delivered")
        BLOCKED = "blocked", _("Blocked")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="letters")
    action = models.OneToOneField(PlannedAction, on_delete=models.PROTECT, related_name="letter")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    officer = models.ForeignKey(
        Officer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    template = models.CharField(_("template"), max_length=60, blank=True)
    recipient = models.CharField(_("recipient"), max_length=10, default="debtor")
    # `collection` (dirección de cobranza) or `contract` (the client's home address).
    address_kind = models.CharField(_("address kind"), max_length=12, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    html = models.TextField(_("rendered letter"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    gate_reason = models.CharField(_("gate reason"), max_length=30, blank=True)
    batch = models.ForeignKey(
        LetterBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_page = models.PositiveIntegerField(_("first page in the batch"), null=True, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    created_at = models.DateTimeField(_("created at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    delivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["html"])

    class Meta:
        ordering = ["agency", "business_date", "first_page", "id"]
        indexes = [models.Index(fields=["agency", "business_date"], name="letter_agency_day")]
        verbose_name = _("letter")
        verbose_name_plural = _("letters")

    def __str__(self) -> str:
        return f"letter #{self.pk} {self.status}"


# --- Productivity per channel ----------------------------------------------------------


class ChannelFigures(models.Model):
    """Productividad por canal: what one channel did and what followed it on one business
    day, for one officer, agency, zone or the company (key 0), the same levels as the
    dashboards' `DailyFigures`. Rebuilt set-based for a range of days by
    `productivity.channel_figures_refresh` (each figure is defined there); the pages read
    these rows and never count the outbox."""

    business_date = models.DateField(_("business date"))
    channel = models.CharField(_("channel"), max_length=20)
    level = models.CharField(_("level"), max_length=10)
    # The officer's, agency's or zone's id; 0 for the company.
    key = models.BigIntegerField(_("key"))
    queued = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    blocked = models.PositiveIntegerField(default=0)
    # The blocked ones by the gate's reason: {"paid": 2, "opt_out": 1}.
    blocked_reasons = models.JSONField(default=dict, blank=True)
    contacted = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    promised = models.PositiveIntegerField(default=0)
    paid = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(_("counted at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business_date", "channel", "level", "key"], name="channel_figures_unique"
            )
        ]
        indexes = [
            models.Index(fields=["level", "key", "business_date"], name="channel_figures_unit")
        ]
        verbose_name = _("channel figures")
        verbose_name_plural = _("channel figures")

    def __str__(self) -> str:
        return f"{self.business_date} {self.channel} {self.level}:{self.key}"
