"""Core banking's writes: the nightly snapshot and the day's payments (DOMAIN.md 7.4)."""

import shutil
import tempfile
from datetime import date

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, UnsupportedMediaType
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolio.exceptions import InvalidInput
from portfolio.models import Role
from portfolio.selectors import role_of
from portfolio.services import payment_register, snapshot_import

CORE_BANKING_ROLES = (Role.SERVICIO, Role.GERENTE)


def require_role(request, roles) -> None:
    if role_of(request.user) not in roles:
        raise PermissionDenied(_("your role may not do this"))


class CsvPassThrough(BaseParser):
    """Declares text/csv; the view streams the body itself (never held whole)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream


class SnapshotResultSerializer(serializers.Serializer):
    business_date = serializers.DateField()
    rows = serializers.IntegerField()
    credits_new = serializers.IntegerField()
    clients_new = serializers.IntegerField()
    credits_left = serializers.IntegerField()
    unchanged = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())


class SnapshotApi(APIView):
    required_scope = "snapshots:write"
    parser_classes = [CsvPassThrough]

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, required=True)],
        request={"text/csv": OpenApiTypes.BINARY},
        responses={201: SnapshotResultSerializer, 200: SnapshotResultSerializer},
        description="Core banking's position at the start of `date` (DOMAIN.md 7.1). "
        "The same file twice changes nothing; a bad row loads nothing (400 names the line).",
    )
    def post(self, request):
        require_role(request, CORE_BANKING_ROLES)
        if not (request.content_type or "").startswith("text/csv"):
            raise UnsupportedMediaType(request.content_type)
        try:
            business_date = date.fromisoformat(request.query_params.get("date", ""))
        except ValueError as exc:
            raise InvalidInput(_("date must be YYYY-MM-DD"), "date") from exc
        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(request._request, spool, 1 << 20)
            spool.seek(0)
            result = snapshot_import(
                source=spool, business_date=business_date, user=request.user, file_name="api"
            )
        body = SnapshotResultSerializer(result).data
        return Response(body, status=200 if result.unchanged else status.HTTP_201_CREATED)


class PaymentSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=60)
    credit_code = serializers.CharField(max_length=40)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    paid_at = serializers.DateTimeField()
    installments = serializers.IntegerField(min_value=0, max_value=999)


class PaymentOutSerializer(serializers.Serializer):
    reference = serializers.CharField()
    credit_code = serializers.CharField(source="credit.code")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid_at = serializers.DateTimeField()
    installments = serializers.IntegerField()
    received_at = serializers.DateTimeField()


class PaymentApi(APIView):
    required_scope = "payments:write"

    @extend_schema(
        request=PaymentSerializer,
        responses={201: PaymentOutSerializer, 200: PaymentOutSerializer},
        description="A payment; `reference` is unique and a repeat returns the first one.",
    )
    def post(self, request):
        require_role(request, CORE_BANKING_ROLES)
        data = PaymentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registered = payment_register(**data.validated_data)
        return Response(
            PaymentOutSerializer(registered.payment).data,
            status=status.HTTP_201_CREATED if registered.created else status.HTTP_200_OK,
        )
