"""The collection address follows the payments (dirección de cobranza, thesis 5.2.9 b).

It starts as the client's home; when a payment (PG) follows a GPS-verified visit at
an address, that address becomes where the officer goes next time. "Follows" means
the visit happened before the payment and no earlier than the strategy's
`effective_days` (commission scheme; 7 by default) before the business date: the
same window in which a visit counts as the effective action behind a cure.
One statement for every case paid on the date, run after the transitions.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection

from collections_field.engine import sql
from collections_field.engine.events import ALL_CLIENTS, Scope
from strategy.models import StrategyVersion
from strategy.selectors import commission_scheme_for


def follow_payments(
    *, business_date: date, version: StrategyVersion, scope: Scope = ALL_CLIENTS
) -> int:
    days = commission_scheme_for(version).effective_days
    since = sql.ts(sql.start_of(business_date - timedelta(days=days)))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE collections_field_case SET collection_address_id = v.address_id FROM ("
            "  SELECT e.case_id, r.address_id, row_number() OVER ("
            "    PARTITION BY e.case_id ORDER BY r.occurred_at DESC, r.id DESC) AS n"
            "  FROM collections_field_caseevent e"
            "  JOIN collections_field_case c ON c.id = e.case_id"
            "  JOIN collections_field_fieldresult r ON r.client_id = c.client_id"
            f" WHERE e.business_date = %s AND e.kind = 'event' AND e.code = 'PG'"
            f"  AND {scope.cases('c')} AND r.channel = 'visit' AND r.verified = {sql.true()}"
            "   AND r.address_id IS NOT NULL AND r.occurred_at <= e.at AND r.occurred_at >= %s"
            ") v WHERE collections_field_case.id = v.case_id AND v.n = 1"
            " AND (collections_field_case.collection_address_id IS NULL"
            "      OR collections_field_case.collection_address_id <> v.address_id)",
            [business_date, since],
        )
        return cursor.rowcount
