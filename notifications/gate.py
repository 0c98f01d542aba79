"""The legal gate (Ley 29571 art. 61–62, Ley 29733): may this message go at this instant?

Rules decided here (DOMAIN.md 5 "Collecting within the law"):

- **Hours and days**, the same window as visits and calls: Monday to Friday,
  07:00 ≤ t < 20:00 America/Lima, on a collection day (`is_collection_day`: no
  national holiday, no lender-defined non-working day). Outside it the message is
  *postponed* (`weekend`, `holiday`, `quiet_hours`) and tried again by a later run.
- **Validity**: a message handed to a provider carries `valid_until` = 20:00 Lima of
  that day; the provider is told to drop it after then (Twilio `ValidityPeriod`), and
  a claimed message whose instant has passed it is put back unsent.
- **Blocked for good**: the case was cured or closed (`cured`), a payment of the
  client was registered that Lima day before the instant (`paid`: payments reach the
  gate at once, without waiting for a cycle), the client opted out of the channel or
  withdrew its consent (`opt_out`), there is no phone or e-mail to send to
  (`no_address`), or its planned action is no longer waiting (`action_closed`: the
  cycle cancelled it or it was done by other means).
- **Expired**: the action's window closed (its last date passed) before it could go.
- **Court wording** (msgs): a text holding a word of the court-wording list is
  blocked (`court_wording`); templates are refused on save, so this catches only a
  template saved before the list grew.
- **WhatsApp's 24-hour window** (msgs): outside it, only an approved template (its
  content SID) may go; without one the message is *postponed* (`whatsapp_window`)
  until the client writes, or its window passes.
- **Contact cap**: at most `CONTACT_CAP` contacts per case in the `CONTACT_CAP_DAYS`×24
  hours before the instant (default 7 in 7 days). A contact is a message handed to a
  provider or a registered visit or call; over the cap the message is *postponed*
  (`contact_cap`) and may go when older contacts leave the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from collections_field.engine.sql import LIMA
from collections_field.models import CaseStatus, FieldResult, PlannedAction
from notifications.templating import court_words_in
from notifications.whatsapp import whatsapp_session_open
from portfolio.models import ChannelConsent, Payment
from portfolio.selectors import COLLECTION_FROM, COLLECTION_TO, is_collection_day

POSTPONED, BLOCKED, EXPIRED = "postponed", "blocked", "expired"

# Each reason of the gate in words, for the pages (the API keeps the codes).
REASON_LABELS = {
    "quiet_hours": _("Outside the hours allowed (07:00–20:00)"),
    "weekend": _("Weekend"),
    "holiday": _("Holiday or non-working day"),
    "paid": _("The client paid that day"),
    "cured": _("The case is closed"),
    "opt_out": _("The client opted out of the channel"),
    "contact_cap": _("Contact limit reached"),
    "no_address": _("No phone or e-mail to send to"),
    "action_closed": _("Its action was already closed"),
    "window_passed": _("Its window passed"),
    "court_wording": _("Court wording in the text"),
    "whatsapp_window": _("Outside WhatsApp's 24-hour window"),
}


def reason_label(reason: str) -> str:
    """A gate reason in words; an unknown one (a newer rule) as written."""
    return str(REASON_LABELS[reason]) if reason in REASON_LABELS else reason


@dataclass(frozen=True)
class Decision:
    """`verdict`: None (it may go), `postponed`, `blocked` or `expired`."""

    verdict: str | None
    reason: str = ""


ALLOWED = Decision(None)


def lima_day(at: datetime) -> date:
    return at.astimezone(LIMA).date()


def closing_time(day: date) -> datetime:
    """20:00 Lima of a day: nothing is delivered after it."""
    return datetime.combine(day, COLLECTION_TO, tzinfo=LIMA)


def time_gate(at: datetime) -> Decision:
    """The part of the gate that depends only on the instant (one answer per run)."""
    local = at.astimezone(LIMA)
    if local.weekday() >= 5:
        return Decision(POSTPONED, "weekend")
    if not is_collection_day(local.date()):
        return Decision(POSTPONED, "holiday")
    if not (COLLECTION_FROM <= local.time() < COLLECTION_TO):
        return Decision(POSTPONED, "quiet_hours")
    return ALLOWED


def cap_settings() -> tuple[int, int]:
    conf = settings.SEMAFORO_DISPATCH
    return int(conf["CONTACT_CAP"]), int(conf["CONTACT_CAP_DAYS"])


def message_gate(message, at: datetime) -> Decision:
    """The whole gate for one message at one instant (`message` is an OutgoingMessage
    with its case, client and action loaded)."""
    return messages_gate([message], at)[message.pk]


def messages_gate(messages: list, at: datetime) -> dict[int, Decision]:
    """The gate for many messages at one instant, with a fixed number of queries
    whatever their number. In the order given: a message allowed counts as a contact
    of its case for the ones after it (so a batch never goes over the cap)."""
    if not messages:
        return {}
    day = lima_day(at)
    timing = time_gate(at)
    client_ids = list({m.case.client_id for m in messages})
    paid = clients_paid(client_ids, at)
    opted_out: dict[str, set[int]] = {}
    for channel in {m.channel for m in messages}:
        ids = [m.case.client_id for m in messages if m.channel == channel]
        opted_out[channel] = clients_opted_out(ids, channel)
    cap, days = cap_settings()
    since = at - timedelta(days=days)
    contacts = _contacts(messages, since, at)
    decisions: dict[int, Decision] = {}
    for message in messages:
        case = message.case
        client_id = case.client_id
        if message.action.status != PlannedAction.Status.QUEUED:
            decision = Decision(BLOCKED, "action_closed")
        elif message.last_day < day:
            decision = Decision(EXPIRED, "window_passed")
        elif case.status == CaseStatus.CLOSED:
            decision = Decision(BLOCKED, "cured")
        elif client_id in paid:
            decision = Decision(BLOCKED, "paid")
        elif client_id in opted_out[message.channel]:
            decision = Decision(BLOCKED, "opt_out")
        elif not message.address:
            decision = Decision(BLOCKED, "no_address")
        # msgs: a template saved before its words joined the court-wording list.
        elif court_words_in(f"{message.subject}\n{message.text}"):
            decision = Decision(BLOCKED, "court_wording")
        elif timing.verdict:
            decision = timing
        elif contacts.count(message) >= cap:
            decision = Decision(POSTPONED, "contact_cap")
        # msgs: WhatsApp outside the 24-hour window takes only an approved template.
        elif (
            message.channel == "whatsapp"
            and not message.content_sid
            and not whatsapp_session_open(client_id=client_id, phone=message.address, at=at)
        ):
            decision = Decision(POSTPONED, "whatsapp_window")
        else:
            decision = ALLOWED
            contacts.add(message)
        decisions[message.pk] = decision
    return decisions


class _Contacts:
    """Contacts per case in the cap's window: messages handed to a provider (but the
    one being decided) and registered visits and calls of the case's client."""

    def __init__(self, sent: dict[int, set[int]], visits: dict[int, int]):
        self.sent, self.visits = sent, visits

    def count(self, message) -> int:
        sent = self.sent.get(message.case_id, set())
        return len(sent - {message.pk}) + self.visits.get(message.case.client_id, 0)

    def add(self, message) -> None:
        self.sent.setdefault(message.case_id, set()).add(message.pk)


