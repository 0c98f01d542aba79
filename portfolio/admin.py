"""The risk manager's fallback editor for the organisation and the portfolio."""

from django.contrib import admin

from portfolio import models


@admin.register(models.Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(models.Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "zone"]
    list_filter = ["zone"]
    search_fields = ["code", "name"]


@admin.register(models.Subzone)
class SubzoneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "agency"]
    list_filter = ["agency__zone"]
    search_fields = ["code", "name"]


@admin.register(models.Quadrant)
class QuadrantAdmin(admin.ModelAdmin):
    list_display = ["code", "subzone", "lat", "lon", "size_m"]
    search_fields = ["code"]
    list_select_related = ["subzone"]
    raw_id_fields = ["subzone"]


@admin.register(models.ExternalAgency)
class ExternalAgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(models.Officer)
class OfficerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "agency", "external_agency", "tramos", "active"]
    list_filter = ["agency__zone", "external_agency", "active"]
    search_fields = ["code", "name", "user__username"]
    filter_horizontal = ["subzones"]
    raw_id_fields = ["user"]


@admin.register(models.StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "agency", "zone", "external_agency"]
    list_filter = ["role"]
    search_fields = ["user__username"]


class AddressInline(admin.TabularInline):
    model = models.Address
    extra = 0
    raw_id_fields = ["quadrant", "subzone", "guarantor"]


class GuarantorInline(admin.TabularInline):
    model = models.Guarantor
    extra = 0


@admin.register(models.Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "agency"]
    list_filter = ["agency__zone"]
    search_fields = ["code", "document_id"]
    inlines = [GuarantorInline, AddressInline]
    raw_id_fields = ["agency"]
    show_full_result_count = False


@admin.register(models.Credit)
class CreditAdmin(admin.ModelAdmin):
    list_display = ["code", "client", "product", "currency", "disbursed_amount", "left_on"]
    list_filter = ["currency", "product"]
    search_fields = ["code", "client__code"]
    raw_id_fields = ["client", "agency"]
    list_select_related = ["client"]
    show_full_result_count = False


@admin.register(models.Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["reference", "credit", "amount", "paid_at", "installments"]
    search_fields = ["reference", "credit__code"]
    raw_id_fields = ["credit"]
    show_full_result_count = False


@admin.register(models.SnapshotImport)
class SnapshotImportAdmin(admin.ModelAdmin):
    list_display = ["business_date", "rows", "credits_new", "credits_left", "seconds"]
    readonly_fields = [f.name for f in models.SnapshotImport._meta.fields]
