"""The case (one per delinquent client, thesis 5.2.7) and what happens to it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from portfolio.models import Address, Agency, Client, ExternalAgency, Officer, Quadrant

# The engine's nightly tables (history, events, worklists, planned actions) are written
# set-based from rows that exist, and the rows they reference (cases, clients, officers,
# results, campaigns, agencies, quadrants) are never deleted by SQL (Django's collector
# still cascades or sets null). Their references carry no database constraint: a
# deferred foreign-key check locks the referenced row once per written row at commit
# (FOR KEY SHARE), which cost the night 6 s at 1,000,000 credits.
ENGINE_REFERENCE = {"db_constraint": False}


class CaseStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PHONE = "phone", _("Phone collection")
    CLOSED = "closed", _("Closed")


class Case(models.Model):
    """The unit of collection work: a client with all its credits.

    One row per client for life: a cure closes it and a new delinquency
    re-opens it, so the classification the client left with is kept (Caso 1).
    """

    # No database constraint on the client and the collection address (as on the
    # engine's tables, `ENGINE_REFERENCE`): the night updates a case several times in
    # one transaction (one pass per item), and PostgreSQL checks a row's foreign keys
    # again on every update of a row its own transaction wrote, locking the client and
    # the address once per case: 40,000 row locks and 150 MB of WAL a night at 1M credits.
    client = models.OneToOneField(
        Client, on_delete=models.PROTECT, related_name="case", **ENGINE_REFERENCE
    )
    management_type = models.CharField(_("management type"), max_length=10)
    classification = models.CharField(_("classification"), max_length=10)
    action_code = models.CharField(_("suggested action"), max_length=10)
    tramo = models.PositiveSmallIntegerField(_("tramo"))
    visits_in_tramo = models.PositiveSmallIntegerField(_("visits in tramo"), default=0)
    officer = models.ForeignKey(
        Officer, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    external_agency = models.ForeignKey(
        ExternalAgency, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases",
        db_index=False,
    )  # fmt: skip
    status = models.CharField(
        _("status"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.ACTIVE
    )
    phone_until = models.DateField(_("in phone collection until"), null=True, blank=True)
    promise_date = models.DateField(_("promise date"), null=True, blank=True)
    promise_amount = models.DecimalField(
        _("promise amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    promise_made_at = models.DateTimeField(_("promise made at"), null=True, blank=True)
    # A payment (PG) came after the promise was made: it is kept when its date passes.
    promise_paid = models.BooleanField(_("promise paid"), default=False)
    # Not indexed: nothing looks cases up by it (and the night rewrites cases).
    collection_address = models.ForeignKey(
        Address, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, **ENGINE_REFERENCE,
    )  # fmt: skip
    # Figures of the last business date the engine saw, kept for lists and pages.
    exposure = models.DecimalField(_("exposure (PEN)"), max_digits=16, decimal_places=2, default=0)
    overdue_amount = models.DecimalField(
        _("overdue amount (PEN)"), max_digits=16, decimal_places=2, default=0
    )
    # Days past due on date D are D - overdue_since: the date stays put while the
    # client does not pay, so a night rewrites only the cases whose figures moved.
    overdue_since = models.DateField(_("overdue since"), null=True, blank=True)
    # The tramo the current assignment was made for: a tramo jump reassigns at once.
    assigned_tramo = models.PositiveSmallIntegerField(null=True, blank=True)
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    updated_for = models.DateField(_("last business date"), null=True, blank=True)
    # Changes by hand (overrides, reassignments) are audited here; the engine's own
    # set-based moves are in CaseHistory, written in the same statements.
    audit_trail = HistoricalRecords(
        excluded_fields=["exposure", "overdue_amount", "overdue_since", "updated_for"]
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["officer", "tramo"],
                condition=~models.Q(status="closed"),
                name="case_open_officer",
            ),
            models.Index(fields=["status"], name="case_status"),
            # Mostly empty references (as on the night's other tables): only the rows
            # that have one are indexed, so a rewritten case updates one index less.
            models.Index(
                fields=["external_agency"],
                condition=models.Q(external_agency__isnull=False),
                name="case_external_agency",
            ),
        ]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return f"{self.client.code} {self.action_code}"


class CaseHistory(models.Model):
    """Every move of a case: from, to, cause, who, when (thesis 5.2.10)."""

    class CauseKind(models.TextChoices):
        OPEN = "open", _("Opened")
        RESULT = "result", _("Result")
        EVENT = "event", _("Event")
        OVERRIDE = "override", _("Manual override")
        ASSIGN = "assign", _("Assignment")

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="history", db_index=False,
        **ENGINE_REFERENCE,
    )  # fmt: skip
    business_date = models.DateField(_("business date"))
    at = models.DateTimeField(_("at"))
    seq = models.PositiveIntegerField(_("order within the date"), default=0)
    from_code = models.CharField(_("from"), max_length=10, blank=True)
    to_code = models.CharField(_("to"), max_length=10)
    from_classification = models.CharField(max_length=10, blank=True)
    to_classification = models.CharField(max_length=10, blank=True)
    cause_kind = models.CharField(max_length=10, choices=CauseKind.choices)
    cause = models.CharField(_("cause"), max_length=10)
    officer_code = models.CharField(_("officer"), max_length=20, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False,
    )  # fmt: skip
    reason = models.TextField(_("reason"), blank=True)
    strategy_version = models.PositiveIntegerField(null=True, blank=True)
    # Assignment rows: the external agency working the case from then on (alternate:
    # its officer's; simultaneous: the agency beside the asesor), "" for none. Null on
    # the other rows and on rows written before it existed (then: the officer's agency).
    external_agency_code = models.CharField(max_length=20, null=True, blank=True)

    class Meta:
        ordering = ["case", "at", "seq", "id"]
        indexes = [
            models.Index(fields=["case", "business_date"], name="history_case_date"),
            # Only the overrides have a user: the night's rows are not indexed by it.
            models.Index(fields=["by"], condition=models.Q(by__isnull=False), name="history_by"),
        ]
        verbose_name = _("case history entry")
        verbose_name_plural = _("case history")

    def __str__(self) -> str:
        return f"{self.from_code}->{self.to_code} ({self.cause})"


class FieldResult(models.Model):
    """A registered visit, call or inbound contact; `uuid` is made by the phone."""

    class ChannelKind(models.TextChoices):
        VISIT = "visit", _("Visit")
        CALL = "call", _("Call")
        INBOUND = "inbound", _("Inbound contact")

    uuid = models.UUIDField(unique=True)
    # No index of its own: `result_client_time` starts with the client (one index
    # fewer to write for every result registered and every result taken in).
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="results", db_index=False
    )
    result_code = models.CharField(_("result"), max_length=10)
    occurred_at = models.DateTimeField(_("occurred at"))
    officer = models.ForeignKey(
        Officer, on_delete=models.PROTECT, null=True, blank=True, related_name="results"
    )
    channel = models.CharField(max_length=10, choices=ChannelKind.choices, default="visit")
    promise_date = models.DateField(_("promise date"), null=True, blank=True)
    promise_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    address_kind = models.CharField(max_length=20, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    verified = models.BooleanField(_("GPS verified"), default=False)
    # The address the visit's GPS point was checked against (for the collection address).
    address = models.ForeignKey(
        Address, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    flags = models.JSONField(default=list, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # The business date of the cycle that applied it (null: waiting for a cycle).
    applied_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["client", "occurred_at"], name="result_client_time"),
            models.Index(
                fields=["occurred_at"],
                condition=models.Q(applied_on__isnull=True),
                name="result_pending",
            ),
            # The dashboards' map of the day's visits (a range of one day).
            models.Index(
                fields=["occurred_at"],
                condition=models.Q(channel="visit"),
                name="result_visit_time",
            ),
        ]
        verbose_name = _("field result")
        verbose_name_plural = _("field results")

    def __str__(self) -> str:
        return f"{self.result_code} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class CaseEvent(models.Model):
    """The day's ordered input of the transitions: results and detected events.

    Written by the events step for a business date (delete-then-insert, so a
    re-run is safe) and read by the transitions step in (at, rank) order.
    """

    class Kind(models.TextChoices):
        RESULT = "result", _("Result")
        EVENT = "event", _("Event")

    business_date = models.DateField(_("business date"))
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="events", **ENGINE_REFERENCE
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(_("code"), max_length=10)
    at = models.DateTimeField(_("at"))
    rank = models.PositiveSmallIntegerField(default=0, help_text=_("order among equal times"))
    seq = models.PositiveIntegerField(default=0, help_text=_("order within the case and date"))
    result = models.ForeignKey(
        FieldResult, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, **ENGINE_REFERENCE,
    )  # fmt: skip
    officer_code = models.CharField(max_length=20, blank=True)
    promise_date = models.DateField(null=True, blank=True)
    # TR candidates: the days past due at the previous cycle (TR needs a crossing).
    previous_dpd = models.PositiveIntegerField(null=True, blank=True)
    applied = models.BooleanField(default=False)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["business_date", "seq"], name="case_event_date_seq"),
            models.Index(
                fields=["result"],
                condition=models.Q(result__isnull=False),
                name="case_event_result",
            ),
        ]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.business_date} {self.code}"


class CycleRun(models.Model):
    """The run ledger: one row per business date, a step row per step."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    business_date = models.DateField(_("business date"), unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    strategy_version = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The client ids at which the shares of a by-client step begin (`Scope.cuts`),
    # chosen at the night's first such step and kept, so that a re-run after a crash
    # redoes a share over the same clients.
    share_cuts = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-business_date"]
        verbose_name = _("cycle run")
        verbose_name_plural = _("cycle runs")

    def __str__(self) -> str:
        return f"{self.business_date} {self.status}"


