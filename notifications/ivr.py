"""IVR: what an automated call says, and what pressing 1 records (DOMAIN.md 3 action
plans, 5 field work and "within the law").

The call itself is placed by `gateways.TwilioVoiceGateway` when `dispatch` sends an
`ivr` message; when it is answered, Twilio asks the TwiML endpoint (views.py) for its
script. Anyone may pick up the phone (a relative, a neighbour), and Ley 29571 art. 62
and Indecopi forbid telling a third party about a debt, so the first answer names
nothing but the client's first name: a neutral greeting asking whoever answered to
press 1 if they are that person. Only then (the identity endpoint) does the call read
the message's rendered text and offer to promise a payment by a date the strategy does
not fix, `IVR_PROMISE_DAYS` collection days after the call. Any other key, or none:
a neutral goodbye, and the call ends. Either answer is stored on the message
(`ivr_identity`, `confirmed` / `not_confirmed`): the evidence that the debt was not
disclosed to whoever did not confirm. Pressing 1 after the message records that
promise on the case as a result, with the strategy's promise code for the case's
management type, once per message (its uuid is derived from the message id), and
only on a call whose identity was confirmed.

What is spoken after the identity step is only the text queued with the message: a
template checked when saved (court wording, and no debt named in a template that could
reach a third party) or the plain default text for the debtor. The greeting, the
offer and the answers add no debt wording.

A result recorded here is an `inbound` one: the promise is the client's own act (a
key pressed), not an asesor's visit or call, so it must not do the asesor's call
action, count as a visit in the tramo (event 90), mark the worklist entry visited or
earn a commission, as `call` would. It has no officer, and its notes say IVR.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from collections_field.engine.sql import LIMA
from collections_field.exceptions import InvalidInput, NotFound
from collections_field.models import Case, FieldResult
from collections_field.services import result_register
from notifications.gate import lima_day
from notifications.models import MessageEvent, OutgoingMessage
from notifications.templating import first_name, long_date
from portfolio.selectors import is_collection_day
from strategy.selectors import active_strategy, promise_result_code_for

logger = logging.getLogger(__name__)

Status = OutgoingMessage.Status
# A call Twilio placed: only such a message has a script or takes a key.
PLACED = (Status.SENDING, Status.SENT, Status.DELIVERED)
# The results registered from IVR calls share this namespace: one uuid per message.
RESULT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "semaforo:notifications:ivr-promise")
KEY_EVENT = "ivr_key"
PROMISE_KEY = "1"
# The caller's answer to "if you are <first name>, press 1", stored on the message.
IDENTITY_EVENT = "ivr_identity"
IDENTITY_KEY = "1"
CONFIRMED, NOT_CONFIRMED = "confirmed", "not_confirmed"
# "S/ 1,234.56" is read aloud as letters and signs: a voice says "1234.56 soles".
SOLES = re.compile(r"S/\s*(\d[\d,]*(?:\.\d+)?)")


def result_uuid(message_id: int) -> uuid.UUID:
    """The uuid of the promise a message's call records: results are idempotent by it,
    so the same key webhook twice (a Twilio retry) records one result."""
    return uuid.uuid5(RESULT_NAMESPACE, str(message_id))


def promise_day(*, day: date, days: int) -> date:
    """The `days`-th collection day after `day` (weekends, national holidays and the
    lender's non-working days skipped): a promise falls on a day the asesor can follow
    it up. At least the next collection day."""
    current, left = day, max(1, days)
    while left:
        current += timedelta(days=1)
        if is_collection_day(current):
            left -= 1
    return current


def promise_day_for(at: datetime) -> date:
    return promise_day(day=lima_day(at), days=int(settings.SEMAFORO_DISPATCH["IVR_PROMISE_DAYS"]))


def spoken(text: str) -> str:
    return SOLES.sub(lambda m: f"{m.group(1).replace(',', '')} soles", text or "")


def _promise_code(case: Case) -> str | None:
    version = active_strategy()
    if version is None:
        return None
    return promise_result_code_for(version, type=case.management_type)


@dataclass(frozen=True)
class Script:
    """What a call says: the message, then (when the strategy has a promise code for
    the case's type) the offer to promise a payment by a date, and the goodbye."""

    text: str
    offer: str
    goodbye: str


@dataclass(frozen=True)
class Greeting:
    """The first thing a call says, before anyone is known to be the client: the
    neutral greeting with the client's first name and the identity question (empty
    when there is nothing to ask: a call never placed, a client without a name), and
    the goodbye."""

    ask: str
    goodbye: str


def ivr_message(*, message_id: int) -> OutgoingMessage | None:
    return (
        OutgoingMessage.objects.select_related("case__client")
        .filter(pk=message_id, channel="ivr")
        .first()
    )


def ivr_greeting(*, message: OutgoingMessage, at: datetime) -> Greeting:
    """The first answer of a call: whoever picked up hears only the client's first name
    (not the full name, nor the document, nor the debt) and is asked to press 1 if that
    is them. The salutation follows the hour in Lima (calls run 07:00-20:00)."""
    with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
        goodbye = _("Thank you, goodbye.")
        name = first_name(message.case.client.name)
        if message.status not in PLACED or not name:
            return Greeting(ask="", goodbye=goodbye)
        hour = at.astimezone(LIMA).hour
        if hour < 12:
            ask = _("Good morning. This is a message for %(name)s. If you are %(name)s, press 1.")
        elif hour < 18:
            ask = _("Good afternoon. This is a message for %(name)s. If you are %(name)s, press 1.")
        else:
            ask = _("Good evening. This is a message for %(name)s. If you are %(name)s, press 1.")
    return Greeting(ask=ask % {"name": name}, goodbye=goodbye)


def ivr_script(*, message: OutgoingMessage, at: datetime) -> Script:
    """The script of a call once the client confirmed who they are (nothing but the
    goodbye for a message that was never handed to Twilio)."""
    with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
        goodbye = _("Thank you for your time. Goodbye.")
        if message.status not in PLACED:
            return Script(text="", offer="", goodbye=goodbye)
        offer = ""
        if _promise_code(message.case) is not None:
            offer = _("To promise a payment by %(date)s, press 1.") % {
                "date": long_date(promise_day_for(at))
            }
    return Script(text=spoken(message.text), offer=offer, goodbye=goodbye)


def _placed_call(message_id: int, call_sid: str) -> OutgoingMessage | None:
    """The message of an IVR call we placed, locked; None when there is none (or the
    webhook names another call)."""
    message = (
        OutgoingMessage.objects.select_for_update()
        .select_related("case__client")
        .filter(pk=message_id, channel="ivr")
        .first()
    )
    if message is None or message.status not in PLACED:
        return None
    if call_sid and message.provider_id and call_sid != message.provider_id:
        return None
    return message


def _identity_event(message: OutgoingMessage) -> MessageEvent | None:
    """The call's first answer to the identity question: the one that stands."""
    return message.events.filter(reason=IDENTITY_EVENT).order_by("pk").first()


def _identity_confirmed(message: OutgoingMessage) -> bool:
    first = _identity_event(message)
    return first is not None and first.detail == CONFIRMED


@dataclass(frozen=True)
class IdentityAnswer:
    """The caller's answer to the identity question: confirmed, the call goes on with
    the message (`script`); else (no script) only `goodbye` is said."""

    script: Script | None
    goodbye: str


@transaction.atomic
def ivr_identity_register(
    *, message_id: int, digits: str, call_sid: str, at: datetime
) -> IdentityAnswer | None:
    """The key pressed (or none) after "if you are <first name>, press 1". The answer is
    stored on the message once (`ivr_identity`: `confirmed` or `not_confirmed`); a
    repeated webhook (a Twilio retry) gets the answer the first one got, so what was
    said always matches the evidence. None when the message is not an IVR call we
    placed (or names another call)."""
    message = _placed_call(message_id, call_sid)
    if message is None:
        return None
    recorded = _identity_event(message)
    if recorded is None:
        recorded = MessageEvent.objects.create(
            message=message,
            at=at,
            source=MessageEvent.Source.CALLBACK,
            from_status=message.status,
            to_status=message.status,
            reason=IDENTITY_EVENT,
            detail=CONFIRMED if (digits or "") == IDENTITY_KEY else NOT_CONFIRMED,
        )
    with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
        goodbye = _("Thank you, goodbye.")
    if recorded.detail != CONFIRMED:
        return IdentityAnswer(script=None, goodbye=goodbye)
    return IdentityAnswer(script=ivr_script(message=message, at=at), goodbye=goodbye)


@dataclass(frozen=True)
class KeyAnswer:
    """What the caller hears after pressing a key: thanks for a recorded promise (and
    its date), else the goodbye."""

    said: str
    result: FieldResult | None = None


@transaction.atomic
def ivr_key_register(
    *, message_id: int, digits: str, call_sid: str, at: datetime
) -> KeyAnswer | None:
    """A key pressed after the message was read (the promise Gather). The key is stored
    on the message (the evidence trail), once; `1` records the promise as a result,
    once. Only on a call whose client confirmed who they are: before that, nothing is
    recorded and the caller hears the neutral goodbye. None when the message is not an
    IVR call we placed (or names another call)."""
    message = _placed_call(message_id, call_sid)
    if message is None:
        return None
    if not _identity_confirmed(message):
        logger.warning("ivr: message %s: a key before the identity was confirmed", message.pk)
        with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
            return KeyAnswer(said=_("Thank you, goodbye."))
    digits = (digits or "")[:10]
    result = None
    with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
        if digits == PROMISE_KEY:
            result = _promise_register(message, at)
        detail = f"{digits or '-'}"
        if result is not None:
            detail += f" result {result.result_code} promise {result.promise_date.isoformat()}"
        if not message.events.filter(reason=KEY_EVENT).exists():
            MessageEvent.objects.create(
                message=message,
                at=at,
                source=MessageEvent.Source.CALLBACK,
                from_status=message.status,
                to_status=message.status,
                reason=KEY_EVENT,
                detail=detail,
            )
        if result is None:
            return KeyAnswer(said=_("Thank you for your time. Goodbye."))
        said = _("Thank you. We have recorded your promise to pay by %(date)s. Goodbye.") % {
            "date": long_date(result.promise_date)
        }
    return KeyAnswer(said=said, result=result)


def _promise_register(message: OutgoingMessage, at: datetime) -> FieldResult | None:
    case = message.case
    code = _promise_code(case)
    if code is None:
        logger.warning("ivr: message %s: no promise result code for the case's type", message.pk)
        return None
    try:
        registered = result_register(
            uuid=result_uuid(message.pk),
            client_code=case.client.code,
            result_code=code,
            occurred_at=at,
            channel=FieldResult.ChannelKind.INBOUND,
            promise_date=promise_day_for(at),
            promise_amount=case.overdue_amount or None,
            notes=_("IVR: key 1 pressed in the call of message %(id)s") % {"id": message.pk},
        )
    except (InvalidInput, NotFound) as exc:
        logger.warning("ivr: message %s: promise not recorded (%s)", message.pk, exc)
        return None
    return registered.obj
