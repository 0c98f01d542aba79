"""The outbox and its dispatch: every automatic planned action becomes one message,
sent at most once, within the law (see `gate.py` for the rules).

Exactly once, by construction (pretix's `OutgoingMail`, healthchecks' `sendalerts`):

- `outbox_fill` writes one row per action (the action is unique on the row), so a
  re-run or two workers filling at once add nothing.
- A row is *claimed* by a conditional UPDATE (`queued → sending`) before the
  provider is called; only the worker whose UPDATE changed the row sends it. A row in
  flight or final is skipped, so a re-run, an overlapping run or a task delivered
  twice never sends it again.
- A row comes back to `queued` only when the provider certainly did not take it (the
  connection was never made, the provider answered 429/5xx, or its validity passed
  before the call). When the answer is lost (a read timeout, a killed worker), the
  row stays `sending` and the provider's status callback, which names the row, moves
  it on: never sent twice.
- Every status moves only forward (`queued < sending < sent < final`), by a
  conditional UPDATE, so repeated or out-of-order callbacks leave one final status.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from collections_field.engine.plan import AUTOMATIC_CHANNELS
from collections_field.models import PlannedAction
from collections_field.services import action_mark_done
from notifications import templating
from notifications.gate import (
    BLOCKED,
    EXPIRED,
    POSTPONED,
    Decision,
    closing_time,
    lima_day,
    message_gate,
    time_gate,
)
from notifications.gateways import GatewayError, Outgoing, gateway_for
from notifications.models import InboundMessage, MessageEvent, OutgoingMessage
from notifications.whatsapp import whatsapp_session_open
from portfolio.models import Client
from portfolio.services import channel_opt_out

logger = logging.getLogger(__name__)

Status = OutgoingMessage.Status
Gate = OutgoingMessage.Gate
FINAL = (Status.DELIVERED, Status.FAILED, Status.EXPIRED, Status.BLOCKED)
# Letters are printed and handed over by the asesor (notifications/letters.py): they
# never enter this outbox.
OUTBOX_CHANNELS = tuple(c for c in AUTOMATIC_CHANNELS if c != "letter")
PHONE_CHANNELS = ("sms", "whatsapp", "ivr")
CHUNK = 1000


# --- Rendering -----------------------------------------------------------------------


def e164(phone: str) -> str:
    """A Peruvian mobile number (9 digits starting with 9, maybe after 51) or an
    international one written with + as E.164; anything else cannot take a message."""
    digits = re.sub(r"\D", "", phone or "")
    if (phone or "").strip().startswith("+"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else ""
    if len(digits) == 9 and digits.startswith("9"):
        return f"+51{digits}"
    if len(digits) == 11 and digits.startswith("519"):
        return f"+{digits}"
    return ""


def default_text(*, channel: str, first_name: str, agency: str, amount: Decimal) -> str:
    """The plain text of an action whose template is not written yet (DOMAIN.md 7.2).
    For the debtor only: it names the debt, so it must never go to a third party."""
    values = {"name": first_name, "agency": agency, "amount": f"{amount:,.2f}"}
    if channel == "ivr":
        return (
            _(
                "Hello %(name)s. This is a reminder from agency %(agency)s: your credit has "
                "an overdue balance of %(amount)s soles. If you have already paid, thank you."
            )
            % values
        )
    return (
        _(
            "%(name)s, your credit at agency %(agency)s has an overdue balance of "
            "S/ %(amount)s. Please pay it or talk to your officer. If you already paid, "
            "please ignore this message."
        )
        % values
    )


def _address_of(client: Client, channel: str) -> str:
    if channel in PHONE_CHANNELS:
        return e164(client.phone)
    if channel == "email":
        return client.email or ""
    return ""


def _new_message(action: PlannedAction, at: datetime, templates=None) -> OutgoingMessage:
    case = action.case
    client = case.client
    agency = client.agency.name if client.agency_id else ""
    # msgs: the action's template when one of that name and channel is written.
    content = templating.message_content(action=action, day=lima_day(at), templates=templates or {})
    if content is None:
        with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
            text = default_text(
                channel=action.channel,
                first_name=(client.name.split() or [""])[0],
                agency=agency,
                amount=case.overdue_amount,
            )
        content = templating.Content(template="", text=text)
    return OutgoingMessage(
        case=case,
        action=action,
        channel=action.channel,
        recipient=OutgoingMessage.Recipient.DEBTOR,
        address=_address_of(client, action.channel),
        template=action.template or "",
        text=content.text,
        subject=content.subject,
        html=content.html,
        content_sid=content.content_sid,
        content_variables=content.content_variables or {},
        due_on=action.window_from,
        last_day=action.window_to,
        created_at=at,
    )


# --- The outbox ----------------------------------------------------------------------


def outbox_fill(*, at: datetime) -> int:
    """Queue one message per automatic action waiting for dispatch whose window has
    opened by the Lima date of `at`. Idempotent: an action already queued is skipped,
    and a row racing in from another worker loses on the unique action."""
    day = lima_day(at)
    actions = (
        PlannedAction.objects.filter(
            status=PlannedAction.Status.QUEUED,
            manual=False,
            channel__in=OUTBOX_CHANNELS,
            window_from__lte=day,
            outgoing_message__isnull=True,
        )
        .select_related("case__client__agency", "case__officer")
        .order_by("id")
    )
    created = 0
    while True:
        batch = list(actions[:CHUNK])
        templates = templating.templates_by_name(a.template for a in batch)
        chunk = [_new_message(a, at, templates) for a in batch]
        if not chunk:
            return created
        before = OutgoingMessage.objects.filter(action__in=[m.action for m in chunk]).count()
        OutgoingMessage.objects.bulk_create(chunk, ignore_conflicts=True)
        after = OutgoingMessage.objects.filter(action__in=[m.action for m in chunk]).count()
        created += after - before
        if len(chunk) < CHUNK:
            return created


def _advance(
    message_id: int,
    to: str,
    allowed_from: tuple[str, ...],
    *,
    at: datetime,
    source: str,
    reason: str = "",
    detail: str = "",
    **fields,
) -> str | None:
    """Move a row to `to` only from one of `allowed_from`, by a conditional UPDATE on
    the status read just before (so the log names the real previous status). Returns
    that previous status, or None when the row was not (or no longer) movable."""
    for _attempt in range(3):
        current = (
            OutgoingMessage.objects.filter(pk=message_id).values_list("status", flat=True).first()
        )
        if current not in allowed_from:
            return None
        with transaction.atomic():
            moved = OutgoingMessage.objects.filter(pk=message_id, status=current).update(
                status=to, **fields
            )
            if moved:
                MessageEvent.objects.create(
                    message_id=message_id,
                    at=at,
                    source=source,
                    from_status=current,
                    to_status=to,
                    gate=fields.get("gate", ""),
                    reason=reason,
                    detail=detail[:200],
                )
                return current
    return None


def _note_postponed(message: OutgoingMessage, decision: Decision, at: datetime) -> None:
    """A postponement is stored when it is news (a new reason), not at every run."""
    if (message.gate, message.gate_reason) == (Gate.POSTPONED, decision.reason):
        return
    with transaction.atomic():
        if OutgoingMessage.objects.filter(pk=message.pk, status=Status.QUEUED).update(
            gate=Gate.POSTPONED, gate_reason=decision.reason
        ):
            MessageEvent.objects.create(
                message_id=message.pk,
                at=at,
                source=MessageEvent.Source.GATE,
                from_status=Status.QUEUED,
                to_status=Status.QUEUED,
                gate=Gate.POSTPONED,
                reason=decision.reason,
            )


class Clock:
    """The instant a run works at. A replay (`--at`) stays at its instant, so every
    rule can be replayed; a live run (`LiveClock`) sees time pass, so a long batch
    started at 19:55 sees 20:00 come and stops sending."""

    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at


class LiveClock(Clock):
    def __init__(self) -> None:
        super().__init__(timezone.now())

    def now(self) -> datetime:
        return timezone.now()


@dataclass
class DispatchResult:
    at: datetime
    counts: Counter = field(default_factory=Counter)


def dispatch(*, at: datetime, clock: Clock | None = None) -> DispatchResult:
    """`dispatch [--at DATETIME]`: queue the due automatic actions and send every queued
    message that is due and allowed at that instant. The same instant twice sends
    nothing more (every row sent is in flight or final)."""
    clock = clock or Clock(at)
    result = DispatchResult(at=at)
    result.counts["queued"] = outbox_fill(at=at)
    due = OutgoingMessage.objects.filter(status=Status.QUEUED, due_on__lte=lima_day(at))
    timing = time_gate(at)
    if timing.verdict:
        # Nothing may go now: one decision for the whole batch, stored where it is news.
        for message in due.exclude(gate=Gate.POSTPONED, gate_reason=timing.reason).iterator():
            _note_postponed(message, timing, at)
        result.counts[POSTPONED] = due.count()
        return result
    for message_id in list(due.order_by("id").values_list("id", flat=True)):
        result.counts[message_dispatch(message_id=message_id, at=clock.now(), clock=clock)] += 1
    return result


def message_dispatch(*, message_id: int, at: datetime, clock: Clock | None = None) -> str:
    """Gate, claim and send one message. Returns what happened: `sent`, `delivered`,
    `postponed`, `blocked`, `expired`, `retry`, `failed`, `uncertain`, or `skipped`
    (already in flight or final: a duplicate task, an overlapping run)."""
    message = (
        OutgoingMessage.objects.select_related("case__client", "action")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.status != Status.QUEUED:
        return "skipped"
    decision = message_gate(message, at)
    if decision.verdict == POSTPONED:
        _note_postponed(message, decision, at)
        return POSTPONED
    if decision.verdict in (BLOCKED, EXPIRED):
        to = Status.BLOCKED if decision.verdict == BLOCKED else Status.EXPIRED
        moved = _advance(
            message.pk,
            to,
            (Status.QUEUED,),
            at=at,
            source=MessageEvent.Source.GATE,
            reason=decision.reason,
            gate=Gate.BLOCKED,
            gate_reason=decision.reason,
            final_at=at,
        )
        return decision.verdict if moved else "skipped"
    valid_until = closing_time(lima_day(at))
    claimed = _advance(
        message.pk,
        Status.SENDING,
        (Status.QUEUED,),
        at=at,
        source=MessageEvent.Source.GATE,
        gate=Gate.SENT,
        gate_reason="",
        valid_until=valid_until,
        claimed_at=at,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return "skipped"
    return _send(message, at=at, valid_until=valid_until, clock=clock)


def _send(
    message: OutgoingMessage, *, at: datetime, valid_until: datetime, clock: Clock | None
) -> str:
    now = clock.now() if clock else at
    if now >= valid_until:
        # 20:00 came between the claim and the call: nothing was sent, it waits.
        _advance(
            message.pk,
            Status.QUEUED,
            (Status.SENDING,),
            at=now,
            source=MessageEvent.Source.GATE,
            reason="quiet_hours",
            gate=Gate.POSTPONED,
            gate_reason="quiet_hours",
            valid_until=None,
        )
        return POSTPONED
    gateway = gateway_for(message.channel)
    outgoing = Outgoing(
        id=message.pk,
        channel=message.channel,
        to=message.address,
        text=message.text,
        valid_until=valid_until,
        at=now,
        status_callback=status_callback_url(message.pk),
        # msgs: the e-mail's subject and HTML; WhatsApp's approved content, which goes
        # instead of the text outside the 24-hour window.
        subject=message.subject,
        html=message.html,
        content_sid=message.content_sid,
        content_variables=message.content_variables or {},
        session_open=message.channel != "whatsapp"
        or whatsapp_session_open(client_id=message.case.client_id, phone=message.address, at=now),
        voice_url=public_url("twilio-voice", message.pk) if message.channel == "ivr" else "",
    )
    try:
        sent = gateway.send(outgoing)
    except GatewayError as exc:
        return _send_failed(message, exc, at=clock.now() if clock else at, gateway=gateway.name)
    done_at = clock.now() if clock else at
    # The provider id first: a status callback may already be moving the row on.
    OutgoingMessage.objects.filter(pk=message.pk, sent_at__isnull=True).update(
        provider=gateway.name, provider_id=sent.provider_id, sent_at=done_at, error=""
    )
    _advance(
        message.pk, Status.SENT, (Status.SENDING,), at=done_at, source=MessageEvent.Source.GATEWAY
    )
    logger.info("message %s sent via %s", message.pk, gateway.name)
    if sent.status == Status.DELIVERED:
        message_delivered(message_id=message.pk, at=done_at, source=MessageEvent.Source.GATEWAY)
        return Status.DELIVERED
    return Status.SENT


def _send_failed(message: OutgoingMessage, exc: GatewayError, *, at: datetime, gateway: str) -> str:
    logger.warning("message %s: gateway %s error %s", message.pk, gateway, exc.code)
    source = MessageEvent.Source.GATEWAY
    if exc.uncertain:
        # The provider may have it: the row stays in flight; its callback decides.
        OutgoingMessage.objects.filter(pk=message.pk).update(error=exc.code, provider=gateway)
        MessageEvent.objects.create(
            message_id=message.pk,
            at=at,
            source=source,
            from_status=Status.SENDING,
            to_status=Status.SENDING,
            detail=exc.code,
        )
        return "uncertain"
    attempts = OutgoingMessage.objects.values_list("attempts", flat=True).get(pk=message.pk)
    if exc.retry and attempts < settings.SEMAFORO_DISPATCH["MAX_ATTEMPTS"]:
        _advance(
            message.pk,
            Status.QUEUED,
            (Status.SENDING,),
            at=at,
            source=source,
            detail=exc.code,
            error=exc.code,
            valid_until=None,
        )
        return "retry"
    _advance(
        message.pk,
        Status.FAILED,
        (Status.SENDING,),
        at=at,
        source=source,
        detail=exc.code,
        error=exc.code,
        final_at=at,
    )
    if exc.unsubscribed:
        channel_opt_out(client=message.case.client, channel=message.channel, at=at)
    return Status.FAILED


def public_url(name: str, *args) -> str:
    """A URL of ours as the provider reaches it (`SEMAFORO_PUBLIC_URL`); empty without
    one (no webhooks: the console gateway, development)."""
    base = settings.SEMAFORO_DISPATCH["PUBLIC_URL"]
    if not base:
        return ""
    return f"{base.rstrip('/')}{reverse(name, args=args)}"


def status_callback_url(message_id: int) -> str:
    """Where the provider reports the message's status; it names the row, so a report
    that arrives before the provider's answer still finds it."""
    url = public_url("twilio-status")
    return f"{url}?m={message_id}" if url else ""


