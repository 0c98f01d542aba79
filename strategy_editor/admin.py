"""Drafts in the admin: read-only evidence (they are edited in the editor's pages)."""

from django.contrib import admin

from strategy_editor.models import StrategyDraft


@admin.register(StrategyDraft)
class StrategyDraftAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "status",
        "based_on",
        "published_version",
        "started_by",
        "updated_at",
        "revision",
        "preview_status",
    )
    list_filter = ("status",)
    readonly_fields = [f.name for f in StrategyDraft._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
