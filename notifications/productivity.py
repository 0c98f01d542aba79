"""Productividad por canal (issue 7 part 5): what each channel did on a business day
and what followed it, per officer, agency, zone and the company (`ChannelFigures`).

Channels: the outbox's (sms, whatsapp, ivr, email), printed letters (`letter`) and
the manual `call` and `visit` (registered results). A day is a Lima date. For a day D:

- `queued`: messages that entered the outbox on D (`created_at`); letters built for D.
- `sent`: messages handed to a provider on D (`sent_at`, whatever their status now);
  letters printed for D (in the day's batch, not blocked).
- `delivered`, `failed`, `expired`: messages that reached that final status on D
  (`final_at`); letters handed over by the asesor on D (`delivered_at`).
- `blocked`: messages the gate refused for good on D, and letters blocked at D's
  build, by the gate's reason (`blocked_reasons`: paid, cured, opt_out, …).
- `contacted`: contacts made on D. The strategy has no "contact" flag on its result
  codes (only `promise`), so: an automatic channel contacts when its message or letter
  is delivered; a call or a visit contacts when its result is registered, whatever
  the code (a "no contact" code included: it is still the channel's work).
- `replies`: inbound messages of a known client answering a message: each counts once,
  for the latest message sent to the client (any outbox channel) at or before the
  reply and less than 7 days before it, on that message's channel and sent day D.
- `promised`: promise results (a result whose code the strategy flags `promise`: only
  those carry a promise date) less than 7 days after a contact of the channel, at or
  after it. A promise taken at a visit is a contact of `visit` itself.
- `paid`: payments (core banking's, on any credit of the client, by `paid_at`) less
  than 7 days after a contact of the channel, at or after it.

Attribution of replies, promises and payments (one rule, `ATTRIBUTION_DAYS` = 7): each
counts at most once per channel, on the row of the *latest* contact of that channel
before it (ties broken by the contact's id), i.e. on that contact's day, officer and
agency. It counts for every channel that had a contact in the 7 days before it (a
payment after an SMS and a visit is paid-after-contact for both), so the channels'
promises and payments do not add up to the total; each channel's row answers "what
followed this channel's contacts". As a contact's outcomes may come up to 7 days
later, the night refreshes the last 8 days.

Units: messages and letters count for the case's officer (as the dashboards' case
figures do), results for the result's officer; agencies are the client's, zones the
agency's. Every figure drills down to the cases behind it (`channel_case_ids`), listed
with the SQL the refresh counted.

Set-based: a refresh is a fixed number of statements whatever the outbox, the same
text on PostgreSQL and SQLite but for the few spellings of `_sql_*`.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from collections_field.engine import sql

ATTRIBUTION_DAYS = 7
CHANNELS = ("sms", "whatsapp", "ivr", "email", "letter", "call", "visit")
FIGURES = ("queued", "sent", "delivered", "failed", "expired", "blocked", "contacted",
           "replies", "promised", "paid")  # fmt: skip
TABLE = "notifications_channelfigures"
# Two refreshes of overlapping days (beat's and the night's) take turns.
LOCK_ID = 7_305_001

CHANNEL_LABELS = {
    "sms": _("SMS"),
    "whatsapp": _("WhatsApp"),
    "ivr": _("IVR call"),
    "email": _("E-mail"),
    "letter": _("Letter"),
    "call": _("Call"),
    "visit": _("Visit"),
}
# Plural column heads in Spanish ("Vencido" is an overdue action on the dashboards).
FIGURE_LABELS = {
    "queued": pgettext_lazy("productivity figure", "Queued"),
    "sent": pgettext_lazy("productivity figure", "Sent"),
    "delivered": pgettext_lazy("productivity figure", "Delivered"),
    "failed": pgettext_lazy("productivity figure", "Failed"),
    "expired": pgettext_lazy("productivity figure", "Expired"),
    "blocked": pgettext_lazy("productivity figure", "Blocked"),
    "contacted": pgettext_lazy("productivity figure", "Contacted"),
    "replies": pgettext_lazy("productivity figure", "Replies"),
    "promised": pgettext_lazy("productivity figure", "Promised"),
    "paid": pgettext_lazy("productivity figure", "Paid after contact"),
}


# --- The few spellings of the two databases ---------------------------------------------


def _sql_lima_date(column: str) -> str:
    """The Lima date of a stored instant."""
    if sql.is_postgres():
        return f"CAST(({column} AT TIME ZONE 'America/Lima') AS date)"
    return f"date({column}, '-5 hours')"  # Lima is UTC-5, no DST since 1994


def _sql_plus_days(column: str, days: int) -> str:
    if sql.is_postgres():
        return f"({column} + interval '{int(days)} days')"
    return f"datetime({column}, '{int(days):+d} days')"


def _sql_reasons() -> str:
    """The blocked ones of a group as a JSON object reason → count."""
    if sql.is_postgres():
        return (
            "coalesce(jsonb_object_agg(g.reason, g.n) FILTER (WHERE g.metric = 'blocked'), "
            "'{}'::jsonb)"
        )
    return "coalesce(json_group_object(g.reason, g.n) FILTER (WHERE g.metric = 'blocked'), '{}')"


# --- The items: one row per counted thing ------------------------------------------------

Query = tuple[str, list]
COLUMNS = "metric, day, channel, officer_id, agency_id, case_id, reason"
CASES = (
    "JOIN collections_field_case cs ON cs.id = {alias}.case_id "
    "JOIN portfolio_client cl ON cl.id = cs.client_id"
)


def _bounds(since: date, until: date):
    start, end = sql.start_of(since), sql.end_of(until)
    return sql.ts(start), sql.ts(end), sql.ts(end + timedelta(days=ATTRIBUTION_DAYS))


def contacts_sql(since: date, until: date) -> Query:
    """Every contact from `since` to `ATTRIBUTION_DAYS` after `until` (the later ones
    decide which contact was the latest before an outcome), with the instant of the next
    contact of the same channel and client (`next_at`): an outcome belongs to a contact
    when it came at or after it, before `next_at` and within the attribution days."""
    start, _end, far = _bounds(since, until)
    body = (
        "SELECT m.channel AS channel, m.id AS ref, cs.client_id AS client_id, "
        "m.case_id AS case_id, cs.officer_id AS officer_id, cl.agency_id AS agency_id, "
        "m.final_at AS at FROM notifications_outgoingmessage m "
        + CASES.format(alias="m")
        + " WHERE m.status = 'delivered' AND m.final_at >= %s AND m.final_at < %s "
        "UNION ALL "
        "SELECT 'letter', l.id, cs.client_id, l.case_id, cs.officer_id, cl.agency_id, "
        "l.delivered_at FROM notifications_letter l "
        + CASES.format(alias="l")
        + " WHERE l.status = 'delivered' AND l.delivered_at >= %s AND l.delivered_at < %s "
        "UNION ALL "
        "SELECT r.channel, r.id, r.client_id, cs.id, r.officer_id, cl.agency_id, r.occurred_at "
        "FROM collections_field_fieldresult r JOIN portfolio_client cl ON cl.id = r.client_id "
        "LEFT JOIN collections_field_case cs ON cs.client_id = r.client_id "
        "WHERE r.channel IN ('call', 'visit') AND r.occurred_at >= %s AND r.occurred_at < %s"
    )
    return (
        "SELECT c.channel, c.ref, c.client_id, c.case_id, c.officer_id, c.agency_id, c.at, "
        "lead(c.at) OVER (PARTITION BY c.client_id, c.channel ORDER BY c.at, c.ref) AS next_at "
        f"FROM ({body}) c",
        [start, far] * 3,
    )


def _message_items(metric: str, column: str, status: str | None, reason: str = "''") -> str:
    condition = f" AND m.status = '{status}'" if status else ""
    return (
        f"SELECT '{metric}', {_sql_lima_date('m.' + column)}, m.channel, cs.officer_id, "
        f"cl.agency_id, m.case_id, {reason} FROM notifications_outgoingmessage m "
        + CASES.format(alias="m")
        + f" WHERE m.{column} >= %s AND m.{column} < %s{condition}"
    )


def _letter_items(metric: str, condition: str, reason: str = "''") -> str:
    return (
        f"SELECT '{metric}', l.business_date, 'letter', cs.officer_id, cl.agency_id, "
        f"l.case_id, {reason} FROM notifications_letter l "
        + CASES.format(alias="l")
        + f" WHERE l.business_date >= %s AND l.business_date <= %s{condition}"
    )


def items_sql(metric: str, since: date, until: date, contacts: Query | None = None) -> Query:
    """The SELECT (`COLUMNS`) of one figure's items from `since` to `until`. `contacts`:
    the table of `contacts_sql` already made (the refresh's temporary table), else the
    contacts are computed inside (a drill-down)."""
    start, end, far = _bounds(since, until)
    if contacts is None:
        text, params = contacts_sql(since, until)
        contacts = (f"({text})", params)
    table, contact_params = contacts
    if metric in ("queued", "sent", "delivered", "failed", "expired", "blocked"):
        message = {
            "queued": _message_items("queued", "created_at", None),
            "sent": _message_items("sent", "sent_at", None),
            "delivered": _message_items("delivered", "final_at", "delivered"),
            "failed": _message_items("failed", "final_at", "failed"),
            "expired": _message_items("expired", "final_at", "expired"),
            "blocked": _message_items("blocked", "final_at", "blocked", "m.gate_reason"),
        }[metric]
        letter = {
            "queued": (_letter_items("queued", ""), [since, until]),
            "sent": (_letter_items("sent", " AND l.status IN ('ready', 'delivered')"),
                     [since, until]),
            "delivered": (
                f"SELECT 'delivered', {_sql_lima_date('l.delivered_at')}, 'letter', "
                "cs.officer_id, cl.agency_id, l.case_id, '' FROM notifications_letter l "
                + CASES.format(alias="l")
                + " WHERE l.status = 'delivered' AND l.delivered_at >= %s "
                "AND l.delivered_at < %s",
                [start, end],
            ),
            "blocked": (
                _letter_items("blocked", " AND l.status = 'blocked'", "l.gate_reason"),
                [since, until],
            ),
        }.get(metric)  # fmt: skip
        if letter is None:
            return message, [start, end]
        return f"{message} UNION ALL {letter[0]}", [start, end, *letter[1]]
    if metric == "contacted":
        return (
            f"SELECT 'contacted', {_sql_lima_date('k.at')}, k.channel, k.officer_id, "
            f"k.agency_id, k.case_id, '' FROM {table} k WHERE k.at >= %s AND k.at < %s",
            [*contact_params, start, end],
        )
    window = _sql_plus_days("k.at", ATTRIBUTION_DAYS)
    if metric == "promised":
        join = (
            "JOIN collections_field_fieldresult p ON p.client_id = k.client_id "
            "AND p.promise_date IS NOT NULL AND p.occurred_at >= k.at "
            f"AND p.occurred_at < {window} AND (k.next_at IS NULL OR p.occurred_at < k.next_at)"
        )
    elif metric == "paid":
        join = (
            "JOIN portfolio_credit cr ON cr.client_id = k.client_id "
            "JOIN portfolio_payment pay ON pay.credit_id = cr.id AND pay.paid_at >= k.at "
            f"AND pay.paid_at < {window} AND (k.next_at IS NULL OR pay.paid_at < k.next_at)"
        )
    elif metric == "replies":
        # The latest message sent to the client at or before the reply (ties: the
        # higher id), if less than the attribution days before it.
        return (
            f"SELECT 'replies', {_sql_lima_date('m.sent_at')}, m.channel, cs.officer_id, "
            "cl.agency_id, m.case_id, '' FROM notifications_inboundmessage i "
            "JOIN collections_field_case cs ON cs.client_id = i.client_id "
            "JOIN portfolio_client cl ON cl.id = i.client_id "
            "JOIN notifications_outgoingmessage m ON m.case_id = cs.id "
            "AND m.sent_at <= i.received_at "
            f"AND i.received_at < {_sql_plus_days('m.sent_at', ATTRIBUTION_DAYS)} "
            "WHERE i.received_at >= %s AND i.received_at < %s "
            "AND m.sent_at >= %s AND m.sent_at < %s AND NOT EXISTS (SELECT 1 "
            "FROM notifications_outgoingmessage m2 WHERE m2.case_id = m.case_id "
            "AND m2.sent_at <= i.received_at AND (m2.sent_at > m.sent_at "
            "OR (m2.sent_at = m.sent_at AND m2.id > m.id)))",
            [start, far, start, end],
        )
    else:
        raise ValueError(metric)
    return (
        f"SELECT '{metric}', {_sql_lima_date('k.at')}, k.channel, k.officer_id, k.agency_id, "
        f"k.case_id, '' FROM {table} k {join} WHERE k.at >= %s AND k.at < %s",
        [*contact_params, start, end],
    )


# --- The refresh ---------------------------------------------------------------------------


@transaction.atomic
def channel_figures_refresh(*, since: date, until: date) -> dict[str, int]:
    """Rebuild the `ChannelFigures` rows of the days from `since` to `until` (both
    included): delete them and insert them again from the outbox, the letters, the
    results, the inbound messages and the payments, in a fixed number of statements.
    Idempotent: the same range twice gives the same rows."""
    if until < since:
        return {"channel_rows": 0}
    now = timezone.now()
    with connection.cursor() as cursor:
        if sql.is_postgres():
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        sql.create_temp(cursor, "prod_contacts", *contacts_sql(since, until))
        branches, params = [], []
        for metric in FIGURES:
            text, values = items_sql(metric, since, until, contacts=("prod_contacts", []))
            branches.append(text)
            params += values
        sql.create_temp(cursor, "prod_items", _named(" UNION ALL ".join(branches)), params)
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE business_date >= %s AND business_date <= %s",
            [since, until],
        )
        levels = (
            "SELECT day, channel, 'officer' AS level, officer_id AS key, metric, reason "
            "FROM prod_items WHERE officer_id IS NOT NULL "
            "UNION ALL SELECT day, channel, 'agency', agency_id, metric, reason "
            "FROM prod_items WHERE agency_id IS NOT NULL "
            "UNION ALL SELECT i.day, i.channel, 'zone', ag.zone_id, i.metric, i.reason "
            "FROM prod_items i JOIN portfolio_agency ag ON ag.id = i.agency_id "
            "UNION ALL SELECT day, channel, 'company', 0, metric, reason FROM prod_items"
        )
        sums = ", ".join(
            f"sum(CASE WHEN g.metric = '{name}' THEN g.n ELSE 0 END)" for name in FIGURES
        )
        cursor.execute(
            f"INSERT INTO {TABLE} (business_date, channel, level, key, {', '.join(FIGURES)}, "
            f"blocked_reasons, refreshed_at) "
            f"SELECT g.day, g.channel, g.level, g.key, {sums}, {_sql_reasons()}, %s "
            f"FROM (SELECT e.day, e.channel, e.level, e.key, e.metric, e.reason, count(*) AS n "
            f"FROM ({levels}) e WHERE e.day >= %s AND e.day <= %s "
            "GROUP BY e.day, e.channel, e.level, e.key, e.metric, e.reason) g "
            "GROUP BY g.day, g.channel, g.level, g.key",
            [sql.ts(now), since, until],
        )
        rows = cursor.rowcount
        sql.drop_temp(cursor, "prod_items", "prod_contacts")
    return {"channel_rows": max(rows, 0)}


def channel_figures_step(*, business_date: date, version=None) -> dict[str, int]:
    """The night's last step (`SEMAFORO["CYCLE_EXTRA_STEPS"]`): the days whose
    outcomes may still move, up to the cycle's business date."""
    return channel_figures_refresh(
        since=business_date - timedelta(days=ATTRIBUTION_DAYS + 1), until=business_date
    )


def _named(text: str) -> str:
    """The items' SELECT with its columns named (a CTE's column list: both databases)."""
    return f"WITH u ({COLUMNS}) AS ({text}) SELECT * FROM u"


def channel_case_ids(
    *,
    metric: str,
    since: date,
    until: date,
    channel: str,
    unit_sql: str,
    unit_params: list,
    reason: str | None = None,
) -> Query:
    """SQL (and its parameters) for the ids of the cases behind a figure of a channel in
    a unit over a range of days: the items the refresh counted. `unit_sql` is a
    condition on the items' `x.officer_id` and `x.agency_id`."""
    text, params = items_sql(metric, since, until)
    condition, extra = "", []
    if reason is not None:
        condition, extra = " AND x.reason = %s", [reason]
    return (
        f"SELECT x.case_id FROM ({_named(text)}) x WHERE x.case_id IS NOT NULL "
        f"AND x.channel = %s AND x.day >= %s AND x.day <= %s AND {unit_sql}{condition}",
        [*params, channel, since, until, *unit_params, *extra],
    )
