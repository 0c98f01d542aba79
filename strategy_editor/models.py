"""The risk manager's drafts: a whole strategy being edited before it is published.

A draft holds the document in the strategy file's shape (DOMAIN.md 7.2) as plain
JSON values, *as typed*, bad values included: the validator judges it on every
page, so each error shows next to its row and field until it is fixed. It records
who started it and the version it is based on; publishing it creates a
`StrategyVersion` through `strategy_publish`, and the draft keeps which one.

The preview (its effect on the next cycle) is stored on the draft with the hash of
the content it was made for, so a preview of an older content shows as such.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from strategy.models import StrategyVersion


class StrategyDraft(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PUBLISHED = "published", _("Published")
        DISCARDED = "discarded", _("Discarded")

    class PreviewStatus(models.TextChoices):
        NONE = "", _("Not previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    title = models.CharField(_("title"), max_length=200, blank=True)
    document = models.JSONField(_("strategy document"))
    based_on = models.ForeignKey(
        StrategyVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("based on")
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Each edit bumps it; an edit or a publish sent from an older page is refused.
    revision = models.PositiveIntegerField(_("revision"), default=1)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    published_version = models.ForeignKey(
        StrategyVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published as"),
    )
    # The preview: written by its task with plain updates (no audit record each time).
    preview_status = models.CharField(
        max_length=10, choices=PreviewStatus.choices, default=PreviewStatus.NONE, blank=True
    )
    preview_token = models.UUIDField(null=True, blank=True)  # the request a task answers
    preview_task_id = models.CharField(max_length=64, blank=True)
    preview_requested_at = models.DateTimeField(null=True, blank=True)
    preview_finished_at = models.DateTimeField(null=True, blank=True)
    preview_sha = models.CharField(max_length=64, blank=True)  # the content it was made for
    preview = models.JSONField(default=dict, blank=True)
    preview_error = models.TextField(blank=True)
    # The document is not copied into every audit record: each edit's reason says
    # what changed (section, row, key, before → after).
    history = HistoricalRecords(
        excluded_fields=[
            "document",
            "preview",
            "preview_status",
            "preview_token",
            "preview_task_id",
            "preview_requested_at",
            "preview_finished_at",
            "preview_sha",
            "preview_error",
        ]
    )

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("strategy draft")
        verbose_name_plural = _("strategy drafts")

    def __str__(self) -> str:
        return self.title or f"#{self.pk}"