# --- What the provider tells us ------------------------------------------------------

RANK = {
    Status.QUEUED: 0,
    Status.SENDING: 1,
    Status.SENT: 2,
    Status.DELIVERED: 3,
    Status.FAILED: 3,
    Status.EXPIRED: 3,
    Status.BLOCKED: 3,
}
# Twilio's message statuses → ours. Anything Twilio holds is at least `sent`.
MESSAGE_STATUS = {
    "accepted": Status.SENT,
    "scheduled": Status.SENT,
    "queued": Status.SENT,
    "sending": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
}
# Twilio's call statuses (IVR) → ours: a call that was answered and ended is delivered
# (its action done); one nobody answered, busy, refused or cancelled has failed. The
# names both lists use (queued, failed, canceled) mean the same in each.
CALL_STATUS = {
    "queued": Status.SENT,
    "initiated": Status.SENT,
    "ringing": Status.SENT,
    "in-progress": Status.SENT,
    "completed": Status.DELIVERED,
    "busy": Status.FAILED,
    "no-answer": Status.FAILED,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
}
PROVIDER_STATUS = {**MESSAGE_STATUS, **CALL_STATUS}
# Twilio dropped it because its ValidityPeriod passed (our 20:00 limit).
TWILIO_VALIDITY_EXPIRED = "30036"


