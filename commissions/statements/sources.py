"""Where the refinanced clients come from: the one place to change when the
refinancing requests (branch `refi`) land.

Until then a refinancing is what the engine already sees: an event-80 move in the
case history (a credit's number of installments changed, or an approved request's
event 80 once it exists). Each row names its record: today the case-history row
(`80:<id>`); once requests exist, the approved request behind the event
(`request:<id>`): join it here on the case and the event's date, and keep the
columns.
"""

from __future__ import annotations

from datetime import date


def refinancing_source(first: date, following: date) -> tuple[str, list]:
    """SQL of the month's refinancings: history_id, case_id, at, business_date,
    client_id, client_code, credit_code, reference."""
    return (
        "SELECT h.id AS history_id, h.case_id, h.at, h.business_date, c.client_id, "
        "cl.code AS client_code, '' AS credit_code, "
        "'80:' || CAST(h.id AS varchar(20)) AS reference "
        "FROM collections_field_casehistory h "
        "JOIN collections_field_case c ON c.id = h.case_id "
        "JOIN portfolio_client cl ON cl.id = c.client_id "
        "WHERE h.cause_kind = 'event' AND h.cause = '80' "
        "AND h.business_date >= %s AND h.business_date < %s",
        [first, following],
    )
