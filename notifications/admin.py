from django.contrib import admin

from notifications import models


class MessageEventInline(admin.TabularInline):
    model = models.MessageEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "source", "from_status", "to_status", "gate", "reason", "detail"]
    fields = readonly_fields


class ReadOnly(admin.ModelAdmin):
    """The outbox is evidence (Indecopi): dispatch and the providers write it, nobody
    edits or deletes it by hand."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.OutgoingMessage)
class OutgoingMessageAdmin(ReadOnly):
    list_display = ["case", "channel", "recipient", "status", "gate", "gate_reason", "sent_at"]
    list_filter = ["status", "channel", "gate", "gate_reason"]
    search_fields = ["case__client__code", "provider_id"]
    raw_id_fields = ["case", "action", "guarantor"]
    inlines = [MessageEventInline]


@admin.register(models.InboundMessage)
class InboundMessageAdmin(ReadOnly):
    list_display = ["channel", "client", "opt_out", "received_at"]
    list_filter = ["channel", "opt_out"]
    search_fields = ["client__code", "provider_id"]
    raw_id_fields = ["client"]


# --- msgs: templates are edited on the gerente's page (every check, audited); letters
# and their batches are evidence like the outbox.


@admin.register(models.MessageTemplate)
class MessageTemplateAdmin(ReadOnly):
    list_display = ["name", "channel", "recipient", "content_sid", "updated_at", "updated_by"]
    list_filter = ["channel", "recipient"]
    search_fields = ["name"]


@admin.register(models.LetterBatch)
class LetterBatchAdmin(ReadOnly):
    list_display = ["agency", "business_date", "letters", "pages", "built_at"]
    list_filter = ["business_date"]


@admin.register(models.Letter)
class LetterAdmin(ReadOnly):
    list_display = ["case", "agency", "business_date", "status", "gate_reason", "delivered_at"]
    list_filter = ["status", "gate_reason", "business_date"]
    search_fields = ["case__client__code"]
    raw_id_fields = ["case", "action", "batch"]
    exclude = ["html"]