class CycleStep(models.Model):
    run = models.ForeignKey(CycleRun, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=30)
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=CycleRun.Status.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0)
    statements = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="cycle_step_unique")]
        verbose_name = _("cycle step")
        verbose_name_plural = _("cycle steps")

    def __str__(self) -> str:
        return f"{self.run.business_date} {self.name}"


class Campaign(models.Model):
    """Operativo (thesis 5.2.9 a, 5.2.10): selected clients lead their officers'
    lists on the campaign's days. The targets are an uploaded client list
    (`by_list`) or a segment (every field optional; empty means any)."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=200)
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    # Null: the internal team (the lender's asesores); else only that agency's officers.
    team = models.ForeignKey(
        ExternalAgency,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("external agency team"),
    )
    # The jefe de agencia's own agency; null for a company-wide (gerente's) campaign.
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    by_list = models.BooleanField(_("uploaded client list"), default=False)
    segment_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tramo = models.PositiveSmallIntegerField(_("tramo"), null=True, blank=True)
    classification = models.CharField(_("classification"), max_length=10, blank=True)
    min_amount = models.DecimalField(
        _("minimum overdue amount"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    max_amount = models.DecimalField(
        _("maximum overdue amount"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    min_dpd = models.PositiveIntegerField(_("minimum days past due"), null=True, blank=True)
    max_dpd = models.PositiveIntegerField(_("maximum days past due"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-date_from", "code"]
        indexes = [models.Index(fields=["date_from", "date_to"], name="campaign_dates")]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CampaignClient(models.Model):
    """A client targeted by a campaign: from the uploaded list, or recorded by the
    selection step the first day it matched the campaign's segment (for the report)."""

    class Source(models.TextChoices):
        LIST = "list", _("Uploaded list")
        SEGMENT = "segment", _("Segment")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="clients")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LIST)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "client"], name="campaign_client_unique")
        ]
        verbose_name = _("campaign client")
        verbose_name_plural = _("campaign clients")

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.client_id}"


