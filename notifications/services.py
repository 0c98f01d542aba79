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
  row stays `sending`: the provider's status callback, which names the row, moves it
  on, and when none comes `settle.py` asks the provider (found: recorded; certainly
  absent: queued again; nobody can tell: failed for a human). Never sent twice.
- Every status moves only forward (`queued < sending < sent < final`), by a
  conditional UPDATE, so repeated or out-of-order callbacks leave one final status.
- Dispatch works in chunks (`DISPATCH_CHUNK`): one gate for the chunk
  (`gate.messages_gate`), one claim, the gateway calls one by one, and the answers
  recorded together (`moves.py`), so a message costs a fraction of a statement of
  bookkeeping. Before a claim, each channel's send rate (`throttle.py`) gives the
  tokens: a message without one is never claimed.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from collections_field.engine.plan import AUTOMATIC_CHANNELS
from collections_field.models import PlannedAction
from collections_field.services import action_mark_done, actions_mark_done
from notifications import moves, templating
from notifications.gate import (
    BLOCKED,
    EXPIRED,
    POSTPONED,
    closing_time,
    lima_day,
    messages_gate,
    time_gate,
)
from notifications.gateways import GatewayError, Outgoing, Sent, gateway_for
from notifications.models import InboundMessage, MessageEvent, OutgoingMessage
from notifications.settle import settle_lease
from notifications.throttle import throttle_take
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
# Dispatch gates, claims and sends this many messages at a time: a chunk's gate is
# taken at its start, so it stays short (a few seconds through a slow provider).
DISPATCH_CHUNK = 200
# Answers are recorded at least this often (seconds) while a chunk is being sent.
FLUSH_SECONDS = 0.5
THROTTLED = "throttled"


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
    # The ids first, in one query, then the actions a chunk at a time by id: a large
    # day does not rescan, at every chunk, the actions it already queued.
    ids = list(actions.values_list("id", flat=True))
    created = 0
    for start in range(0, len(ids), CHUNK):
        batch = list(actions.filter(pk__in=ids[start : start + CHUNK]))
        templates = templating.templates_by_name(a.template for a in batch)
        chunk = [_new_message(a, at, templates) for a in batch]
        if not chunk:
            continue
        before = OutgoingMessage.objects.filter(action__in=[m.action for m in chunk]).count()
        OutgoingMessage.objects.bulk_create(chunk, ignore_conflicts=True)
        after = OutgoingMessage.objects.filter(action__in=[m.action for m in chunk]).count()
        created += after - before
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
    guard: dict | None = None,
    **fields,
) -> str | None:
    """Move a row to `to` only from one of `allowed_from`, by a conditional UPDATE on
    the status read just before (so the log names the real previous status), and on
    `guard` (more lookups the row must still match, e.g. its attempt number: a row
    claimed again since it was read is not the same flight). Returns that previous
    status, or None when the row was not (or no longer) movable."""
    for _attempt in range(3):
        current = (
            OutgoingMessage.objects.filter(pk=message_id).values_list("status", flat=True).first()
        )
        if current not in allowed_from:
            return None
        with transaction.atomic():
            moved = OutgoingMessage.objects.filter(
                pk=message_id, status=current, **(guard or {})
            ).update(status=to, **fields)
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
    """`dispatch [--at DATETIME]`: settle the rows stuck in flight, queue the due
    automatic actions and send every queued message that is due and allowed at that
    instant. The same instant twice sends nothing more (every row sent is in flight or
    final). Chunk by chunk: each is gated, claimed, sent and recorded in a fixed number
    of statements (`notifications/moves.py`)."""
    from notifications.settle import outbox_settle

    clock = clock or Clock(at)
    result = DispatchResult(at=at)
    result.counts.update(outbox_settle(at=at))
    result.counts["queued"] = outbox_fill(at=at)
    due = OutgoingMessage.objects.filter(status=Status.QUEUED, due_on__lte=lima_day(at))
    timing = time_gate(at)
    if timing.verdict:
        # Nothing may go now: one decision for the whole batch, stored where it is news.
        waiting = due.exclude(gate=Gate.POSTPONED, gate_reason=timing.reason)
        while batch := list(waiting.order_by("id")[:DISPATCH_CHUNK]):
            moves.postpone_many(batch, reason=timing.reason, at=at)
        result.counts[POSTPONED] = due.count()
        return result
    # A channel whose send rate ran dry is left for the next run (its rows untouched).
    dry: set[str] = set()
    rows = list(due.order_by("id").values_list("id", "channel"))
    for start in range(0, len(rows), DISPATCH_CHUNK):
        chunk = rows[start : start + DISPATCH_CHUNK]
        ids = [pk for pk, channel in chunk if channel not in dry]
        outcomes = messages_dispatch(message_ids=ids, at=clock.now(), clock=clock)
        for pk, channel in chunk:
            outcome = outcomes.get(pk, THROTTLED)
            result.counts[outcome] += 1
            if outcome == THROTTLED:
                dry.add(channel)
    return result


