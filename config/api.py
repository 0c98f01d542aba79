"""The REST API under /api/v1/ and the one place domain errors become HTTP."""

from django.urls import path
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from collections_field import apis as field_apis
from commissions.exonerations import apis as exoneration_apis
from commissions.refinancing import apis as refinancing_apis
from commissions.statements import apis as commission_apis
from notifications import apis as notification_apis
from portfolio import apis as portfolio_apis
from portfolio.exceptions import DomainError, NotFound, PermissionDenied, SnapshotError

urlpatterns = [
    path("snapshots/", portfolio_apis.SnapshotApi.as_view(), name="api-snapshots"),
    path("payments/", portfolio_apis.PaymentApi.as_view(), name="api-payments"),
    path("results/", field_apis.ResultApi.as_view(), name="api-results"),
    path("promises/", field_apis.PromiseApi.as_view(), name="api-promises"),
    path("cases/", field_apis.CaseListApi.as_view(), name="api-cases"),
    path("cases/<str:client_code>/", field_apis.CaseApi.as_view(), name="api-case"),
    path(
        "cases/<str:client_code>/override/",
        field_apis.CaseOverrideApi.as_view(),
        name="api-case-override",
    ),
    path("escalations/", field_apis.EscalationApi.as_view(), name="api-escalations"),
    path("cycles/", field_apis.CycleApi.as_view(), name="api-cycles"),
    path("cycles/<str:business_date>/", field_apis.CycleDetailApi.as_view(), name="api-cycle"),
    path("worklists/", field_apis.WorklistApi.as_view(), name="api-worklists"),
    path("campaigns/", field_apis.CampaignApi.as_view(), name="api-campaigns"),
    path("campaigns/<str:code>/", field_apis.CampaignDetailApi.as_view(), name="api-campaign"),
    path("messages/", notification_apis.MessageApi.as_view(), name="api-messages"),
    path(
        "refinancing/simulations/",
        refinancing_apis.SimulationApi.as_view(),
        name="api-refinancing-simulations",
    ),
    path(
        "refinancing/requests/",
        refinancing_apis.RequestListApi.as_view(),
        name="api-refinancing-requests",
    ),
    path(
        "refinancing/requests/<int:request_id>/",
        refinancing_apis.RequestDetailApi.as_view(),
        name="api-refinancing-request",
    ),
    path(
        "refinancing/requests/<int:request_id>/approve/",
        refinancing_apis.RequestApproveApi.as_view(),
        name="api-refinancing-approve",
    ),
    path(
        "refinancing/requests/<int:request_id>/reject/",
        refinancing_apis.RequestRejectApi.as_view(),
        name="api-refinancing-reject",
    ),
    path("letters/", notification_apis.LetterApi.as_view(), name="api-letters"),
    path("exonerations/", exoneration_apis.ExonerationApi.as_view(), name="api-exonerations"),
    path(
        "exonerations/<int:exoneration_id>/",
        exoneration_apis.ExonerationDetailApi.as_view(),
        name="api-exoneration",
    ),
    path(
        "exonerations/<int:exoneration_id>/approve/",
        exoneration_apis.ExonerationApproveApi.as_view(),
        name="api-exoneration-approve",
    ),
    path(
        "exonerations/<int:exoneration_id>/reject/",
        exoneration_apis.ExonerationRejectApi.as_view(),
        name="api-exoneration-reject",
    ),
    path("commissions/", commission_apis.CommissionApi.as_view(), name="api-commissions"),
]


def api_exception_handler(exc, context):
    """Every error is JSON: {"code", "message", "field" or "line"} (DOMAIN.md 7.4)."""
    if isinstance(exc, SnapshotError):
        first = exc.errors[0] if exc.errors else None
        return Response(
            {
                "code": exc.code,
                "message": str(exc),
                "line": first.line if first else None,
                "field": first.field if first else None,
                "errors": [
                    {"line": e.line, "field": e.field, "message": e.message} for e in exc.errors
                ],
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DomainError):
        code = (
            status.HTTP_404_NOT_FOUND
            if isinstance(exc, NotFound)
            else status.HTTP_403_FORBIDDEN
            if isinstance(exc, PermissionDenied)
            else status.HTTP_400_BAD_REQUEST
        )
        body = {"code": exc.code, "message": str(exc)}
        if getattr(exc, "field", None):
            body["field"] = exc.field
        return Response(body, status=code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        field, messages = next(iter(exc.detail.items()))
        message = messages[0] if isinstance(messages, list) else messages
        response.data = {"code": "invalid", "message": str(message), "field": field}
    else:
        detail = getattr(exc, "detail", "")
        response.data = {
            "code": getattr(detail, "code", None) or getattr(exc, "default_code", "error"),
            "message": str(detail),
        }
    return response