class WorklistEntry(models.Model):
    """One line of an officer's daily list (hoja de ruta, thesis 5.2.9), written by
    the selection step for its business date (delete-then-insert: re-runs are safe)."""

    class Reason(models.TextChoices):
        CAMPAIGN = "campaign", _("Campaign")
        BROKEN_PROMISE = "broken_promise", _("Broken promise")
        PROMISE_DUE = "promise_due", _("Promise due today")
        QUADRANT = "quadrant", _("Quadrant")

    # A night writes one row per listed client: only the unique (date, officer,
    # position) and the campaign are indexed (pages read a list, reports a campaign).
    business_date = models.DateField(_("business date"))
    officer = models.ForeignKey(
        Officer, on_delete=models.CASCADE, related_name="worklist", db_index=False,
        **ENGINE_REFERENCE,
    )  # fmt: skip
    position = models.PositiveIntegerField(_("position"))
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="worklist", db_index=False,
        **ENGINE_REFERENCE,
    )  # fmt: skip
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="+", db_index=False, **ENGINE_REFERENCE
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    # The suggested action the case had when the list was made.
    action_code = models.CharField(_("suggested action"), max_length=10)
    management_type = models.CharField(_("management type"), max_length=10)
    tramo = models.PositiveSmallIntegerField(_("tramo"))
    quadrant = models.ForeignKey(
        Quadrant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, **ENGINE_REFERENCE,
    )  # fmt: skip
    amount = models.DecimalField(_("overdue amount (PEN)"), max_digits=16, decimal_places=2)
    days_past_due = models.PositiveIntegerField(_("days past due"))
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="entries",
        db_index=False, **ENGINE_REFERENCE,
    )  # fmt: skip

    class Meta:
        ordering = ["business_date", "officer", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["business_date", "officer", "position"], name="worklist_position_unique"
            )
        ]
        indexes = [
            # Most entries have no campaign: only those that have one are indexed.
            models.Index(
                fields=["campaign"],
                condition=models.Q(campaign__isnull=False),
                name="worklist_campaign",
            )
        ]
        verbose_name = _("worklist entry")
        verbose_name_plural = _("worklist entries")

    def __str__(self) -> str:
        return f"{self.business_date} {self.officer_id} #{self.position}"


