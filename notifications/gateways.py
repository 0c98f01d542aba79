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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Sent:
    provider_id: str
    status: str  # "sent" (the provider took it) or "delivered" (it is already there)


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
    name: str

    def send(self, message: Outgoing) -> Sent: ...


class ConsoleGateway:
    """The default (demo, development): the message is delivered at once. It logs the
    message id and channel only (Ley 29733); with `CONSOLE_FILE` set it also appends
    the full message to that file, one JSON line each, like a mail spool."""

    name = "console"

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


class TwilioSmsGateway:
    """SMS through Twilio's REST API with the official library."""

    name = "twilio"

    def __init__(self) -> None:
        from twilio.rest import Client

        conf = settings.SEMAFORO_DISPATCH["TWILIO"]
        self.sender = conf.get("FROM") or ""
        self.messaging_service = conf.get("MESSAGING_SERVICE_SID") or ""
        self.client = Client(
            conf["ACCOUNT_SID"],
            conf["AUTH_TOKEN"],
            http_client=twilio_http_client(conf.get("API_BASE_URL"), float(conf["TIMEOUT"])),
        )

    def send(self, message: Outgoing) -> Sent:
        import requests
        from twilio.base.exceptions import TwilioRestException
        from urllib3.exceptions import NewConnectionError

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
        try:
            created = self.client.messages.create(**params)
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


@lru_cache(maxsize=16)
def _gateway(path: str) -> Gateway:
    return import_string(path)()


def gateway_for(channel: str) -> Gateway:
    conf = settings.SEMAFORO_DISPATCH["GATEWAYS"]
    return _gateway(conf.get(channel) or conf["default"])


def gateways_reset() -> None:
    """Forget the gateways built so far (settings changed: tests, a reload)."""
    _gateway.cache_clear()
