"""Where the refinanced clients come from.

A refinancing is what the engine saw: an event-80 move in the case history. Its
line names the record behind it: the approved refinancing request whose event 80 the
cycle of that date took in (`request:<id>`, with the request's credit), else the
case-history row (`80:<id>`: core banking rescheduled a credit on its own, seen as a
change in its number of installments).
"""

from __future__ import annotations

from datetime import date


def refinancing_source(first: date, following: date) -> tuple[str, list]:
    """SQL of the month's refinancings: history_id, case_id, at, business_date,
    client_id, client_code, credit_code, reference."""
    return (
        "SELECT h.id AS history_id, h.case_id, h.at, h.business_date, c.client_id, "
        "cl.code AS client_code, coalesce(k.code, '') AS credit_code, "
        "CASE WHEN r.id IS NULL THEN '80:' || CAST(h.id AS varchar(20)) "
        "ELSE 'request:' || CAST(r.id AS varchar(20)) END AS reference "
        "FROM collections_field_casehistory h "
        "JOIN collections_field_case c ON c.id = h.case_id "
        "JOIN portfolio_client cl ON cl.id = c.client_id "
        # The request the night took in as this 80 (one per client and night).
        "LEFT JOIN commissions_refinancingrequest r ON r.id = (SELECT min(q.id) "
        "FROM commissions_refinancingrequest q WHERE q.client_id = c.client_id "
        "AND q.status = 'approved' AND q.event_on = h.business_date) "
        "LEFT JOIN portfolio_credit k ON k.id = r.credit_id "
        "WHERE h.cause_kind = 'event' AND h.cause = '80' "
        "AND h.business_date >= %s AND h.business_date < %s",
        [first, following],
    )
