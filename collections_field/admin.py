from django.contrib import admin

from collections_field import models


class CaseHistoryInline(admin.TabularInline):
    model = models.CaseHistory
    extra = 0
    can_delete = False
    readonly_fields = [
        "business_date", "at", "from_code", "to_code", "cause_kind", "cause", "officer_code", "by",
        "reason",
    ]  # fmt: skip
    fields = readonly_fields


@admin.register(models.Case)
class CaseAdmin(admin.ModelAdmin):
    """Read-mostly: the engine moves cases; a manual move is the jefe's audited override."""

    list_display = [
        "client", "management_type", "classification", "action_code", "tramo", "officer", "status",
    ]  # fmt: skip
    list_filter = ["status", "management_type", "classification", "tramo"]
    search_fields = ["client__code"]
    raw_id_fields = ["client", "officer", "external_agency", "collection_address"]
    inlines = [CaseHistoryInline]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.FieldResult)
class FieldResultAdmin(admin.ModelAdmin):
    list_display = ["client", "result_code", "occurred_at", "officer", "channel", "verified"]
    list_filter = ["channel", "verified"]
    search_fields = ["client__code", "uuid"]
    raw_id_fields = ["client", "officer", "registered_by"]
    show_full_result_count = False


@admin.register(models.Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "date_from", "date_to", "team", "agency", "by_list"]
    list_filter = ["team", "agency"]
    search_fields = ["code", "name"]
    raw_id_fields = ["created_by"]


@admin.register(models.WorklistEntry)
class WorklistEntryAdmin(admin.ModelAdmin):
    """Read-only: the selection step writes the lists."""

    list_display = ["business_date", "officer", "position", "client", "reason", "tramo"]
    list_filter = ["business_date", "reason"]
    search_fields = ["client__code", "officer__code"]
    raw_id_fields = ["officer", "case", "client", "quadrant", "campaign"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(models.PlannedAction)
class PlannedActionAdmin(admin.ModelAdmin):
    """Read-only: the plan step writes the actions; results and deliveries close them."""

    list_display = ["case", "tramo", "order", "channel", "window_from", "window_to", "officer",
                    "status", "late"]  # fmt: skip
    list_filter = ["status", "channel", "manual", "late"]
    search_fields = ["case__client__code"]
    raw_id_fields = ["case", "officer", "done_by_result", "handled_by"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(models.EscalationNote)
class EscalationNoteAdmin(admin.ModelAdmin):
    list_display = ["action", "kind", "level", "business_date", "by", "at"]
    list_filter = ["kind", "level"]
    raw_id_fields = ["action", "from_officer", "to_officer", "by"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.ExternalAssignment)
class ExternalAssignmentAdmin(admin.ModelAdmin):
    """Alternate or simultaneous work of an outsourced agency, per subzone and tramo (the
    assignment step reads it from the next night; empty subzone or tramo: all of them)."""

    list_display = ["external_agency", "subzone", "tramo", "mode"]
    list_filter = ["mode", "external_agency"]
    raw_id_fields = ["subzone"]
