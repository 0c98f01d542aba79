"""The outbox's status machine for many rows at once: each move is one conditional
UPDATE … RETURNING (only the rows still in an allowed status move, and the statement
says which) and one INSERT of their status log. Dispatch moves a chunk of messages
in a fixed number of statements instead of a dozen each; the rules are those of
`services._advance`, which moves one row (callbacks, errors).

Raw SQL because Django's `update()` does not say which rows it changed, and a row
that a callback or another worker moved meanwhile must not get an event (nor be
moved backwards). Works on PostgreSQL and on SQLite ≥ 3.35 (RETURNING).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from notifications.models import MessageEvent, OutgoingMessage

Status = OutgoingMessage.Status
TABLE = OutgoingMessage._meta.db_table


@dataclass(frozen=True)
class Raw:
    """An SQL expression assigned as is (e.g. `attempts + 1`)."""

    sql: str


@dataclass(frozen=True)
class PerRow:
    """A value per row (row id → value), written with one CASE."""

    values: dict[int, object]


def _param(column: str, value: object) -> object:
    return OutgoingMessage._meta.get_field(column).get_db_prep_save(value, connection)


def now_sql() -> Raw:
    """The database's clock (one clock for every worker and host)."""
    if connection.vendor == "postgresql":
        return Raw("statement_timestamp()")
    return Raw("STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')")


def update_returning(
    ids: Iterable[int],
    *,
    allowed_from: tuple[str, ...],
    returning: tuple[str, ...] = ("id",),
    where: str = "",
    where_params: tuple = (),
    **assign: object,
) -> list[tuple]:
    """UPDATE the rows of `ids` whose status is one of `allowed_from` (and `where`),
    returning `returning` of each row moved (after the update)."""
    ids = list(ids)
    if not ids:
        return []
    sets, params = [], []
    for column, value in assign.items():
        if isinstance(value, Raw):
            sets.append(f"{column} = {value.sql}")
        elif isinstance(value, PerRow):
            cases = " ".join("WHEN %s THEN %s" for _ in value.values)
            sets.append(f"{column} = CASE id {cases} END")
            for pk, item in value.values.items():
                params += [pk, _param(column, item)]
        else:
            sets.append(f"{column} = %s")
            params.append(_param(column, value))
    holes = ", ".join(["%s"] * len(ids))
    statuses = ", ".join(["%s"] * len(allowed_from))
    sql = (
        f"UPDATE {TABLE} SET {', '.join(sets)} WHERE id IN ({holes}) "
        f"AND status IN ({statuses}){' AND ' + where if where else ''} "
        f"RETURNING {', '.join(returning)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids, *allowed_from, *where_params])
        return cursor.fetchall()


def log(moves: Iterable[MessageEvent]) -> None:
    MessageEvent.objects.bulk_create(list(moves), batch_size=1000)


@transaction.atomic
def claim_many(ids: list[int], *, at: datetime, valid_until: datetime) -> dict[int, int]:
    """queued → sending for every row of `ids` still queued: the claim that makes one
    worker, and only one, the sender. Returns row id → its attempt number."""
    rows = update_returning(
        ids,
        allowed_from=(Status.QUEUED,),
        returning=("id", "attempts"),
        status=Status.SENDING,
        gate=OutgoingMessage.Gate.SENT,
        gate_reason="",
        valid_until=valid_until,
        claimed_at=at,
        in_flight_since=now_sql(),
        attempts=Raw("attempts + 1"),
    )
    log(
        MessageEvent(message_id=pk, at=at, source=MessageEvent.Source.GATE,
                     from_status=Status.QUEUED, to_status=Status.SENDING,
                     gate=OutgoingMessage.Gate.SENT)
        for pk, _attempts in rows
    )  # fmt: skip
    return dict(rows)


@transaction.atomic
def postpone_many(messages: list[OutgoingMessage], *, reason: str, at: datetime) -> None:
    """A postponement is stored when it is news (a new reason), not at every run: the
    rows still queued whose last decision was another get it, with an event."""
    news = [m.pk for m in messages if (m.gate, m.gate_reason) != ("postponed", reason)]
    rows = update_returning(
        news,
        allowed_from=(Status.QUEUED,),
        where="NOT (gate = %s AND gate_reason = %s)",
        where_params=(OutgoingMessage.Gate.POSTPONED, reason),
        gate=OutgoingMessage.Gate.POSTPONED,
        gate_reason=reason,
    )
    log(
        MessageEvent(message_id=pk, at=at, source=MessageEvent.Source.GATE,
                     from_status=Status.QUEUED, to_status=Status.QUEUED,
                     gate=OutgoingMessage.Gate.POSTPONED, reason=reason)
        for (pk,) in rows
    )  # fmt: skip


@transaction.atomic
def refuse_many(ids: list[int], *, to: str, reason: str, at: datetime) -> list[int]:
    """queued → blocked or expired, for good (the gate's refusal). Returns the rows
    moved."""
    rows = update_returning(
        ids,
        allowed_from=(Status.QUEUED,),
        status=to,
        gate=OutgoingMessage.Gate.BLOCKED,
        gate_reason=reason,
        final_at=at,
    )
    log(
        MessageEvent(message_id=pk, at=at, source=MessageEvent.Source.GATE,
                     from_status=Status.QUEUED, to_status=to,
                     gate=OutgoingMessage.Gate.BLOCKED, reason=reason)
        for (pk,) in rows
    )  # fmt: skip
    return [pk for (pk,) in rows]


@transaction.atomic
def record_sent_many(sent: dict[int, tuple[str, datetime]], *, provider: str) -> list[int]:
    """sending → sent with the provider's id and when it answered (row id → (provider
    id, instant)). A row a status callback already moved on keeps what the callback
    wrote (the same provider id). Returns the rows moved."""
    rows = update_returning(
        sent,
        allowed_from=(Status.SENDING,),
        status=Status.SENT,
        provider=provider,
        provider_id=PerRow({pk: pid for pk, (pid, _at) in sent.items()}),
        sent_at=PerRow({pk: at for pk, (_pid, at) in sent.items()}),
        error="",
    )
    log(
        MessageEvent(message_id=pk, at=sent[pk][1], source=MessageEvent.Source.GATEWAY,
                     from_status=Status.SENDING, to_status=Status.SENT)
        for (pk,) in rows
    )  # fmt: skip
    return [pk for (pk,) in rows]


@transaction.atomic
def deliver_many(delivered: dict[int, datetime], *, source: str) -> list[int]:
    """sent → delivered (final) for rows we just recorded as sent (row id → instant).
    Returns the rows moved; their planned actions are the caller's to mark done."""
    rows = update_returning(
        delivered,
        allowed_from=(Status.SENT,),
        status=Status.DELIVERED,
        final_at=PerRow(delivered),
    )
    log(
        MessageEvent(message_id=pk, at=delivered[pk], source=source,
                     from_status=Status.SENT, to_status=Status.DELIVERED)
        for (pk,) in rows
    )  # fmt: skip
    return [pk for (pk,) in rows]