class PlannedAction(models.Model):
    """Acción planificada: an action-plan item (CR Gestión) dated for one case.

    Its window runs from the business date on which the case's days past due reach
    the item's `from_day` to the end of the date on which they reach `to_day` (W).
    Automatic channels wait in the dispatch queue (`queued`); manual ones are on the
    owner officer's agenda (`open`). Written set-based by the plan step.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued for dispatch")
        OPEN = "open", _("On the officer's agenda")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        MISSED = "missed", _("Missed")

    # Indexed by the unique window (case first).
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="planned_actions", db_index=False,
        **ENGINE_REFERENCE,
    )  # fmt: skip
    # The plan item it comes from (strategy `action_plans`), copied: a later strategy
    # version may change the item without rewriting what was planned.
    type = models.CharField(_("management type"), max_length=10)
    tramo = models.PositiveSmallIntegerField(_("tramo"))
    order = models.PositiveSmallIntegerField(_("order"))
    channel = models.CharField(_("channel"), max_length=30)
    template = models.CharField(_("template"), max_length=60, blank=True, null=True)
    manual = models.BooleanField(_("manual"), default=False)
    from_day = models.PositiveIntegerField(_("from day"))
    to_day = models.PositiveIntegerField(_("to day"))
    window_from = models.DateField(_("window opens"))
    window_to = models.DateField(_("window closes"))
    planned_on = models.DateField(_("planned on"))
    # Manual actions belong to the case's officer; automatic ones to the system (null).
    officer = models.ForeignKey(
        Officer, on_delete=models.SET_NULL, null=True, blank=True, related_name="planned_actions",
        db_index=False, **ENGINE_REFERENCE,
    )  # fmt: skip
    # The client's agency, copied by the plan step (and kept by it when a client moves):
    # the escalation inboxes find an agency's red actions by index instead of testing
    # every red action of the company against the reader's scope (which still applies).
    agency = models.ForeignKey(
        Agency, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, **ENGINE_REFERENCE,
    )  # fmt: skip
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by_result = models.ForeignKey(
        FieldResult, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, **ENGINE_REFERENCE,
    )  # fmt: skip
    # Done after its window, or never done: red for good (dashboards, commissions).
    late = models.BooleanField(_("late"), default=False)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    # Escalation: the highest level at which a superior marked it handled.
    handled_level = models.PositiveSmallIntegerField(_("handled at level"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False,
    )  # fmt: skip

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "type", "tramo", "order", "window_from"],
                name="planned_action_window",
            )
        ]
        indexes = [
            models.Index(
                fields=["window_to"],
                condition=models.Q(status__in=["queued", "open"]),
                name="planned_action_pending",
            ),
            models.Index(
                fields=["agency", "window_to"],
                condition=models.Q(status__in=["queued", "open"]),
                name="planned_action_agency_pending",
            ),
            # Mostly empty references: only the rows that have one are indexed (the
            # automatic actions, about half, have no officer).
            models.Index(
                fields=["officer"],
                condition=models.Q(officer__isnull=False),
                name="planned_action_officer",
            ),
            models.Index(
                fields=["done_by_result"],
                condition=models.Q(done_by_result__isnull=False),
                name="planned_action_done_by",
            ),
            models.Index(
                fields=["handled_by"],
                condition=models.Q(handled_by__isnull=False),
                name="planned_action_handled_by",
            ),
        ]
        verbose_name = _("planned action")
        verbose_name_plural = _("planned actions")

    def __str__(self) -> str:
        return f"{self.type}{self.tramo}#{self.order} {self.channel} {self.window_from}"


class LightSummary(models.Model):
    """Semáforo counts of a business date for one officer, agency, zone or the company.

    Kept by the lights step and by each registered result, so no page aggregates the
    raw portfolio. `red_pending`: red and still to do; `red_late`: done late or missed.
    """

    class Level(models.TextChoices):
        OFFICER = "officer", _("Officer")
        AGENCY = "agency", _("Agency")
        ZONE = "zone", _("Zone")
        COMPANY = "company", _("Company")

    business_date = models.DateField(_("business date"))
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    # The officer's, agency's or zone's id; 0 for the company.
    key = models.BigIntegerField(_("key"))
    green = models.PositiveIntegerField(default=0)
    amber = models.PositiveIntegerField(default=0)
    red_pending = models.PositiveIntegerField(default=0)
    red_late = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business_date", "level", "key"], name="light_summary_unique"
            )
        ]
        verbose_name = _("light summary")
        verbose_name_plural = _("light summaries")

    def __str__(self) -> str:
        return f"{self.business_date} {self.level}:{self.key}"


class EscalationNote(models.Model):
    """Nota de escalamiento: what a superior did with an escalated action (comment,
    reassignment, handled), with who and when; audited like the cases."""

    class Kind(models.TextChoices):
        COMMENT = "comment", _("Comment")
        REASSIGN = "reassign", _("Reassignment")
        HANDLED = "handled", _("Handled")

    action = models.ForeignKey(PlannedAction, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(_("level"))
    business_date = models.DateField(_("business date"))
    text = models.TextField(_("text"), blank=True)
    from_officer = models.ForeignKey(
        Officer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_officer = models.ForeignKey(
        Officer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["action", "at", "id"]
        verbose_name = _("escalation note")
        verbose_name_plural = _("escalation notes")

    def __str__(self) -> str:
        return f"{self.kind} L{self.level} {self.business_date}"


class EscalationDigest(models.Model):
    """One row per superior and business date: the day's digest was sent (idempotent)."""

    business_date = models.DateField(_("business date"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    level = models.PositiveSmallIntegerField(_("level"))
    actions = models.PositiveIntegerField(_("actions"), default=0)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business_date", "user"], name="digest_once_a_day")
        ]
        verbose_name = _("escalation digest")
        verbose_name_plural = _("escalation digests")

    def __str__(self) -> str:
        return f"{self.business_date} {self.user_id}"


class AgencyBalance(models.Model):
    """Saldo de la cartera: the principal balance (PEN) of D's snapshot by the client's
    agency, and of its delinquent credits, which `DailyFigures` takes in. A step of
    its own (`balances`, `engine/figures.py`): it reads only the snapshot and the
    clients, so the night runs it beside the assignment. `agency` is empty for the
    clients without one (counted in the company's figures only)."""

    business_date = models.DateField(_("business date"))
    agency = models.ForeignKey(
        Agency, on_delete=models.DO_NOTHING, null=True, related_name="+", db_index=False,
        **ENGINE_REFERENCE,
    )  # fmt: skip
    balance_total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    balance_delinquent = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business_date", "agency"], name="agency_balance_unique"
            )
        ]
        verbose_name = _("agency balance")
        verbose_name_plural = _("agency balances")

    def __str__(self) -> str:
        return f"{self.business_date} {self.agency_id}"


