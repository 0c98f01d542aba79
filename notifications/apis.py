"""Outgoing messages over REST (DOMAIN.md 7.4 `GET messages/?client_code=C`)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.models import MessageEvent, OutgoingMessage
from notifications.selectors import messages_for


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
        "no_address, action_closed, window_passed",
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
