"""The risk manager's fallback editor for the organisation and the portfolio."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from portfolio import models
from portfolio.services import SCOPES, token_issue, token_revoke


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


class ApiTokenIssueForm(forms.ModelForm):
    """Issuing a token: for a person (their username) or a service account (created)."""

    account = forms.CharField(
        label=_("user or service account"),
        max_length=150,
        help_text=_("an existing username, or a new service account's name"),
    )
    scope_list = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=[(s, s) for s in SCOPES],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = models.ApiToken
        fields = ["name"]
        labels = {"name": _("label")}


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here (shown once) and revoked, never edited or deleted."""

    list_display = ["name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["name", "user", "prefix", "scopes", "created_at", "last_used_at",
                       "revoked_at"]  # fmt: skip
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenIssueForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ["account", "name", "scope_list"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        issued = token_issue(
            name=form.cleaned_data["account"],
            scopes=form.cleaned_data["scope_list"],
            label=form.cleaned_data.get("name") or "",
            by=request.user,
        )
        obj.pk = issued.token.pk
        request._issued_token = issued  # shown once by response_add, never stored

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(request, "_issued_token", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/portfolio/apitoken/issued.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "token": issued.token,
                "raw": issued.raw,
                "title": _("Token issued"),
            },
        )
        add_never_cache_headers(response)
        return response

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        revoked = sum(token_revoke(token=token, by=request.user) for token in queryset)
        self.message_user(
            request, _("%(n)d token(s) revoked.") % {"n": revoked}, level=messages.SUCCESS
        )


@admin.register(models.NonWorkingDay)
class NonWorkingDayAdmin(admin.ModelAdmin):
    """The lender's own días no laborables, on top of the national holidays: no
    collection lists, visits or calls on them (the gerente keeps this calendar)."""

    list_display = ["date", "name"]
    date_hierarchy = "date"
    search_fields = ["name"]
