"""Approved refinancings raise event 80 on the case (DOMAIN.md 6), through the
engine's item sources (`collections_field.engine.sources`, declared in
`SEMAFORO["EVENT_SOURCES"]`).

- **Items.** The cycle for D takes in every request approved before the end of D
  and not taken in yet: one 80 on the client's open case at the moment of the
  approval. The BAS table then moves the case like any other 80.
- **Once.** Core banking books the refinancing and the credit comes back in a
  later snapshot with a new number of installments, which the engine would read
  as another rescheduling. It does not: the clients whose request is being taken
  in tonight, or was taken in at the previous snapshot's cycle, are held back from
  the snapshot's own 80. A booking that reaches the snapshots later than that
  raises a second 80 (core banking books the approved ones the same day).
- **Taken in.** `event_on` is set to D for every approved request taken in, as
  results and payments get `applied_on`; a closed case gets no item.
"""

from __future__ import annotations

from datetime import date, datetime

from strategy.schema import RESCHEDULING_EVENT

TABLE = "commissions_refinancingrequest"


class ApprovedRefinancings:
    code = RESCHEDULING_EVENT

    def items(self, *, business_date: date, end: datetime, scope) -> tuple[str, list]:
        return (
            "SELECT r.client_id, r.decided_at AS at, "
            "'refinancing request ' || CAST(r.id AS varchar(20)) AS detail "
            f"FROM {TABLE} r WHERE r.status = 'approved' AND r.event_on IS NULL "
            f"AND r.decided_at < %s AND r.client_id IN "
            f"(SELECT cl.id FROM portfolio_client cl WHERE {scope.clients('cl')})",
            [end],
        )

    def announced(
        self, *, business_date: date, end: datetime, previous_snapshot: date | None
    ) -> tuple[str, list]:
        return (
            f"SELECT r.client_id FROM {TABLE} r WHERE r.status = 'approved' "
            "AND r.decided_at < %s AND (r.event_on IS NULL OR r.event_on >= %s)",
            [end, previous_snapshot or business_date],
        )

    def take_in(self, cursor, *, business_date: date, end: datetime, scope) -> int:
        cursor.execute(
            f"UPDATE {TABLE} SET event_on = %s WHERE status = 'approved' AND event_on IS NULL "
            "AND decided_at < %s AND client_id IN "
            f"(SELECT cl.id FROM portfolio_client cl WHERE {scope.clients('cl')})",
            [business_date, end],
        )
        return cursor.rowcount
