"""Provider webhooks. Each request is verified with Twilio's `RequestValidator`
against the URL Twilio called; an unsigned or altered one gets 403 and changes
nothing."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import reverse
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

from notifications.ivr import (
    Script,
    ivr_greeting,
    ivr_identity_register,
    ivr_key_register,
    ivr_message,
)
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


# --- IVR: the greeting, the identity, the message and the key pressed -----------------

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


def _action(name: str, message_id: int) -> str:
    """Where a Gather sends its key: our public URL (Twilio signs its request over it),
    else our path (Twilio resolves it against the URL it called)."""
    return public_url(name, message_id) or reverse(name, args=[message_id])


@csrf_exempt
@require_http_methods(["GET", "POST"])
def twilio_voice(request: HttpRequest, message_id: int) -> HttpResponse:
    """The first answer of an IVR call. Whoever picked up may not be the client (Ley
    29571 art. 62: no debt told to a third party), so it names nothing but the client's
    first name: inside a one-key Gather, "if you are <first name>, press 1"; the key
    goes to the identity endpoint. No key: the same endpoint without one (the
    Redirect), which says goodbye and stores that the identity was not confirmed."""
    if not twilio_verified(request):
        return HttpResponseForbidden()
    message = ivr_message(message_id=message_id)
    if message is None:
        raise Http404
    greeting = ivr_greeting(message=message, at=timezone.now())
    response = VoiceResponse()
    if greeting.ask:
        action = _action("twilio-voice-identity", message_id)
        gather = response.gather(num_digits=1, action=action, method="POST", timeout=IVR_KEY_WAIT)
        _say(gather, greeting.ask)
        response.redirect(action, method="POST")
    else:
        _say(response, greeting.goodbye)
        response.hangup()
    return _twiml(response)


def _script_twiml(message_id: int, script: Script) -> VoiceResponse:
    """The message's text and, inside a one-key Gather, the offer to promise a payment
    (1, to the key endpoint). No key: the goodbye, and hang up."""
    response = VoiceResponse()
    if script.offer:
        action = _action("twilio-voice-key", message_id)
        gather = response.gather(num_digits=1, action=action, method="POST", timeout=IVR_KEY_WAIT)
        _say(gather, script.text)
        _say(gather, script.offer)
    else:
        _say(response, script.text)
    _say(response, script.goodbye)
    response.hangup()
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def twilio_voice_identity(request: HttpRequest, message_id: int) -> HttpResponse:
    """The answer to "if you are <first name>, press 1": 1 and only 1 goes on with the
    message and the promise offer; any other key, or none, is the neutral goodbye."""
    if not twilio_verified(request):
        return HttpResponseForbidden()
    params = _twilio_params(request)
    answer = ivr_identity_register(
        message_id=message_id,
        digits=params.get("Digits", ""),
        call_sid=params.get("CallSid", ""),
        at=timezone.now(),
    )
    if answer is None:
        raise Http404
    if answer.script is not None:
        return _twiml(_script_twiml(message_id, answer.script))
    response = VoiceResponse()
    _say(response, answer.goodbye)
    response.hangup()
    return _twiml(response)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def twilio_voice_key(request: HttpRequest, message_id: int) -> HttpResponse:
    """The key pressed after the message (the promise Gather's action): 1 records the
    promise, on a call whose client confirmed who they are."""
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
