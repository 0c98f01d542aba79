"""Channel gateways behind one small interface, chosen per channel in settings
(`SEMAFORO_DISPATCH["GATEWAYS"]`, a channel or `default` → a dotted class path).

A gateway gets plain values (never a model instance) and either returns the
provider's id and the status reached, or raises `GatewayError` saying whether the
provider certainly did not take the message (`retry`: it may be tried again) or
refused it for good.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    id: int
    channel: str
    to: str
    text: str
    valid_until: datetime
    at: datetime
    status_callback: str = ""
    # msgs: e-mail's subject and HTML body; WhatsApp's approved template (content SID
    # and numbered variables) and whether the 24-hour window is open (free text).
    subject: str = ""
    html: str = ""
    content_sid: str = ""
    content_variables: dict = field(default_factory=dict)
    session_open: bool = True
    # IVR: where Twilio asks what to say when the call is answered (our TwiML endpoint).
    voice_url: str = ""


@dataclass(frozen=True)
class Sent:
    provider_id: str
    status: str  # "sent" (the provider took it) or "delivered" (it is already there)


@dataclass(frozen=True)
class ProviderMessage:
    """A message the provider holds that may be one of ours (settle's question)."""

    provider_id: str
    status: str  # in the provider's words (Twilio: queued, sent, delivered, failed, …)
    created: datetime | None


def plain_text(text: str) -> str:
    """A text reduced to its letters and digits, accents and case aside: what a
    provider keeps of our text compares equal even if it swapped a quote or a dash
    (Twilio's smart encoding) or trimmed a space."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


class GatewayError(Exception):
    def __init__(
        self, code: str, *, retry: bool, unsubscribed: bool = False, uncertain: bool = False
    ):
        super().__init__(code)
        self.code = code
        self.retry = retry  # the provider certainly did not take it: try again later
        self.unsubscribed = unsubscribed  # the number refuses us: an opt-out
        self.uncertain = uncertain  # it may have been taken: never send it again


class Gateway(Protocol):
    """`send` is the whole contract. A gateway may also say which sender it sends from
    (`sender_key`: the send rate is per channel and sender) and look a message up at
    the provider (`find`, for settle: the provider's messages that may be this one, or
    None when it cannot tell); without `find`, a message lost in flight goes to a
    human."""

    name: str

    def send(self, message: Outgoing) -> Sent: ...


class ConsoleGateway:
    """The default (demo, development): the message is delivered at once. It logs the
    message id and channel only (Ley 29733); with `CONSOLE_FILE` set it also appends
    the full message to that file, one JSON line each, like a mail spool."""

    name = "console"
    sender_key = "console"

    def send(self, message: Outgoing) -> Sent:
        path = settings.SEMAFORO_DISPATCH.get("CONSOLE_FILE")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            line = {
                "id": message.id,
                "channel": message.channel,
                "to": message.to,
                "text": message.text,
                "at": message.at.isoformat(),
                "valid_until": message.valid_until.isoformat(),
            }
            with open(path, "a", encoding="utf-8") as spool:
                spool.write(json.dumps(line, ensure_ascii=False) + "\n")
        logger.info("console gateway: message %s (%s) delivered", message.id, message.channel)
        return Sent(provider_id=f"console-{message.id}", status="delivered")


def twilio_http_client(base_url: str | None, timeout: float):
    """Twilio's own HTTP client, pointed at another base URL when one is configured
    (a regional edge, a test double): every request keeps its path and query."""
    from twilio.http.http_client import TwilioHttpClient

    class BaseUrlHttpClient(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            if base_url:
                base, parts = urlsplit(base_url), urlsplit(url)
                url = urlunsplit(
                    parts._replace(
                        scheme=base.scheme,
                        netloc=base.netloc,
                        path=base.path.rstrip("/") + parts.path,
                    )
                )
            return super().request(method, url, *args, **kwargs)

    client = BaseUrlHttpClient(timeout=timeout)
    # Its request log prints query strings, where phone numbers travel: warnings only.
    client.logger = logging.getLogger("notifications.twilio_http")
    return client


# Twilio error codes that mean the number will never take the message.
TWILIO_UNSUBSCRIBED = {21610}
# Twilio's longest ValidityPeriod, in seconds.
TWILIO_MAX_VALIDITY = 36000
# Settle reads one page of the messages to a number; a number with more than this
# (the list goes on) is not searched: the answer could be on the next page.
TWILIO_FIND_PAGE = 1000


class TwilioGateway:
    """What Twilio's channels share: the client (the official library, with our HTTP
    client), and how an API answer maps onto `GatewayError` (retry, final, uncertain).
    A subclass says which resource creates its message (`resource`) and with what
    parameters (`params`). One provider name for all of them: status callbacks find
    the row by Twilio's id (an `SM…` message or a `CA…` call)."""

    name = "twilio"

    def __init__(self) -> None:
        from twilio.rest import Client

        conf = settings.SEMAFORO_DISPATCH["TWILIO"]
        self.sender = conf.get("FROM") or ""
        self.client = Client(
            conf["ACCOUNT_SID"],
            conf["AUTH_TOKEN"],
            http_client=twilio_http_client(conf.get("API_BASE_URL"), float(conf["TIMEOUT"])),
        )

    @property
    def sender_key(self) -> str:
        """Whose send rate a message spends (notifications/throttle.py)."""
        return self.sender

    def send(self, message: Outgoing) -> Sent:
        return self.create(self.params(message))

    def resource(self):
        raise NotImplementedError

    def params(self, message: Outgoing) -> dict:
        raise NotImplementedError

    def create(self, params: dict) -> Sent:
        import requests
        from twilio.base.exceptions import TwilioRestException
        from urllib3.exceptions import NewConnectionError

        try:
            created = self.resource().create(**params)
        except TwilioRestException as exc:
            # 429 and 5xx: Twilio answered that it did not take it; anything else is final.
            retry = exc.status == 429 or exc.status >= 500
            raise GatewayError(
                f"twilio_{exc.code or exc.status}",
                retry=retry,
                unsubscribed=exc.code in TWILIO_UNSUBSCRIBED,
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            # Retried only when no request can have reached Twilio (the connection was
            # never made); a reset or a read timeout may come after Twilio took it, so
            # the message stays in flight and its status callback tells what happened.
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(
                reason, NewConnectionError
            )
            raise GatewayError(
                "twilio_unreachable" if never_sent else "twilio_uncertain",
                retry=never_sent,
                uncertain=not never_sent,
            ) from exc
        return Sent(provider_id=created.sid, status="sent")


class TwilioSmsGateway(TwilioGateway):
    """SMS through Twilio's REST API with the official library."""

    def __init__(self) -> None:
        super().__init__()
        self.messaging_service = (
            settings.SEMAFORO_DISPATCH["TWILIO"].get("MESSAGING_SERVICE_SID") or ""
        )

    @property
    def sender_key(self) -> str:
        return self.messaging_service or self.sender

    def resource(self):
        return self.client.messages

    def find(
        self, message: Outgoing, *, since: datetime, until: datetime
    ) -> list[ProviderMessage] | None:
        """The messages Twilio holds that may be this one: to its number, from our
        sender, created between `since` and `until`, with its text. Twilio takes no key
        of ours and its list filters only by number and date, so the text is the mark;
        two of our messages with the same text to the same number are interchangeable
        (settle gives each provider message to one row only). None when Twilio cannot
        tell: it did not answer, or the number has more messages than one page."""
        import requests
        from twilio.base.exceptions import TwilioRestException

        try:
            params = self.params(message)
        except GatewayError:
            return None
        if "body" not in params:
            return None  # an approved template: Twilio keeps its text, not ours
        try:
            sender = {"from_": params["from_"]} if "from_" in params else {}
            page = self.client.messages.page(to=params["to"], page_size=TWILIO_FIND_PAGE, **sender)
            records = list(page)
        except (TwilioRestException, requests.RequestException):
            return None
        if page.next_page_url:
            return None
        wanted = plain_text(params["body"])
        found = []
        for record in records:
            if "from_" in params and record.from_ != params["from_"]:
                continue
            if "messaging_service_sid" in params and (
                record.messaging_service_sid != params["messaging_service_sid"]
            ):
                continue
            created = record.date_created
            if created is None or not since <= created <= until:
                continue
            if plain_text(record.body or "") == wanted:
                found.append(ProviderMessage(record.sid, str(record.status or ""), created))
        return found

    def params(self, message: Outgoing) -> dict:
        seconds = math.floor((message.valid_until - message.at).total_seconds())
        params = {
            "to": message.to,
            "body": message.text,
            "validity_period": max(1, min(seconds, TWILIO_MAX_VALIDITY)),
        }
        if self.messaging_service:
            params["messaging_service_sid"] = self.messaging_service
        else:
            params["from_"] = self.sender
        if message.status_callback:
            params["status_callback"] = message.status_callback
        return params


@lru_cache(maxsize=16)
def _gateway(path: str) -> Gateway:
    return import_string(path)()


def gateway_for(channel: str) -> Gateway:
    conf = settings.SEMAFORO_DISPATCH["GATEWAYS"]
    return _gateway(conf.get(channel) or conf["default"])


def gateways_reset() -> None:
    """Forget the gateways built so far (settings changed: tests, a reload)."""
    _gateway.cache_clear()


# --- msgs: WhatsApp through Twilio, e-mail through Django's e-mail backend -------------


class TwilioWhatsAppGateway(TwilioSmsGateway):
    """WhatsApp through Twilio's Messages API (`SEMAFORO_WHATSAPP_GATEWAY`). Inside the
    24-hour window since the client last wrote, the rendered text goes as free text;
    outside it, the approved template: its content SID and numbered variables (Meta
    refuses free text there, Twilio error 63016). The gate never lets a message without
    an approved template leave outside the window; this refuses it as a last guard.
    Same provider name as SMS: status callbacks find the row by Twilio's id."""

    def __init__(self) -> None:
        super().__init__()
        self.sender = settings.SEMAFORO_DISPATCH["TWILIO"].get("WHATSAPP_FROM") or self.sender

    def find(
        self, message: Outgoing, *, since: datetime, until: datetime
    ) -> list[ProviderMessage] | None:
        # With an approved template the text went as free text or as the template
        # (it depends on the window then), and Twilio keeps the template's words: no
        # mark to look for.
        if message.content_sid:
            return None
        return super().find(replace(message, session_open=True), since=since, until=until)

    def params(self, message: Outgoing) -> dict:
        if not message.session_open and not message.content_sid:
            raise GatewayError("whatsapp_window", retry=False)
        params = super().params(message)
        params["to"] = f"whatsapp:{message.to}"
        if "from_" in params:
            params["from_"] = f"whatsapp:{self.sender}"
        if not message.session_open:
            del params["body"]
            params["content_sid"] = message.content_sid
            params["content_variables"] = json.dumps(message.content_variables, ensure_ascii=False)
        return params


# --- IVR: calls through Twilio -----------------------------------------------------------

# How long Twilio lets the phone ring (`timeout`; Twilio's default is 60 s) and how long an
# answered call may last (`time_limit`): the message, the question and the key fit in two
# minutes. A call has no ValidityPeriod: both are cut so the call is over by 20:00 Lima.
IVR_RING_SECONDS = 30
IVR_MAX_SECONDS = 120
# Less than this left to talk before 20:00: the message could not be heard to the end.
IVR_MIN_SECONDS = 45
# Twilio reports these moments of the call to the status callback (else only the end).
IVR_CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


class TwilioVoiceGateway(TwilioGateway):
    """IVR: an automated call through Twilio's Calls API (`SEMAFORO_IVR_GATEWAY`), from
    `TWILIO_VOICE_FROM` (else `TWILIO_FROM`). When it is answered Twilio asks our TwiML
    endpoint for this message (`voice_url`, notifications/views.py) what to say: the
    rendered text and an offer to record a payment date by pressing 1. Errors, retries
    and the provider name are SMS's (`TwilioGateway`)."""

    def __init__(self) -> None:
        super().__init__()
        self.sender = settings.SEMAFORO_DISPATCH["TWILIO"].get("VOICE_FROM") or self.sender

    def resource(self):
        return self.client.calls

    def params(self, message: Outgoing) -> dict:
        if not message.voice_url:
            # Without SEMAFORO_PUBLIC_URL Twilio cannot reach us for the script.
            raise GatewayError("ivr_no_public_url", retry=False)
        left = math.floor((message.valid_until - message.at).total_seconds())
        ring = min(IVR_RING_SECONDS, left)
        talk = min(IVR_MAX_SECONDS, left - ring)
        if talk < IVR_MIN_SECONDS:
            # Ley 29571 art. 62: no call after 20:00. Not placed, so it may be tried
            # again; the gate holds it until the next collection day.
            raise GatewayError("ivr_closing", retry=True)
        params = {
            "to": message.to,
            "from_": self.sender,
            "url": message.voice_url,
            "method": "POST",
            "timeout": ring,
            "time_limit": talk,
        }
        if message.status_callback:
            params["status_callback"] = message.status_callback
            params["status_callback_method"] = "POST"
            params["status_callback_event"] = IVR_CALL_EVENTS
        return params


class EmailGateway:
    """E-mail through Django's e-mail backend (`EMAIL_BACKEND`; console by default),
    with the template's text and HTML bodies. E-mail has no delivery report: a message
    the backend accepted counts as delivered (its action is done). A connection never
    made is retried; one lost after the data went stays in flight (never sent twice);
    an address the server refuses fails."""

    name = "email"

    @property
    def sender_key(self) -> str:
        return settings.DEFAULT_FROM_EMAIL

    def send(self, message: Outgoing) -> Sent:
        import smtplib

        from django.core.mail import EmailMultiAlternatives
        from django.utils import translation
        from django.utils.html import escape, linebreaks
        from django.utils.translation import gettext

        with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
            subject = message.subject or gettext("A reminder from your agency")
        email = EmailMultiAlternatives(
            subject=subject,
            body=message.text,
            to=[message.to],
            headers={"X-Semaforo-Message": str(message.id)},
        )
        email.attach_alternative(message.html or linebreaks(escape(message.text)), "text/html")
        try:
            email.send()
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise GatewayError("email_refused", retry=False) from exc
        except (smtplib.SMTPConnectError, ConnectionRefusedError, smtplib.SMTPHeloError) as exc:
            raise GatewayError("email_unreachable", retry=True) from exc
        except (smtplib.SMTPServerDisconnected, TimeoutError) as exc:
            raise GatewayError("email_uncertain", retry=False, uncertain=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise GatewayError("email_error", retry=False) from exc
        logger.info("email gateway: message %s handed to the e-mail backend", message.id)
        return Sent(provider_id=f"email-{message.id}", status="delivered")
