"""Results from the field, cases and cycles over REST (DOMAIN.md 7.4)."""

from datetime import date

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_field.models import Case, CaseStatus, FieldResult, PlannedAction, WorklistEntry
from collections_field.selectors import (
    campaign_report,
    case_detail,
    case_list,
    cycle_status,
    escalation_row,
    escalations_for,
    results_visible_to,
    worklist_for,
)
from collections_field.services import (
    campaign_create,
    case_override,
    cycle_run,
    result_register_for,
)
from collections_field.tasks import run_cycle_task
from portfolio.apis import CORE_BANKING_ROLES, require_role
from portfolio.exceptions import InvalidInput


class ResultSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    client_code = serializers.CharField(max_length=40)
    result_code = serializers.CharField(max_length=10)
    occurred_at = serializers.DateTimeField()
    officer_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    channel = serializers.ChoiceField(FieldResult.ChannelKind.values, default="visit")
    promise_date = serializers.DateField(required=False, allow_null=True)
    promise_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True)
    address_kind = serializers.ChoiceField(
        ["home", "business", "work"], required=False, allow_blank=True
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    new_phone = serializers.RegexField(
        r"^\+?[0-9 ]{6,20}$",
        required=False,
        allow_blank=True,
        max_length=30,
        help_text="a new phone given in the field; replaces the client's",
    )
    new_address = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="a new address of `address_kind`, placed at the GPS point",
    )


class ResultOutSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    client_code = serializers.CharField(source="client.code")
    result_code = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    registered_at = serializers.DateTimeField()
    officer_code = serializers.CharField(source="officer.code", allow_null=True, default=None)
    channel = serializers.CharField()
    promise_date = serializers.DateField(allow_null=True)
    promise_amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    verified = serializers.BooleanField()
    flags = serializers.ListField(child=serializers.CharField())
    applied_on = serializers.DateField(allow_null=True)


class SinceQuery(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="only what was registered at or after this moment"
    )


class RegisteredCursor(CursorPagination):
    """Stable pages in registration order: core banking keeps the `next` link and
    comes back for what arrived since, without missing or repeating a row."""

    ordering = ("registered_at", "id")
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 1000


class ResultApi(generics.ListAPIView):
    required_scope = {"POST": "results:write", "GET": "results:read"}
    serializer_class = ResultOutSerializer
    pagination_class = RegisteredCursor
    promises_only = False

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FieldResult.objects.none()
        query = SinceQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return results_visible_to(
            self.request.user,
            since=query.validated_data.get("since"),
            promises_only=self.promises_only,
        )

    @extend_schema(
        parameters=[SinceQuery],
        description="Results registered since a moment, in registration order (cursor "
        "pages): core banking's daily pull. Scoped by role like every read.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ResultSerializer,
        responses={201: ResultOutSerializer, 200: ResultOutSerializer},
        description="A visit, call or inbound contact. `uuid` is made by the client: a "
        "repeat is a no-op answered with the first result. The next cycle applies it.",
    )
    def post(self, request):
        data = ResultSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registered = result_register_for(user=request.user, **data.validated_data)
        return Response(
            ResultOutSerializer(registered.obj).data,
            status=status.HTTP_201_CREATED if registered.created else status.HTTP_200_OK,
        )


class PromiseApi(ResultApi):
    """Only the results that carry a payment promise."""

    promises_only = True
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        parameters=[SinceQuery],
        description="Promises (results with `promise_date`) registered since a moment.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CaseListQuery(serializers.Serializer):
    agency = serializers.CharField(required=False, max_length=20)
    officer = serializers.CharField(required=False, max_length=20)
    type = serializers.CharField(required=False, max_length=10)
    tramo = serializers.IntegerField(required=False, min_value=1, max_value=32767)
    classification = serializers.CharField(required=False, max_length=10)
    status = serializers.ChoiceField(CaseStatus.values, required=False)