class DailyFigures(models.Model):
    """Cifras del día: the dashboards' figures of a business date for one officer,
    agency, zone or the company (key 0), beside `LightSummary`.

    Rebuilt by the cycle's lights step in a fixed number of statements (see
    `engine/figures.py` for each figure's definition); the day's visits move with
    each registered result. No dashboard counts the portfolio on a page view.
    """

    business_date = models.DateField(_("business date"))
    level = models.CharField(_("level"), max_length=10, choices=LightSummary.Level.choices)
    key = models.BigIntegerField(_("key"))
    cases_open = models.PositiveIntegerField(default=0)
    overdue_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    promises_today = models.PositiveIntegerField(default=0)
    promises_due = models.PositiveIntegerField(default=0)
    promises_kept = models.PositiveIntegerField(default=0)
    collected = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    payments = models.PositiveIntegerField(default=0)
    cure_base = models.PositiveIntegerField(default=0)
    cured = models.PositiveIntegerField(default=0)
    tramo1_base = models.PositiveIntegerField(default=0)
    tramo1_rolled = models.PositiveIntegerField(default=0)
    balance_total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    balance_delinquent = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    visits_verified = models.PositiveIntegerField(default=0)
    visits_off = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business_date", "level", "key"], name="daily_figures_unique"
            )
        ]
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")

    def __str__(self) -> str:
        return f"{self.business_date} {self.level}:{self.key}"