def message_delivered(*, message_id: int, at: datetime, source: str) -> bool:
    """Delivered: final, and its planned action is done (a collections_field service)."""
    moved = _advance(
        message_id,
        Status.DELIVERED,
        (Status.SENDING, Status.SENT),
        at=at,
        source=source,
        final_at=at,
    )
    if moved:
        action = PlannedAction.objects.get(outgoing_message__pk=message_id)
        action_mark_done(action=action, at=at)
    return moved is not None


def message_status_report(
    *,
    provider: str,
    provider_id: str,
    status: str,
    at: datetime,
    message_id: int | None = None,
    error_code: str = "",
) -> bool:
    """A provider's status callback. Moves the row forward only: a repeated, late or
    out-of-order report changes nothing. Returns whether the row moved."""
    rows = OutgoingMessage.objects.all()
    message = None
    if message_id is not None:
        message = rows.filter(pk=message_id).first()
        if message and message.provider_id and provider_id and message.provider_id != provider_id:
            message = None  # a callback naming another provider message: not this row
    if message is None and provider_id:
        message = rows.filter(provider=provider, provider_id=provider_id).first()
    target = PROVIDER_STATUS.get((status or "").lower())
    if message is None or target is None:
        return False
    if not message.provider_id and provider_id:
        rows.filter(pk=message.pk, provider_id__isnull=True).update(
            provider=provider, provider_id=provider_id
        )
        rows.filter(pk=message.pk, sent_at__isnull=True).update(sent_at=at)
    if target == Status.FAILED and error_code == TWILIO_VALIDITY_EXPIRED:
        target = Status.EXPIRED
    if target == Status.DELIVERED:
        return message_delivered(message_id=message.pk, at=at, source=MessageEvent.Source.CALLBACK)
    lower = tuple(s for s, rank in RANK.items() if rank < RANK[target] and s != Status.QUEUED)
    fields = {"final_at": at} if RANK[target] == 3 else {}
    if error_code:
        fields["error"] = f"{provider}_{error_code}"[:200]
    moved = _advance(
        message.pk,
        target,
        lower,
        at=at,
        source=MessageEvent.Source.CALLBACK,
        detail=f"{status} {error_code}".strip(),
        **fields,
    )
    return moved is not None


