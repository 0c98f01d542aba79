"""Admin: the risk manager's fallback editor.

Published versions are history and never edited in place: every table is
read-only here. Changing the strategy means publishing a new version, from a
pasted or edited YAML file (pre-filled with the active version's dump) or by
re-publishing an older version; both go through `strategy_publish`, the same
validation as `load_strategy`.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from strategy.exceptions import StrategyError, StrategyValidationError
from strategy.models import (
    ActionPlanItem,
    BasTransition,
    Classification,
    CommissionScheme,
    EscalationLevel,
    EventCode,
    ExonerationLimit,
    ManagementType,
    RefinancingProduct,
    ResultCode,
    StrategyVersion,
    SuggestedAction,
    Tramo,
)
from strategy.services import strategy_dump, strategy_publish

PUBLISH_PERMISSION = "strategy.add_strategyversion"


class ReadOnlyMixin:
    """View only: a published version is history (DOMAIN.md 3, every change is versioned)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VersionRowInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class ManagementTypeInline(VersionRowInline):
    model = ManagementType
    fields = ("code", "name", "max_exposure")


class TramoInline(VersionRowInline):
    model = Tramo
    fields = ("type", "number", "from_day", "to_day", "max_visits", "daily_cap")


class ClassificationInline(VersionRowInline):
    model = Classification
    fields = ("type", "code", "name", "max_dpd", "campaign")


class ResultCodeInline(VersionRowInline):
    model = ResultCode
    fields = ("type", "code", "name", "promise", "to_phone_days")


class EventCodeInline(VersionRowInline):
    model = EventCode
    fields = ("code", "name")


class EscalationLevelInline(VersionRowInline):
    model = EscalationLevel
    fields = ("level", "after_days")


class RefinancingProductInline(VersionRowInline):
    model = RefinancingProduct
    fields = (
        "code",
        "name",
        "min_dpd",
        "max_dpd",
        "max_term_months",
        "extra_term_months",
        "fee",
        "tea",
        "min_down_payment_pct",
        "min_installment",
        "waiver_late_interest",
        "waiver_collection_fees",
        "waiver_commissions",
    )


class ExonerationLimitInline(VersionRowInline):
    model = ExonerationLimit
    fields = ("role", "classification", "min_installments_paid", "max_pct")


class CommissionSchemeInline(VersionRowInline):
    model = CommissionScheme
    fields = (
        "per_cured_client",
        "collected_share",
        "per_refinanced_client",
        "office_target_multiplier",
        "external_agency_share",
        "effective_days",
    )


class PublishForm(forms.Form):
    document = forms.CharField(
        label=gettext_lazy("Strategy (YAML)"),
        widget=forms.Textarea(attrs={"rows": 40, "cols": 120, "spellcheck": "false"}),
    )
    source_name = forms.CharField(label=gettext_lazy("Note or file name"), required=False)


