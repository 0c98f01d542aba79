"""Exoneraciones (thesis 5.2.6): waivers of late interest, collection fees and
commissions, within the limits the strategy delegates to each role."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portfolio.models import Client, Credit, Role


class Exoneration(models.Model):
    """A waiver request on one credit, as percentages (fractions: 0.30 is 30 %) of the
    late charges of the credit's latest position, and its decision.

    `required_role` is the lowest role whose limit covers the request: the
    requester's own (approved at once, by the strategy's delegation), else the
    jefe de agencia's, the jefe zonal's or the gerente's. Every change is kept in
    its history (who, when, before, after)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="exonerations")
    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, related_name="exonerations")
    # The position the amounts come from (the latest snapshot when requested).
    business_date = models.DateField(_("position of"))
    classification = models.CharField(_("classification"), max_length=10)
    installments_paid = models.PositiveIntegerField(_("installments paid"))
    late_interest_pct = models.DecimalField(
        _("late interest waived"), max_digits=5, decimal_places=4
    )
    collection_fees_pct = models.DecimalField(
        _("collection fees waived"), max_digits=5, decimal_places=4
    )
    commissions_pct = models.DecimalField(_("commissions waived"), max_digits=5, decimal_places=4)
    late_interest = models.DecimalField(_("late interest"), max_digits=14, decimal_places=2)
    collection_fees = models.DecimalField(_("collection fees"), max_digits=14, decimal_places=2)
    commissions = models.DecimalField(_("commissions"), max_digits=14, decimal_places=2)
    late_interest_waived = models.DecimalField(max_digits=14, decimal_places=2)
    collection_fees_waived = models.DecimalField(max_digits=14, decimal_places=2)
    commissions_waived = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requester_role = models.CharField(_("requester's role"), max_length=20, choices=Role.choices)
    requested_at = models.DateTimeField(_("requested at"))
    # The requester's own limit when it asked (0: none for this client).
    requester_limit = models.DecimalField(max_digits=5, decimal_places=4)
    required_role = models.CharField(_("approved by role"), max_length=20, choices=Role.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    # Null with status approved: approved at once by the strategy's delegation.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    strategy_version = models.PositiveIntegerField(_("strategy version"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(
                fields=["credit"], condition=models.Q(status="pending"), name="exoneration_pending"
            )
        ]
        verbose_name = _("exoneration")
        verbose_name_plural = _("exonerations")

    def __str__(self) -> str:
        return f"#{self.pk} {self.credit_id} {self.status}"

    @property
    def largest_pct(self):
        return max(self.late_interest_pct, self.collection_fees_pct, self.commissions_pct)

    @property
    def total_waived(self):
        return self.late_interest_waived + self.collection_fees_waived + self.commissions_waived