# Opt-out words: Twilio's standard ones and their Spanish counterparts.
OPT_OUT_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "OPTOUT",
        "REVOKE",
        "BAJA",
        "ALTO",
        "PARAR",
        "DETENER",
        "CANCELAR",
        "SALIR",
    }
)


def is_opt_out(text: str) -> bool:
    """The message is an opt-out word alone (any case, accents and punctuation aside)."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z]+", plain.upper())
    return len(words) == 1 and words[0] in OPT_OUT_WORDS


def clients_with_phone(phone: str) -> list[Client]:
    """The clients a number belongs to: those we have written to at it (the outbox
    keeps E.164), and those whose phone is written in a usual way."""
    number = e164(phone)
    if not number:
        return []
    local = number.removeprefix("+51")
    spaced = f"{local[:3]} {local[3:6]} {local[6:]}"
    spellings = {number, number[1:], local, spaced, f"+51 {spaced}", f"+51 {local}"}
    messaged = OutgoingMessage.objects.filter(address=number).values("case__client_id")
    candidates = Client.objects.filter(Q(phone__in=spellings) | Q(pk__in=messaged))
    return [c for c in candidates.order_by("pk") if e164(c.phone) == number]


@transaction.atomic
def inbound_register(*, provider_id: str, sender: str, text: str, at: datetime) -> InboundMessage:
    """A message from a phone: stored once (by the provider's id); an opt-out word opts
    every client with that number out of that channel at once (Ley 29733)."""
    existing = InboundMessage.objects.filter(provider_id=provider_id).first()
    if existing is not None:
        return existing
    channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    phone = sender.removeprefix("whatsapp:")
    clients = clients_with_phone(phone)
    opt_out = is_opt_out(text)
    if opt_out:
        for client in clients:
            channel_opt_out(client=client, channel=channel, at=at)
    return InboundMessage.objects.create(
        channel=channel,
        provider_id=provider_id,
        sender=e164(phone) or phone[:64],
        text=text,
        client=clients[0] if len(clients) == 1 else None,
        opt_out=opt_out,
        received_at=at,
    )