def _contacts(messages: list, since: datetime, at: datetime) -> _Contacts:
    model = type(messages[0])
    sent: dict[int, set[int]] = {}
    rows = model.objects.filter(
        case_id__in={m.case_id for m in messages}, sent_at__gt=since, sent_at__lte=at
    ).values_list("case_id", "pk")
    for case_id, pk in rows:
        sent.setdefault(case_id, set()).add(pk)
    visits = dict(
        FieldResult.objects.filter(
            client_id__in={m.case.client_id for m in messages},
            channel__in=[FieldResult.ChannelKind.VISIT, FieldResult.ChannelKind.CALL],
            occurred_at__gt=since,
            occurred_at__lte=at,
        )
        .values("client_id")
        .annotate(n=Count("id"))
        .values_list("client_id", "n")
    )
    return _Contacts(sent, visits)


# --- msgs: the checks that letters share with messages, for many clients at once ----


def clients_paid(client_ids: list[int], at: datetime) -> set[int]:
    """The clients with a payment registered on the Lima day of `at`, up to `at`
    (payments reach the gate at once, without waiting for a cycle)."""
    start_of_day = datetime.combine(lima_day(at), time(0), tzinfo=LIMA)
    return set(
        Payment.objects.filter(
            credit__client_id__in=client_ids, paid_at__gte=start_of_day, paid_at__lte=at
        ).values_list("credit__client_id", flat=True)
    )


def clients_opted_out(client_ids: list[int], channel: str) -> set[int]:
    """The clients without consent for the channel, or opted out of it (Ley 29733)."""
    return set(
        ChannelConsent.objects.filter(client_id__in=client_ids, channel=channel)
        .filter(Q(consent=False) | Q(opted_out_at__isnull=False))
        .values_list("client_id", flat=True)
    )
