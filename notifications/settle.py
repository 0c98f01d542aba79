"""Settle: what became of the messages left `sending` with no answer from the provider.

A worker killed between its claim (queued → sending) and the provider's answer, or
a call whose answer was lost (a read timeout), leaves a row `sending` with no
provider id. The provider's status callback names the row (`?m=ID`) and moves it on
when it comes; when none comes (the provider never got the message, no public URL,
a callback lost) the row would wait forever. The rule is the issue's: never send a
message twice, never drop one. So a row is sent again only when the provider says it
does not have it, and handed to a human when nobody can tell.

How, and why it is exactly once:

1. **The flight is recorded before the call.** The claim is one conditional UPDATE
   that makes one worker the sender and writes, on the row, the attempt number
   (`attempts + 1`) and `in_flight_since` (the database's clock, the same for every
   host). The call carries the row's id (the status callback URL) and its text.
2. **A sender calls within its lease or not at all.** Just before the gateway call
   the sender checks, on its own monotonic clock started before the claim, that no
   more than the lease (a quarter of `SETTLE_AFTER`) has passed; else it puts the
   row back (guarded by its attempt number) and does not call.
3. **Settle waits for every such call to be over.** It looks only at rows claimed
   more than `SETTLE_AFTER` ago (10 minutes): their sender called within the lease
   or never will, the call timed out long ago (`TWILIO_TIMEOUT`), and the provider
   has had minutes to list what it accepted.
4. **It asks the provider, by what we sent.** Twilio takes no idempotency key of
   ours and cannot list messages by status callback URL; it lists them by number.
   The gateway's `find` reads the messages to the row's number and keeps those from
   our sender, created around the flight, with the row's text (compared plain, as
   Twilio may swap a quote). Then:
   - **found**: the provider has it. Its id is written on the row (only if the row
     has none, and an id already on another row is never taken twice: the unique
     provider id), then its status as a callback would (`sent`, `delivered`,
     `failed`). Two rows with the same text to the same number are
     interchangeable: each provider message goes to one row, the rest are absent.
   - **absent**: the provider answered and holds no such message, so it was never
     sent: back to `queued` (the attempt counts; after `MAX_ATTEMPTS` it fails as
     `not_sent` for a human: a message that kills its worker is not retried
     forever). The next dispatch sends it, once, by the usual claim.
   - **cannot tell**: the gateway has no `find` (console, e-mail), the provider did
     not answer, the number has more messages than one page, or a WhatsApp template
     (Twilio keeps the template's words, not ours): `failed`, `lost_in_flight`, for
     a human. Never resent blindly.
5. **Every settle move is guarded** by the status and the attempt number read: a
   row claimed again meanwhile is another flight, and two settles at once move a
   row once.

Against the test double (`tests/notifications/fakes.py`, which lists messages as
Twilio does) this is exactly once; against Twilio the residual risks are what its
API leaves open: a message someone sends by hand with the same text to the same
number within the flight's window would be taken for ours (it would not be sent
again: never twice), and Twilio's list lagging more than `SETTLE_AFTER` behind.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now

from notifications.gateways import Outgoing, gateway_for
from notifications.models import MessageEvent, OutgoingMessage

Status = OutgoingMessage.Status
# Clocks differ between us and the provider (and Twilio keeps whole seconds).
SKEW = timedelta(seconds=60)
LOST_IN_FLIGHT = "lost_in_flight"
# Rows settled per run (each may cost a call to the provider): after an outage the
# rest wait for the next run, a few minutes, rather than hold up a dispatch.
SETTLE_BATCH = 500


def settle_after() -> float:
    return float(settings.SEMAFORO_DISPATCH.get("SETTLE_AFTER", 600))


def settle_lease() -> float:
    """How long after its claim a sender may still call the provider (seconds)."""
    return settle_after() / 4


def outbox_settle(*, at: datetime) -> Counter:
    """Settle the rows in flight for longer than `SETTLE_AFTER` with no provider id, at
    most `SETTLE_BATCH` a run. Returns how many were found at the provider
    (`settled_sent`), sent again (`settled_requeued`), or handed to a human
    (`lost_in_flight`, `not_sent`)."""
    cutoff = ExpressionWrapper(
        Now() - timedelta(seconds=settle_after()), output_field=DateTimeField()
    )
    stuck = (
        OutgoingMessage.objects.filter(status=Status.SENDING, provider_id__isnull=True)
        .filter(Q(in_flight_since__lt=cutoff) | Q(in_flight_since__isnull=True))
        .order_by("id")
    )
    counts: Counter = Counter()
    for message in list(stuck[:SETTLE_BATCH]):
        counts[message_settle(message=message, at=at)] += 1
    return counts


def message_settle(*, message: OutgoingMessage, at: datetime) -> str:
    """Settle one stuck row (see the module's docstring)."""
    from notifications.services import _advance, message_status_report

    flight = {"attempts": message.attempts, "provider_id__isnull": True}
    gateway = gateway_for(message.channel)
    find = getattr(gateway, "find", None)
    started = message.in_flight_since or message.claimed_at or at
    candidates = None
    if find is not None and message.valid_until is not None:
        outgoing = Outgoing(
            id=message.pk,
            channel=message.channel,
            to=message.address,
            text=message.text,
            valid_until=message.valid_until,
            at=message.claimed_at or started,
            content_sid=message.content_sid,
            content_variables=message.content_variables or {},
        )
        candidates = find(
            outgoing, since=started - SKEW, until=started + timedelta(seconds=settle_after()) + SKEW
        )
    source = MessageEvent.Source.SETTLE
    if candidates is None:
        moved = _advance(
            message.pk, Status.FAILED, (Status.SENDING,), at=at, source=source,
            reason=LOST_IN_FLIGHT, guard=flight, error=LOST_IN_FLIGHT, final_at=at,
        )  # fmt: skip
        return LOST_IN_FLIGHT if moved else "skipped"
    known = set(
        OutgoingMessage.objects.filter(
            provider=gateway.name, provider_id__in=[c.provider_id for c in candidates]
        ).values_list("provider_id", flat=True)
    )
    fresh = sorted(
        (c for c in candidates if c.provider_id not in known),
        key=lambda c: (c.created, c.provider_id),
    )
    if fresh:
        found = fresh[0]
        try:
            with transaction.atomic():
                taken = OutgoingMessage.objects.filter(
                    pk=message.pk, status=Status.SENDING, **flight
                ).update(provider=gateway.name, provider_id=found.provider_id,
                         sent_at=found.created or at, error="")  # fmt: skip
                if taken:
                    MessageEvent.objects.create(
                        message_id=message.pk, at=at, source=source,
                        from_status=Status.SENDING, to_status=Status.SENDING,
                        reason="found", detail=found.provider_id,
                    )  # fmt: skip
        except IntegrityError:  # another settle gave that provider message to a row
            return "skipped"
        if not taken:
            return "skipped"
        message_status_report(
            provider=gateway.name,
            provider_id=found.provider_id,
            status=found.status or "sent",
            at=at,
            message_id=message.pk,
            source=source,
        )
        return "settled_sent"
    if message.attempts >= settings.SEMAFORO_DISPATCH["MAX_ATTEMPTS"]:
        moved = _advance(
            message.pk, Status.FAILED, (Status.SENDING,), at=at, source=source,
            reason="not_sent", guard=flight, error="not_sent", final_at=at,
        )  # fmt: skip
        return "not_sent" if moved else "skipped"
    moved = _advance(
        message.pk, Status.QUEUED, (Status.SENDING,), at=at, source=source,
        reason="not_sent", guard=flight, valid_until=None, error="",
    )  # fmt: skip
    return "settled_requeued" if moved else "skipped"
