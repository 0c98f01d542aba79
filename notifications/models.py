"""The outbox: one outgoing message per automatic planned action, its status machine
and every change of it with its time (the evidence the lender shows Indecopi)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from collections_field.models import Case, PlannedAction
from portfolio.models import Client, Guarantor


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
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")

    def __str__(self) -> str:
        return f"{self.channel} {self.received_at:%Y-%m-%d %H:%M}"