def message_dispatch(*, message_id: int, at: datetime, clock: Clock | None = None) -> str:
    """Gate, claim and send one message (a task's). Returns what happened: `sent`,
    `delivered`, `postponed`, `throttled`, `blocked`, `expired`, `retry`, `failed`,
    `uncertain`, or `skipped` (already in flight or final: a duplicate task, an
    overlapping run)."""
    return messages_dispatch(message_ids=[message_id], at=at, clock=clock)[message_id]


def messages_dispatch(
    *, message_ids: list[int], at: datetime, clock: Clock | None = None
) -> dict[int, str]:
    """Gate, claim and send these messages, in id order; what happened to each."""
    clock = clock or Clock(at)
    outcomes = dict.fromkeys(message_ids, "skipped")
    messages = list(
        OutgoingMessage.objects.select_related("case__client", "action")
        .filter(pk__in=message_ids, status=Status.QUEUED)
        .order_by("id")
    )
    decisions = messages_gate(messages, at)
    postponed: dict[str, list[OutgoingMessage]] = {}
    refused: dict[tuple[str, str], list[int]] = {}
    allowed: dict[str, list[OutgoingMessage]] = {}
    for message in messages:
        decision = decisions[message.pk]
        if decision.verdict == POSTPONED:
            postponed.setdefault(decision.reason, []).append(message)
            outcomes[message.pk] = POSTPONED
        elif decision.verdict in (BLOCKED, EXPIRED):
            refused.setdefault((decision.verdict, decision.reason), []).append(message.pk)
        else:
            allowed.setdefault(message.channel, []).append(message)
    for reason, waiting in postponed.items():
        moves.postpone_many(waiting, reason=reason, at=at)
    for (verdict, reason), ids in refused.items():
        to = Status.BLOCKED if verdict == BLOCKED else Status.EXPIRED
        for pk in moves.refuse_many(ids, to=to, reason=reason, at=at):
            outcomes[pk] = verdict
    for channel, waiting in allowed.items():
        gateway = gateway_for(channel)
        sender = getattr(gateway, "sender_key", "") or gateway.name
        while waiting:
            # The send rate, before the claim: a message without a token is never
            # claimed, so nothing is undone and no attempt is spent; it stays queued
            # (noted `throttled`) for the next dispatch. Waiting a short, bounded time
            # for a token keeps a batch flowing at the rate; waiting longer would hold
            # a worker (and a live run's clock) for nothing.
            tokens = throttle_take(channel=channel, sender=sender, wanted=len(waiting))
            if not tokens:
                moves.postpone_many(waiting, reason=THROTTLED, at=at)
                outcomes.update(dict.fromkeys((m.pk for m in waiting), THROTTLED))
                break
            outcomes.update(_claim_and_send(waiting[:tokens], gateway, at=at, clock=clock))
            waiting = waiting[tokens:]
    return outcomes