class CaseRowSerializer(serializers.Serializer):
    client_code = serializers.CharField(source="client.code")
    management_type = serializers.CharField()
    classification = serializers.CharField()
    action_code = serializers.CharField()
    tramo = serializers.IntegerField()
    visits_in_tramo = serializers.IntegerField()
    officer_code = serializers.CharField(source="officer.code", allow_null=True, default=None)
    external_agency_code = serializers.CharField(
        source="external_agency.code", allow_null=True, default=None
    )
    status = serializers.CharField()
    exposure = serializers.DecimalField(max_digits=16, decimal_places=2)
    overdue_amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    promise_date = serializers.DateField(allow_null=True)
    promise_amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class CaseCursor(CursorPagination):
    ordering = ("id",)
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 1000


class CaseListApi(generics.ListAPIView):
    required_scope = "cases:read"
    serializer_class = CaseRowSerializer
    pagination_class = CaseCursor

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        query = CaseListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        management_type = filters.pop("type", None)
        return case_list(user=self.request.user, management_type=management_type, **filters)

    @extend_schema(
        parameters=[CaseListQuery],
        description="Cases within the caller's scope, filtered by agency, officer, type, "
        "tramo, classification and status (cursor pages).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


CaseSchema = inline_serializer(
    "Case",
    {
        "client_code": serializers.CharField(),
        "client_name": serializers.CharField(),
        "phone": serializers.CharField(),
        "credits": serializers.ListField(child=serializers.DictField()),
        "management_type": serializers.CharField(),
        "classification": serializers.CharField(),
        "action_code": serializers.CharField(),
        "tramo": serializers.IntegerField(),
        "visits_in_tramo": serializers.IntegerField(),
        "officer_code": serializers.CharField(allow_null=True),
        "status": serializers.ChoiceField(["active", "phone", "closed"]),
        "promise": serializers.DictField(allow_null=True),
        "collection_address": serializers.DictField(allow_null=True),
        "history": serializers.ListField(child=serializers.DictField()),
        "results": serializers.ListField(child=serializers.DictField()),
        "actions": serializers.ListField(
            child=inline_serializer(
                "CaseAction",
                {
                    "order": serializers.IntegerField(),
                    "channel": serializers.CharField(),
                    "manual": serializers.BooleanField(),
                    "window_from": serializers.DateField(allow_null=True),
                    "window_to": serializers.DateField(allow_null=True),
                    "done_at": serializers.DateTimeField(allow_null=True),
                    "status": serializers.CharField(allow_null=True),
                    "id": serializers.IntegerField(
                        allow_null=True, help_text="the planned action (null before it opens)"
                    ),
                    "light": serializers.ChoiceField(["green", "amber", "red"], allow_null=True),
                },
            )
        ),
    },
)


class CaseApi(APIView):
    required_scope = "cases:read"

    @extend_schema(responses={200: CaseSchema}, description="A case's state and history.")
    def get(self, request, client_code: str):
        return Response(case_detail(user=request.user, client_code=client_code))


class CycleRequestSerializer(serializers.Serializer):
    date = serializers.DateField()

    def get_fields(self):
        fields = super().get_fields()
        fields["async"] = serializers.BooleanField(default=False, required=False)
        return fields


class CycleOutSerializer(serializers.Serializer):
    business_date = serializers.DateField()
    status = serializers.CharField()
    strategy_version = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()
    steps = serializers.SerializerMethodField()

    def get_steps(self, run) -> list[dict]:
        """The steps in order; a step run in shares or agency chunks lists them as its
        `parts` (while it runs, the parts done so far under a `running` step)."""

        def row(s) -> dict:
            return {
                "name": s.name,
                "status": s.status,
                "seconds": round(s.seconds, 3),
                "statements": s.statements,
                "counts": s.counts,
            }

        steps: dict[str, dict] = {}
        for s in run.steps.order_by("position", "name"):
            base, _sep, part = s.name.partition("#")
            entry = steps.setdefault(base, {"name": base, "status": "running", "parts": []})
            if part:
                entry["parts"].append(row(s))
            else:
                entry.update(row(s))
        return list(steps.values())


class CycleQueuedSerializer(serializers.Serializer):
    business_date = serializers.DateField()
    status = serializers.ChoiceField(["queued"])


class CycleApi(APIView):
    required_scope = "cycles:write"

    @extend_schema(
        request=CycleRequestSerializer,
        responses={200: CycleOutSerializer, 202: CycleQueuedSerializer},
        description="Runs the daily cycle for `date` and answers when it is done; with "
        '`"async": true` it is queued for the workers (202) and `GET cycles/{date}/` '
        "follows it.",
    )
    def post(self, request):
        require_role(request, CORE_BANKING_ROLES)
        body = CycleRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        day: date = body.validated_data["date"]
        if body.validated_data.get("async"):
            run_cycle_task.delay(day.isoformat())
            return Response({"business_date": day, "status": "queued"}, status=202)
        run = cycle_run(business_date=day)
        return Response(CycleOutSerializer(run).data)


class CycleDetailApi(APIView):
    required_scope = ("cycles:write", "cases:read")

    @extend_schema(responses={200: CycleOutSerializer})
    def get(self, request, business_date: str):
        require_role(request, CORE_BANKING_ROLES)
        try:
            day = date.fromisoformat(business_date)
        except ValueError as exc:
            raise InvalidInput(_("date must be YYYY-MM-DD"), "date") from exc
        return Response(CycleOutSerializer(cycle_status(business_date=day)).data)


class OverrideSerializer(serializers.Serializer):
    to_code = serializers.CharField(max_length=10)
    reason = serializers.CharField(max_length=2000)


class CaseOverrideApi(APIView):
    required_scope = "cases:read"

    @extend_schema(
        request=OverrideSerializer,
        responses={200: CaseSchema},
        description="The jefe de agencia's audited manual move (Baja/Avance/Salto).",
    )
    def post(self, request, client_code: str):
        body = OverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case_override(user=request.user, client_code=client_code, **body.validated_data)
        return Response(case_detail(user=request.user, client_code=client_code))


class WorklistQuery(serializers.Serializer):
    officer = serializers.CharField(max_length=20)
    date = serializers.DateField()


class WorklistRowSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    client_code = serializers.CharField()
    client_name = serializers.CharField()
    reason = serializers.ChoiceField(WorklistEntry.Reason.values)
    campaign_code = serializers.CharField(allow_null=True)
    action_code = serializers.CharField()
    where = serializers.CharField(allow_blank=True)
    whom = serializers.CharField(allow_blank=True)
    instrument = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    tramo = serializers.IntegerField()
    quadrant_code = serializers.CharField(allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    days_past_due = serializers.IntegerField()
    phones = serializers.ListField(child=serializers.CharField())
    address_text = serializers.CharField(allow_null=True, allow_blank=True)
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    light = serializers.ChoiceField(["green", "amber", "red"])


class WorklistApi(APIView):
    required_scope = "cases:read"

    @extend_schema(
        parameters=[WorklistQuery],
        responses={200: WorklistRowSerializer(many=True)},
        description="An officer's ordered daily list (DOMAIN.md 4 step 6): campaign, "
        "broken promises, promises due of clients without a phone, then by quadrant. "
        "Empty on a day without collection visits. An officer outside the caller's "
        "scope is a 404.",
    )
    def get(self, request):
        query = WorklistQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = worklist_for(
            user=request.user,
            officer_code=query.validated_data["officer"],
            business_date=query.validated_data["date"],
        )
        return Response(WorklistRowSerializer(rows, many=True).data)


class SegmentSerializer(serializers.Serializer):
    agency = serializers.CharField(max_length=20, required=False, allow_blank=True)
    tramo = serializers.IntegerField(min_value=1, max_value=32767, required=False, allow_null=True)
    classification = serializers.CharField(max_length=10, required=False, allow_blank=True)
    min_amount = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    max_amount = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    min_dpd = serializers.IntegerField(
        min_value=0, max_value=2_000_000_000, required=False, allow_null=True
    )
    max_dpd = serializers.IntegerField(
        min_value=0, max_value=2_000_000_000, required=False, allow_null=True
    )


class CampaignSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=200)
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    client_codes = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=200_000
    )
    segment = SegmentSerializer(required=False)
    team = serializers.CharField(max_length=20, default="internal")


class CampaignOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    team = serializers.CharField()
    agency_code = serializers.CharField(allow_null=True)
    by_list = serializers.BooleanField()
    clients_targeted = serializers.IntegerField()
    clients_listed = serializers.IntegerField()
    clients_visited = serializers.IntegerField()
    clients_promised = serializers.IntegerField()
    clients_paid = serializers.IntegerField()


class CampaignApi(APIView):
    required_scope = "campaigns:write"

    @extend_schema(
        request=CampaignSerializer,
        responses={201: CampaignOutSerializer},
        description="A campaign (operativo): either `client_codes` or a `segment`; `team` is "
        "`internal` or an external agency code. A jefe de agencia within its own agency, "
        "or the gerente.",
    )
    def post(self, request):
        body = CampaignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        campaign = campaign_create(user=request.user, **body.validated_data)
        report = campaign_report(user=request.user, code=campaign.code)
        return Response(CampaignOutSerializer(report).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    required_scope = ("campaigns:write", "cases:read")

    @extend_schema(
        responses={200: CampaignOutSerializer},
        description="A campaign's figures: clients targeted, listed, visited, with a "
        "promise, and paid since it started, within the caller's scope.",
    )
    def get(self, request, code: str):
        return Response(CampaignOutSerializer(campaign_report(user=request.user, code=code)).data)


class EscalationQuery(serializers.Serializer):
    level = serializers.IntegerField(
        required=False, min_value=1, max_value=32767, help_text="one level; all when absent"
    )
    date = serializers.DateField(
        required=False, help_text="business date; the last finished cycle's when absent"
    )

    def validate_date(self, value):
        if not 1900 <= value.year <= 2999:
            raise serializers.ValidationError(_("date out of range"))
        return value


class EscalationSerializer(serializers.Serializer):
    client_code = serializers.CharField()
    channel = serializers.CharField()
    window_from = serializers.DateField()
    window_to = serializers.DateField()
    officer_code = serializers.CharField(allow_null=True, help_text="null: an automatic action")
    agency_code = serializers.CharField(allow_null=True)
    level = serializers.IntegerField()
    days_red = serializers.IntegerField()

    def to_representation(self, action):
        row = escalation_row(action, day=self.context["day"], levels=self.context["levels"])
        return super().to_representation(row)


class EscalationCursor(CursorPagination):
    ordering = ("window_to", "id")
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 1000


class EscalationApi(generics.ListAPIView):
    """The escalation inboxes (DOMAIN.md 4 step 7), scoped by role like every read."""

    required_scope = "cases:read"
    serializer_class = EscalationSerializer
    pagination_class = EscalationCursor

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PlannedAction.objects.none()
        query = EscalationQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        self.day, self.levels, actions = escalations_for(
            user=self.request.user,
            business_date=query.validated_data.get("date"),
            level=query.validated_data.get("level"),
        )
        return actions

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context.update(day=getattr(self, "day", None), levels=getattr(self, "levels", []))
        return context

    @extend_schema(
        parameters=[EscalationQuery],
        description="Open red actions at a level on a date: `days_red` counts from W+1 "
        "(1 on the first red day); the level follows the strategy's `escalation` days. "
        "Oldest first, cursor pages.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
