"""Refinancing requests (thesis 5.2.3, DOMAIN.md 6): a simulation the client agreed to,
waiting for approval or approved, and then booked by core banking."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portfolio.models import Client, Credit
from strategy.models import StrategyVersion


class RefinancingRequest(models.Model):
    """The simulation a request came from is kept whole (`simulation`, as the API
    showed it) and its headline figures in columns, so a commission line or core
    banking's booking can name the request and its numbers without recomputing."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, related_name="+")
    strategy_version = models.ForeignKey(
        StrategyVersion, on_delete=models.PROTECT, related_name="+"
    )
    product_code = models.CharField(_("product"), max_length=20)
    # The snapshot the simulation read, and the credit as it stood there.
    business_date = models.DateField(_("business date"))
    principal_balance = models.DecimalField(_("principal balance"), max_digits=14, decimal_places=2)
    total_installments = models.PositiveSmallIntegerField(_("installments before"))
    currency = models.CharField(_("currency"), max_length=3)
    # The inputs.
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    down_payment = models.DecimalField(_("down payment"), max_digits=14, decimal_places=2)
    start_date = models.DateField(_("start date"))
    first_due_date = models.DateField(_("first due date"))
    # The results.
    principal = models.DecimalField(_("new principal"), max_digits=14, decimal_places=2)
    fee = models.DecimalField(_("fee"), max_digits=14, decimal_places=2)
    installment = models.DecimalField(_("installment"), max_digits=14, decimal_places=2)
    tea = models.DecimalField(_("TEA"), max_digits=7, decimal_places=4)
    tcea = models.DecimalField(_("TCEA"), max_digits=9, decimal_places=4)
    waived_total = models.DecimalField(_("waived"), max_digits=14, decimal_places=2)
    simulation = models.JSONField(_("simulation"))
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    # The business date of the cycle that raised its event (80) on the case.
    event_on = models.DateField(_("event raised on"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["simulation"])

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open request per credit: a second waits for the first's decision.
            models.UniqueConstraint(
                fields=["credit"],
                condition=models.Q(status="pending"),
                name="refinancing_one_pending_per_credit",
            )
        ]
        indexes = [
            # Core banking's pull: approved ones in approval order.
            models.Index(
                fields=["decided_at", "id"],
                condition=models.Q(status="approved"),
                name="refinancing_approved_order",
            ),
            # The engine's item source: approved, event not raised yet.
            models.Index(
                fields=["decided_at"],
                condition=models.Q(status="approved", event_on__isnull=True),
                name="refinancing_event_pending",
            ),
            models.Index(fields=["status", "requested_at"], name="refinancing_status"),
        ]
        verbose_name = _("refinancing request")
        verbose_name_plural = _("refinancing requests")

    def __str__(self) -> str:
        return f"#{self.pk} {self.credit_id} {self.product_code} ({self.status})"
