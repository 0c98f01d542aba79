"""Outgoing messages over REST (DOMAIN.md 7.4 `GET messages/?client_code=C`, `GET
letters/?agency=CODE&date=D`)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.models import MessageEvent, OutgoingMessage
from notifications.selectors import letters_pdf_for, messages_for


class MessagesQuery(serializers.Serializer):
    client_code = serializers.CharField(max_length=40)


class MessageEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    source = serializers.ChoiceField(MessageEvent.Source.values)
    from_status = serializers.CharField(allow_blank=True)
    to_status = serializers.CharField()
    gate = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    detail = serializers.CharField(allow_blank=True)


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField()
    template = serializers.CharField(allow_blank=True)
    recipient = serializers.ChoiceField(OutgoingMessage.Recipient.values)
    text = serializers.CharField()
    status = serializers.ChoiceField(OutgoingMessage.Status.values)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    final_at = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    gate = serializers.CharField(allow_blank=True, help_text="sent, postponed or blocked")
    gate_reason = serializers.CharField(
        allow_blank=True,
        help_text="quiet_hours, weekend, holiday, paid, cured, opt_out, contact_cap, "
        "no_address, action_closed, window_passed, court_wording, whatsapp_window, "
        "throttled (the channel's send rate: it goes with the next dispatch)",
    )
    window_from = serializers.DateField(source="due_on")
    window_to = serializers.DateField(source="last_day")
    events = MessageEventSerializer(many=True)


class MessageApi(APIView):
    required_scope = "messages:read"

    @extend_schema(
        parameters=[MessagesQuery],
        responses={200: MessageSerializer(many=True)},
        description="A client's outgoing messages (SMS, WhatsApp, IVR, e-mail): status, "
        "the legal gate's last decision and why, and every status change with its time. "
        "Scoped by role like every read; a client outside the scope is a 404.",
    )
    def get(self, request):
        query = MessagesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = messages_for(user=request.user, client_code=query.validated_data["client_code"])
        return Response(MessageSerializer(rows, many=True).data)


# --- msgs: the day's letters of an agency, as one PDF ----------------------------------


class PdfRenderer(renderers.BaseRenderer):
    """`application/pdf` for the letters; an error on that path is still JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


class LettersQuery(serializers.Serializer):
    agency = serializers.CharField(max_length=20, help_text="agency code")
    date = serializers.DateField(help_text="business date (YYYY-MM-DD)")


class LetterApi(APIView):
    required_scope = "letters:read"
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    @extend_schema(
        parameters=[LettersQuery],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
        description="The agency's printable letters of a business date merged into one PDF "
        "(one page set per letter, addressed to the debtor at its collection or contract "
        "address). Scoped by role: a jefe or the gerente gets the agency's batch; an asesor "
        "or an external agency only its own clients' letters. No printed letter, or an "
        "agency outside the scope, is a 404.",
    )
    def get(self, request):
        query = LettersQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        pdf = letters_pdf_for(
            user=request.user, agency_code=data["agency"], business_date=data["date"]
        )
        name = f"cartas-{data['agency']}-{data['date'].isoformat()}.pdf"
        return HttpResponse(
            pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )
