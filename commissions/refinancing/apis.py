"""Refinancing over REST (DOMAIN.md 7.4): simulations, requests, approvals, and
core banking's pull of the approved ones."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from commissions.models import RefinancingRequest
from commissions.refinancing.selectors import approved_requests_since, request_for, simulation_for
from commissions.refinancing.services import (
    refinancing_request_approve,
    refinancing_request_create,
    refinancing_request_reject,
)
from commissions.serializers import DecisionSerializer
from strategy.schema import WAIVER_CONCEPTS

READ, WRITE = "refinancing:read", "refinancing:write"


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def _rate(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=9, decimal_places=4, **kwargs)


class WaiverSerializer(serializers.Serializer):
    late_interest = _rate(min_value=0, max_value=1, required=False, allow_null=True)
    collection_fees = _rate(min_value=0, max_value=1, required=False, allow_null=True)
    commissions = _rate(min_value=0, max_value=1, required=False, allow_null=True)


class SimulationInSerializer(serializers.Serializer):
    credit_code = serializers.CharField(max_length=40)
    product = serializers.CharField(max_length=20)
    term_months = serializers.IntegerField(min_value=1, max_value=600)
    down_payment = _money(min_value=0)
    start_date = serializers.DateField(
        required=False, allow_null=True, help_text="default: the current business date"
    )
    first_due_date = serializers.DateField()
    waived_pct = WaiverSerializer(
        required=False,
        help_text="share of each late charge waived (0..1); default: the product's maximum",
    )


class RequestInSerializer(SimulationInSerializer):
    reason = serializers.CharField(max_length=2000)


def _concepts(name: str, field) -> serializers.Serializer:
    return inline_serializer(name, {c: field() for c in WAIVER_CONCEPTS})


class RowSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    due_date = serializers.DateField()
    days = serializers.IntegerField()
    installment = _money()
    interest = _money()
    principal = _money()
    balance = _money()


class SimulationOutSerializer(serializers.Serializer):
    credit_code = serializers.CharField()
    client_code = serializers.CharField()
    currency = serializers.CharField()
    business_date = serializers.DateField()
    strategy_version = serializers.IntegerField()
    product = serializers.CharField()
    product_name = serializers.CharField()
    days_past_due = serializers.IntegerField()
    overdue_installments = serializers.IntegerField()
    total_installments = serializers.IntegerField()
    term_months = serializers.IntegerField()
    max_term_months = serializers.IntegerField()
    start_date = serializers.DateField()
    first_due_date = serializers.DateField()
    principal_balance = _money()
    down_payment = _money()
    fee = _money()
    principal = _money(help_text="the new principal: balance − down payment + fee")
    tea = _rate()
    tcea = _rate()
    installment = _money()
    min_installment = _money()
    charges = _concepts("Charges", _money)
    waived_pct = _concepts("WaivedPct", _rate)
    waived = _concepts("Waived", _money)
    charges_due = _concepts("ChargesDue", _money)
    due_at_signing = _money()
    schedule = RowSerializer(many=True)

    def to_representation(self, instance):
        return instance.as_data() if hasattr(instance, "as_data") else instance


class RequestOutSerializer(serializers.ModelSerializer):
    client_code = serializers.CharField(source="client.code")
    credit_code = serializers.CharField(source="credit.code")
    product = serializers.CharField(source="product_code")
    requested_by = serializers.CharField(source="requested_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    strategy_version = serializers.IntegerField(source="strategy_version.number")
    simulation = SimulationOutSerializer()

    class Meta:
        model = RefinancingRequest
        fields = [
            "id", "status", "client_code", "credit_code", "product", "strategy_version",
            "business_date", "currency", "principal_balance", "total_installments",
            "term_months", "down_payment", "start_date", "first_due_date", "principal", "fee",
            "installment", "tea", "tcea", "waived_total", "reason", "requested_by",
            "requested_at", "decided_by", "decided_at", "decision_note", "event_on",
            "simulation",
        ]  # fmt: skip


def _inputs(data: dict) -> dict:
    values = dict(data)
    waived = values.pop("waived_pct", None)
    if waived:
        values["waived_pct"] = {k: v for k, v in waived.items() if v is not None}
    return values


class SimulationApi(APIView):
    required_scope = (READ, WRITE)

    @extend_schema(
        request=SimulationInSerializer,
        responses={200: SimulationOutSerializer},
        description="Simulate a refinancing of a credit (DOMAIN.md 6): the new principal, "
        "the waived charges, the level installment, the TCEA and the whole schedule. "
        "Writes nothing. A value outside the product is a 400 naming its field.",
    )
    def post(self, request):
        body = SimulationInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        simulation = simulation_for(user=request.user, **_inputs(body.validated_data))
        return Response(SimulationOutSerializer(simulation).data)


class ApprovedCursor(CursorPagination):
    """Stable pages in approval order: core banking keeps the `next` link."""

    ordering = ("decided_at", "id")
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 1000


class SinceQuery(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="only the requests approved at or after this moment"
    )


class RequestListApi(generics.ListAPIView):
    required_scope = {"GET": READ, "POST": WRITE}
    serializer_class = RequestOutSerializer
    pagination_class = ApprovedCursor

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RefinancingRequest.objects.none()
        query = SinceQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return approved_requests_since(
            user=self.request.user, since=query.validated_data.get("since")
        ).select_related("strategy_version")

    @extend_schema(
        parameters=[SinceQuery],
        description="The approved requests for core banking to book, in approval order "
        "(cursor pages), each with the simulation it came from. Scoped by role.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=RequestInSerializer,
        responses={201: RequestOutSerializer},
        description="A refinancing request: the simulation's body plus `reason`. Approved "
        "at once when the requester may approve (jefe de agencia, jefe zonal, gerente), "
        "else `pending` for the jefe de agencia. An asesor requests, never approves.",
    )
    def post(self, request):
        body = RequestInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = refinancing_request_create(user=request.user, **_inputs(body.validated_data))
        return Response(RequestOutSerializer(created).data, status=status.HTTP_201_CREATED)


class RequestDetailApi(APIView):
    required_scope = READ

    @extend_schema(responses={200: RequestOutSerializer}, description="One request.")
    def get(self, request, request_id: int):
        return Response(
            RequestOutSerializer(request_for(user=request.user, request_id=request_id)).data
        )


class RequestApproveApi(APIView):
    required_scope = WRITE

    @extend_schema(
        request=DecisionSerializer,
        responses={200: RequestOutSerializer},
        description="A jefe de agencia (or above) approves a pending request in its scope; "
        "audited. The next cycle raises event 80 on the case.",
    )
    def post(self, request, request_id: int):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = refinancing_request_approve(
            user=request.user, request_id=request_id, note=body.validated_data["note"]
        )
        return Response(RequestOutSerializer(decided).data)


class RequestRejectApi(APIView):
    required_scope = WRITE

    @extend_schema(
        request=DecisionSerializer,
        responses={200: RequestOutSerializer},
        description="A jefe de agencia (or above) rejects a pending request, with a note.",
    )
    def post(self, request, request_id: int):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = refinancing_request_reject(
            user=request.user, request_id=request_id, note=body.validated_data["note"]
        )
        return Response(RequestOutSerializer(decided).data)