class ExternalAssignment(models.Model):
    """How an outsourced agency shares the cases of a subzone and tramo with the
    internal team (DOMAIN.md 6): `alternate` (the cases are dealt round-robin over
    the internal and the agency's officers who cover them; the default when no rule
    applies) or `simultaneous` (the case stays with its asesor and the agency works
    it too). A rule with no subzone or no tramo covers all of them; the most
    specific rule for a (subzone, tramo) wins. Read by the assignment step."""

    class Mode(models.TextChoices):
        ALTERNATE = "alternate", _("Alternate (cases split between the teams)")
        SIMULTANEOUS = "simultaneous", _("Simultaneous (the agency works the asesor's cases too)")

    external_agency = models.ForeignKey(
        ExternalAgency, on_delete=models.CASCADE, related_name="assignment_rules"
    )
    subzone = models.ForeignKey(
        "portfolio.Subzone", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    tramo = models.PositiveSmallIntegerField(_("tramo"), null=True, blank=True)
    mode = models.CharField(_("mode"), max_length=12, choices=Mode.choices)
    history = HistoricalRecords()

    class Meta:
        ordering = ["external_agency", "subzone", "tramo"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_agency", "subzone", "tramo"],
                name="external_assignment_unique",
            )
        ]
        verbose_name = _("external agency assignment")
        verbose_name_plural = _("external agency assignments")

    def __str__(self) -> str:
        return f"{self.external_agency_id} {self.subzone_id or '*'}/{self.tramo or '*'} {self.mode}"


class TeamFigures(models.Model):
    """The internal team's and each outsourced agency's figures of a business date in
    one agency (the client's), side by side on the dashboards (DOMAIN.md 6).

    `team` is 0 for the internal team, else the external agency's id. A case worked
    simultaneously counts for both teams (and in `cases_shared` of both). Rebuilt by
    the lights step (`engine/teams.py`), a fixed number of statements."""

    business_date = models.DateField(_("business date"))
    agency_key = models.BigIntegerField(_("agency"))
    team = models.BigIntegerField(_("team"))
    cases_open = models.PositiveIntegerField(default=0)
    cases_shared = models.PositiveIntegerField(default=0)
    overdue_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    collected = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    payments = models.PositiveIntegerField(default=0)
    cured = models.PositiveIntegerField(default=0)
    results = models.PositiveIntegerField(default=0)
    visits_verified = models.PositiveIntegerField(default=0)
    promises = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business_date", "agency_key", "team"], name="team_figures_unique"
            )
        ]
        verbose_name = _("team figures")
        verbose_name_plural = _("team figures")

    def __str__(self) -> str:
        return f"{self.business_date} {self.agency_key}:{self.team}"
