"""Exonerations over REST (DOMAIN.md 7.4): request, read, approve, reject."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from commissions.exonerations.selectors import exoneration_for, exonerations_list
from commissions.exonerations.services import (
    exoneration_approve,
    exoneration_reject,
    exoneration_request,
)
from commissions.models import Exoneration
from commissions.serializers import DecisionSerializer

PCT = {"max_digits": 5, "decimal_places": 4, "min_value": 0, "max_value": 1}


class ExonerationRequestSerializer(serializers.Serializer):
    client_code = serializers.CharField(max_length=40)
    credit_code = serializers.CharField(max_length=40)
    late_interest_pct = serializers.DecimalField(
        **PCT, default=0, help_text="fraction of the late interest to waive (0.30 = 30 %)"
    )
    collection_fees_pct = serializers.DecimalField(**PCT, default=0)
    commissions_pct = serializers.DecimalField(**PCT, default=0)
    reason = serializers.CharField(max_length=2000)


class ExonerationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(Exoneration.Status.values)
    client_code = serializers.CharField(source="client.code")
    credit_code = serializers.CharField(source="credit.code")
    business_date = serializers.DateField(help_text="the position the amounts come from")
    classification = serializers.CharField()
    installments_paid = serializers.IntegerField()
    late_interest_pct = serializers.DecimalField(max_digits=5, decimal_places=4)
    collection_fees_pct = serializers.DecimalField(max_digits=5, decimal_places=4)
    commissions_pct = serializers.DecimalField(max_digits=5, decimal_places=4)
    late_interest = serializers.DecimalField(max_digits=14, decimal_places=2)
    collection_fees = serializers.DecimalField(max_digits=14, decimal_places=2)
    commissions = serializers.DecimalField(max_digits=14, decimal_places=2)
    waived = serializers.SerializerMethodField()
    reason = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by.username")
    requester_role = serializers.CharField()
    requester_limit = serializers.DecimalField(max_digits=5, decimal_places=4)
    requested_at = serializers.DateTimeField()
    required_role = serializers.CharField(
        help_text="the requester's own role when approved within its limit, else the role "
        "whose limit covers it"
    )
    decided_by = serializers.CharField(
        source="decided_by.username",
        allow_null=True,
        default=None,
        help_text="null when approved at once within the requester's limit",
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField(allow_blank=True)

    def get_waived(self, obj) -> dict[str, str]:
        return {
            "late_interest": f"{obj.late_interest_waived:.2f}",
            "collection_fees": f"{obj.collection_fees_waived:.2f}",
            "commissions": f"{obj.commissions_waived:.2f}",
        }


class ExonerationQuery(serializers.Serializer):
    status = serializers.ChoiceField(Exoneration.Status.values, required=False)
    client_code = serializers.CharField(max_length=40, required=False)


class ExonerationCursor(CursorPagination):
    ordering = ("-requested_at", "-id")
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 1000


class ExonerationApi(generics.ListAPIView):
    required_scope = {"GET": "exonerations:read", "POST": "exonerations:write"}
    serializer_class = ExonerationSerializer
    pagination_class = ExonerationCursor

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Exoneration.objects.none()
        query = ExonerationQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return exonerations_list(user=self.request.user, **query.validated_data)

    @extend_schema(
        parameters=[ExonerationQuery],
        description="Exonerations within the caller's scope, newest first (cursor pages).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ExonerationRequestSerializer,
        responses={201: ExonerationSerializer},
        description="A waiver of late interest, collection fees and commissions on a credit "
        "(fractions of its latest position's amounts). `status` is `approved` within the "
        "requester's limit (strategy `exoneration_limits`: role, classification, "
        "installments paid), else `pending` for the role named in `required_role`.",
    )
    def post(self, request):
        body = ExonerationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        exoneration = exoneration_request(user=request.user, **body.validated_data)
        return Response(ExonerationSerializer(exoneration).data, status=status.HTTP_201_CREATED)


class ExonerationDetailApi(APIView):
    required_scope = "exonerations:read"

    @extend_schema(responses={200: ExonerationSerializer})
    def get(self, request, exoneration_id: int):
        found = exoneration_for(user=request.user, exoneration_id=exoneration_id)
        return Response(ExonerationSerializer(found).data)


class ExonerationApproveApi(APIView):
    required_scope = "exonerations:write"

    @extend_schema(
        request=DecisionSerializer,
        responses={200: ExonerationSerializer},
        description="A jefe de agencia (or a higher role, when the request waits for it) "
        "approves a pending request within its scope; an asesor never does (403). "
        "Approving an approved request answers it again.",
    )
    def post(self, request, exoneration_id: int):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        exoneration = exoneration_approve(
            user=request.user, exoneration_id=exoneration_id, note=body.validated_data["note"]
        )
        return Response(ExonerationSerializer(exoneration).data)


class ExonerationRejectApi(APIView):
    required_scope = "exonerations:write"

    @extend_schema(
        request=DecisionSerializer,
        responses={200: ExonerationSerializer},
        description="Reject a pending request, with a reason (`note`), as for approving.",
    )
    def post(self, request, exoneration_id: int):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        exoneration = exoneration_reject(
            user=request.user, exoneration_id=exoneration_id, note=body.validated_data["note"]
        )
        return Response(ExonerationSerializer(exoneration).data)