@admin.register(StrategyVersion)
class StrategyVersionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "name",
        "is_active",
        "published_at",
        "published_by",
        "source_name",
        "warning_count",
        "download_link",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "source_name")
    fields = (
        "number",
        "name",
        "usd_rate",
        "is_active",
        "published_at",
        "published_by",
        "source_name",
        "sha256",
        "warnings",
        "replaced",
        "diff",
        "source",
    )
    inlines = (
        ManagementTypeInline,
        TramoInline,
        ClassificationInline,
        ResultCodeInline,
        EventCodeInline,
        EscalationLevelInline,
        RefinancingProductInline,
        ExonerationLimitInline,
        CommissionSchemeInline,
    )
    actions = ("republish",)
    change_list_template = "admin/strategy/strategyversion/change_list.html"

    @admin.display(description=gettext_lazy("warnings"))
    def warning_count(self, obj: StrategyVersion) -> int:
        return len(obj.warnings or [])

    @admin.display(description=gettext_lazy("YAML"))
    def download_link(self, obj: StrategyVersion) -> str:
        url = reverse("admin:strategy_strategyversion_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("download"))

    def get_urls(self):
        urls = [
            path(
                "publish/",
                self.admin_site.admin_view(self.publish_view),
                name="strategy_strategyversion_publish",
            ),
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="strategy_strategyversion_download",
            ),
        ]
        return urls + super().get_urls()

    def download_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = get_object_or_404(StrategyVersion, pk=pk)
        response = HttpResponse(
            strategy_dump(version=version), content_type="application/yaml; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="strategy_v{version.number}.yaml"'
        return response

    def publish_view(self, request):
        if not request.user.has_perm(PUBLISH_PERMISSION):
            raise PermissionDenied
        errors: list[str] = []
        if request.method == "POST":
            form = PublishForm(request.POST)
            if form.is_valid():
                try:
                    result = strategy_publish(
                        document=form.cleaned_data["document"].replace("\r\n", "\n"),
                        published_by=request.user,
                        source_name=form.cleaned_data["source_name"],
                    )
                except StrategyValidationError as exc:
                    errors = exc.errors
                else:
                    self._report(request, result)
                    return redirect("admin:strategy_strategyversion_changelist")
        else:
            try:
                initial = strategy_dump()
            except StrategyError:
                initial = ""
            form = PublishForm(initial={"document": initial})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Publish a strategy"),
            "form": form,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/strategy/strategyversion/publish.html", context)

    @admin.action(description=gettext_lazy("Publish again as the active version"))
    def republish(self, request, queryset):
        if not request.user.has_perm(PUBLISH_PERMISSION):
            raise PermissionDenied
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one version."), messages.ERROR)
            return
        version = queryset.get()
        result = strategy_publish(
            document=strategy_dump(version=version),
            published_by=request.user,
            source_name=_("copy of version {n}").format(n=version.number),
        )
        self._report(request, result)

    def _report(self, request, result) -> None:
        version = result.version
        if result.created:
            self.log_addition(request, version, [{"added": {}}])
            self.message_user(
                request,
                _("Published strategy version {n}.").format(n=version.number),
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                _("Nothing changed: version {n} is already active.").format(n=version.number),
                messages.INFO,
            )
        for warning in result.warnings:
            self.message_user(request, warning, messages.WARNING)


class VersionRowAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_filter = ("version",)
    list_select_related = ("version",)
    ordering = ("-version__number", "position")
    list_per_page = 200


@admin.register(ManagementType)
class ManagementTypeAdmin(VersionRowAdmin):
    list_display = ("version", "code", "name", "max_exposure")


@admin.register(Tramo)
class TramoAdmin(VersionRowAdmin):
    list_display = ("version", "type", "number", "from_day", "to_day", "max_visits", "daily_cap")
    list_filter = ("version", "type")


@admin.register(Classification)
class ClassificationAdmin(VersionRowAdmin):
    list_display = ("version", "type", "code", "name", "max_dpd", "campaign")
    list_filter = ("version", "type", "campaign")


@admin.register(ResultCode)
class ResultCodeAdmin(VersionRowAdmin):
    list_display = ("version", "type", "code", "name", "promise", "to_phone_days")
    list_filter = ("version", "type")


@admin.register(EventCode)
class EventCodeAdmin(VersionRowAdmin):
    list_display = ("version", "code", "name")


@admin.register(SuggestedAction)
class SuggestedActionAdmin(VersionRowAdmin):
    list_display = (
        "version",
        "type",
        "code",
        "classification",
        "tramo",
        "visit",
        "where",
        "whom",
        "instrument",
        "message",
        "letter_template",
    )
    list_filter = ("version", "type", "classification", "tramo")
    search_fields = ("code", "message")


@admin.register(BasTransition)
class BasTransitionAdmin(VersionRowAdmin):
    list_display = ("version", "type", "from_code", "on_code", "to_code")
    list_filter = ("version", "type", "on_code")
    search_fields = ("from_code", "to_code")


@admin.register(ActionPlanItem)
class ActionPlanItemAdmin(VersionRowAdmin):
    list_display = (
        "version",
        "type",
        "tramo",
        "order",
        "channel",
        "from_day",
        "to_day",
        "template",
        "manual",
    )
    list_filter = ("version", "type", "tramo", "channel")


@admin.register(EscalationLevel)
class EscalationLevelAdmin(VersionRowAdmin):
    list_display = ("version", "level", "after_days")
