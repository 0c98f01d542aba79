"""`GET commissions/?month=YYYY-MM&officer=CODE` (DOMAIN.md 7.4), also `agency=` for a
jefe de agencia's statement and `external_agency=` for an outsourced agency's."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from commissions.models import CommissionLine, CommissionMonth, CommissionStatement
from commissions.statements.selectors import statement_code, statement_for, statement_lines
from commissions.statements.services import parse_month


class CommissionQuery(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="YYYY-MM")
    officer = serializers.CharField(required=False, max_length=20, help_text="an asesor's code")
    agency = serializers.CharField(
        required=False, max_length=20, help_text="an agency's code: its jefe's statement"
    )
    external_agency = serializers.CharField(
        required=False, max_length=20, help_text="an outsourced agency's code"
    )

    def validate_month(self, value: str) -> str:
        month = parse_month(value)
        if not 1900 <= month.year <= 2999:
            raise serializers.ValidationError("month out of range")
        return value


class LineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(CommissionLine.Kind.values)
    client_code = serializers.CharField(allow_blank=True)
    credit_code = serializers.CharField(allow_blank=True)
    reference = serializers.CharField(
        help_text="the record: a payment's reference, `70:<case history id>` for a cure, "
        "`80:<id>` or the refinancing request, `target:<agency>:<month>`"
    )
    date = serializers.DateField()
    value = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="soles")
    base = serializers.DecimalField(
        max_digits=16, decimal_places=2, allow_null=True, help_text="a payment in soles"
    )


class StatementSerializer(serializers.Serializer):
    month = serializers.SerializerMethodField()
    status = serializers.ChoiceField(CommissionMonth.Status.values, source="month.status")
    kind = serializers.ChoiceField(CommissionStatement.Kind.values)
    code = serializers.SerializerMethodField(help_text="the officer's, agency's or external "
                                             "agency's code")  # fmt: skip
    clients_cured = serializers.IntegerField()
    amount_collected = serializers.DecimalField(max_digits=18, decimal_places=2)
    clients_refinanced = serializers.IntegerField()
    office_target_reached = serializers.BooleanField()
    target_amount = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    lines = serializers.SerializerMethodField()

    def get_month(self, statement) -> str:
        return f"{statement.month.month:%Y-%m}"

    def get_code(self, statement) -> str:
        return statement_code(statement)

    @extend_schema_field(LineSerializer(many=True))
    def get_lines(self, statement) -> list:
        return LineSerializer(statement_lines(statement), many=True).data


class CommissionApi(APIView):
    required_scope = "commissions:read"

    @extend_schema(
        parameters=[CommissionQuery],
        responses={200: StatementSerializer},
        description="A month's commission statement and every line behind it. Name one of "
        "`officer`, `agency` or `external_agency` (an asesor, an external agency's user or a "
        "jefe de agencia may name none: its own). Scoped by role; outside the scope, or a "
        "month not computed yet, is a 404.",
    )
    def get(self, request):
        query = CommissionQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        statement = statement_for(
            user=request.user,
            month=parse_month(data["month"]),
            officer=data.get("officer"),
            agency=data.get("agency"),
            external_agency=data.get("external_agency"),
        )
        return Response(StatementSerializer(statement).data)
