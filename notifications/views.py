"""Provider webhooks. Each request is verified with Twilio's `RequestValidator`
against the URL Twilio called; an unsigned or altered one gets 403 and changes
nothing."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.twiml.voice_response import VoiceResponse

from notifications.ivr import ivr_key_register, ivr_message, ivr_script
from notifications.services import inbound_register, message_status_report, public_url


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
    """Status callback of an outgoing message or IVR call (its row named by `?m=`)."""
    if not twilio_verified(request):
        return HttpResponseForbidden()
    # A call (IVR) reports CallSid/CallStatus; a message MessageSid/MessageStatus.
    kind = "Call" if "CallStatus" in request.POST else "Message"
    message_status_report(
        provider="twilio",
        provider_id=request.POST.get(f"{kind}Sid", ""),
        status=request.POST.get(f"{kind}Status", ""),
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


# --- IVR: the call's script and the key pressed ---------------------------------------

# Twilio's Spanish voices speak es-ES (Castilian) or es-MX/es-US (Latin American). Peru
# speaks Latin American Spanish (seseo, "ustedes", the same words for money and dates),
# so es-MX sounds like the client's own Spanish; es-ES would sound foreign. The voice
# (`SEMAFORO_IVR_VOICE`, Polly.Mia by default) must be one of that language.
IVR_LANGUAGE = "es-MX"
# Seconds Twilio waits for a key after the offer.
IVR_KEY_WAIT = 8


def _twilio_params(request: HttpRequest):
    return request.POST if request.method == "POST" else request.GET


def _say(verb, text: str) -> None:
    if text:
        verb.say(text, language=IVR_LANGUAGE, voice=settings.SEMAFORO_DISPATCH["IVR_VOICE"])


def _twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def twilio_voice(request: HttpRequest, message_id: int) -> HttpResponse:
    """The script of an answered IVR call: the message's text and, inside a one-key
    Gather, the offer to promise a payment (1). No key: the goodbye, and hang up."""
    if not twilio_verified(request):
        return HttpResponseForbidden()
    message = ivr_message(message_id=message_id)
    if message is None:
        raise Http404
    script = ivr_script(message=message, at=timezone.now())
    response = VoiceResponse()
    if script.offer:
        action = public_url("twilio-voice-key", message_id) or request.path + "key/"
        gather = response.gather(num_digits=1, action=action, method="POST", timeout=IVR_KEY_WAIT)
        _say(gather, script.text)
        _say(gather, script.offer)
    else:
        _say(response, script.text)
    _say(response, script.goodbye)
    response.hangup()
    return _twiml(response)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def twilio_voice_key(request: HttpRequest, message_id: int) -> HttpResponse:
    """The key pressed in an IVR call (the Gather's action): 1 records the promise."""
    if not twilio_verified(request):
        return HttpResponseForbidden()
    params = _twilio_params(request)
    answer = ivr_key_register(
        message_id=message_id,
        digits=params.get("Digits", ""),
        call_sid=params.get("CallSid", ""),
        at=timezone.now(),
    )
    if answer is None:
        raise Http404
    response = VoiceResponse()
    _say(response, answer.said)
    response.hangup()
    return _twiml(response)
