"""Provider webhooks. Each request is verified with Twilio's `RequestValidator`
against the URL Twilio called; an unsigned or altered one gets 403 and changes
nothing."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from notifications.services import inbound_register, message_status_report


def twilio_verified(request: HttpRequest) -> bool:
    conf = settings.SEMAFORO_DISPATCH["TWILIO"]
    signature = request.headers.get(SIGNATURE_HEADER, "")
    signed_with = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    # A SharedKey-signed webhook names its algorithm; the legacy one uses the Auth Token.
    secret = conf["WEBHOOK_SHARED_KEY"] if signed_with else conf["AUTH_TOKEN"]
    if not signature or not secret:
        return False
    public = settings.SEMAFORO_DISPATCH["PUBLIC_URL"]
    url = public.rstrip("/") + request.get_full_path() if public else request.build_absolute_uri()
    algorithm = get_signature_algorithm(signed_with)
    return RequestValidator(secret).validate(url, request.POST, signature, algorithm)


def _message_id(request: HttpRequest) -> int | None:
    value = request.GET.get("m", "")
    return int(value) if value.isdigit() else None


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Delivery-status callback of an outgoing message (its row named by `?m=`)."""
    if not twilio_verified(request):
        return HttpResponseForbidden()
    message_status_report(
        provider="twilio",
        provider_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
        message_id=_message_id(request),
        at=timezone.now(),
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS or WhatsApp message to our number: a reply, or an opt-out word."""
    if not twilio_verified(request):
        return HttpResponseForbidden()
    sid = request.POST.get("MessageSid", "")
    if sid:
        inbound_register(
            provider_id=sid,
            sender=request.POST.get("From", ""),
            text=request.POST.get("Body", ""),
            at=timezone.now(),
        )
    # An empty TwiML answer: no automatic reply from us.
    return HttpResponse("<Response/>", content_type="text/xml")
