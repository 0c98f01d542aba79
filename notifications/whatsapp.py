"""WhatsApp's 24-hour customer-service window (Meta's rule, as Twilio applies it).

Inside 24 hours since the client's last WhatsApp message to us, a business may write
free text; outside it, only a template approved by the provider (a Twilio content
SID with its numbered variables). The inbound webhook stores every WhatsApp message
(`From: whatsapp:+51…`) as an `InboundMessage`, which is what opens the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from notifications.models import InboundMessage

WINDOW = timedelta(hours=24)


def whatsapp_session_open(*, client_id: int | None, phone: str, at: datetime) -> bool:
    """Did the client (or its number, in E.164) write to us on WhatsApp in the 24 hours
    before `at`? A message received after `at` does not count (a replay stays true)."""
    who = Q(sender=phone) if phone else Q(pk__in=[])
    if client_id is not None:
        who |= Q(client_id=client_id)
    return InboundMessage.objects.filter(
        who, channel="whatsapp", received_at__gt=at - WINDOW, received_at__lte=at
    ).exists()
