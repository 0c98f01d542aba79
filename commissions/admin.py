from django.contrib import admin

from commissions import models


class ReadOnly(admin.ModelAdmin):
    """Written by the services (audited there); the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Exoneration)
class ExonerationAdmin(ReadOnly):
    list_display = ["id", "client", "credit", "status", "required_role", "requested_by",
                    "requested_at", "decided_by"]  # fmt: skip
    list_filter = ["status", "required_role", "requester_role"]
    search_fields = ["client__code", "credit__code"]
    raw_id_fields = ["client", "credit", "requested_by", "decided_by"]


@admin.register(models.CommissionMonth)
class CommissionMonthAdmin(ReadOnly):
    list_display = ["month", "status", "computed_at", "closed_at", "closed_by", "lines"]


@admin.register(models.CommissionStatement)
class CommissionStatementAdmin(ReadOnly):
    list_display = [
        "month", "kind", "officer", "agency", "external_agency", "clients_cured",
        "amount_collected", "clients_refinanced", "office_target_reached", "amount",
    ]  # fmt: skip
    list_filter = ["month", "kind"]
    search_fields = ["officer__code", "agency__code", "external_agency__code"]
    show_full_result_count = False


@admin.register(models.OfficeTarget)
class OfficeTargetAdmin(admin.ModelAdmin):
    """Targets may also be typed here (audited, who and when); the CSV page loads many."""

    list_display = ["agency", "month", "amount", "loaded_by", "loaded_at"]
    list_filter = ["month"]
    search_fields = ["agency__code"]
    readonly_fields = ["loaded_by", "loaded_at"]

    def save_model(self, request, obj, form, change):
        obj.loaded_by = request.user
        super().save_model(request, obj, form, change)