def _claim_and_send(
    messages: list[OutgoingMessage], gateway, *, at: datetime, clock: Clock
) -> dict[int, str]:
    """Claim the messages (queued → sending, one statement), hand each claimed one to
    the gateway, and record the answers in bulk (every `FLUSH_SECONDS` at the latest,
    so a crash leaves few answers unrecorded for settle to find)."""
    valid_until = closing_time(lima_day(at))
    claimed_from = time.monotonic()  # before the claim: the lease is never longer
    claimed = moves.claim_many([m.pk for m in messages], at=at, valid_until=valid_until)
    # Another worker claimed the others first.
    outcomes = {m.pk: "skipped" for m in messages if m.pk not in claimed}
    waiting = deque(m for m in messages if m.pk in claimed)
    answers: dict[int, tuple[OutgoingMessage, Sent, datetime]] = {}
    flushed = time.monotonic()
    lease = settle_lease()
    try:
        while waiting:
            message = waiting.popleft()
            now = clock.now()
            if now >= valid_until:
                # 20:00 came between the claim and the call: nothing was sent, it waits.
                _put_back(
                    message.pk, claimed, at=now, source=MessageEvent.Source.GATE,
                    reason="quiet_hours", gate=Gate.POSTPONED, gate_reason="quiet_hours",
                )  # fmt: skip
                outcomes[message.pk] = POSTPONED
                continue
            if time.monotonic() - claimed_from > lease:
                # Too long since the claim (a stalled process): settle may be deciding
                # this row already (its grace is longer than the lease), so it is not
                # sent now but put back, unless settle moved it first.
                _put_back(message.pk, claimed, at=now, source=MessageEvent.Source.GATEWAY,
                          reason="lease_passed")  # fmt: skip
                outcomes[message.pk] = "retry"
                continue
            try:
                sent = gateway.send(_outgoing(message, now=now, valid_until=valid_until))
            except GatewayError as exc:
                done_at = clock.now()
                outcomes[message.pk] = _send_failed(message, exc, at=done_at, gateway=gateway.name)
                continue
            answers[message.pk] = (message, sent, clock.now())
            if time.monotonic() - flushed >= FLUSH_SECONDS:
                outcomes.update(_record(answers, gateway.name))
                answers, flushed = {}, time.monotonic()
    finally:
        # Even on an unexpected error: the answers received are recorded, and the rows
        # claimed but never handed to the gateway go back (they were certainly not
        # sent). The one whose call raised stays in flight: settle asks the provider.
        outcomes.update(_record(answers, gateway.name))
        for message in waiting:
            _put_back(message.pk, claimed, at=clock.now(), source=MessageEvent.Source.GATEWAY,
                      reason="not_called")  # fmt: skip
            outcomes[message.pk] = "retry"
    return outcomes


def _put_back(
    message_id: int, claimed: dict[int, int], *, at: datetime, source: str, reason: str, **fields
) -> None:
    """sending → queued for a claimed row never handed to the gateway; guarded by the
    claim's attempt number (a row settle moved, and maybe another worker claimed since,
    is left alone)."""
    _advance(
        message_id,
        Status.QUEUED,
        (Status.SENDING,),
        at=at,
        source=source,
        reason=reason,
        guard={"attempts": claimed[message_id]},
        valid_until=None,
        **fields,
    )


def _outgoing(message: OutgoingMessage, *, now: datetime, valid_until: datetime) -> Outgoing:
    return Outgoing(
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


def _record(answers: dict[int, tuple[OutgoingMessage, Sent, datetime]], provider: str) -> dict:
    """The providers' answers, in a few statements: sending → sent (with the provider
    id first: a status callback may be moving the row on), then → delivered where the
    provider says it is already there, and those planned actions done."""
    if not answers:
        return {}
    moved = set(
        moves.record_sent_many(
            {pk: (sent.provider_id, done_at) for pk, (_m, sent, done_at) in answers.items()},
            provider=provider,
        )
    )
    outcomes = dict.fromkeys(answers, Status.SENT)
    delivered = {pk: done_at for pk, (_m, sent, done_at) in answers.items()
                 if sent.status == Status.DELIVERED}  # fmt: skip
    for pk in set(delivered) - moved:  # a callback moved it meanwhile: one by one
        message_delivered(message_id=pk, at=delivered.pop(pk), source=MessageEvent.Source.GATEWAY)
        outcomes[pk] = Status.DELIVERED
    with transaction.atomic():
        done = moves.deliver_many(delivered, source=MessageEvent.Source.GATEWAY)
        actions_mark_done(done={answers[pk][0].action_id: delivered[pk] for pk in done})
    outcomes.update(dict.fromkeys(done, Status.DELIVERED))
    logger.info("%s messages sent via %s", len(answers), provider)
    return outcomes


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
    source: str = MessageEvent.Source.CALLBACK,
) -> bool:
    """A provider's status callback (or what settle read from the provider). Moves the
    row forward only: a repeated, late or out-of-order report changes nothing. Returns
    whether the row moved."""
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
        return message_delivered(message_id=message.pk, at=at, source=source)
    lower = tuple(s for s, rank in RANK.items() if rank < RANK[target] and s != Status.QUEUED)
    fields = {"final_at": at} if RANK[target] == 3 else {}
    if error_code:
        fields["error"] = f"{provider}_{error_code}"[:200]
    moved = _advance(
        message.pk,
        target,
        lower,
        at=at,
        source=source,
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
