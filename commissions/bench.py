"""The money rules' part of `make bench` (issue 9), called from
`collections_field/management/commands/bench.py` (by name) with the portfolio loaded.

- `bench_simulator`: the server time of `POST refinancing/simulations/`.
- `bench_commissions`: gives the portfolio a month of field work the two nights lack
  (set-based, timed apart as setup): payments on the open cases' credits on every day
  of the month from the first night on, verified visits each followed by a cure
  (event 70) a day later, and event-80 moves. Then it computes the month, the statement
  the issue times (target: under 30 s for 1,000 asesores over 1,000,000 credits), and
  rolls everything back, so the bench database stays as the nights left it.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import ROUND_CEILING

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collections_field.engine.sql import counting_statements, start_of
from collections_field.models import Case
from commissions.models import CommissionLine, CommissionStatement
from commissions.refinancing.schedule import CENT, add_months
from commissions.statements.compute import next_month
from commissions.statements.services import commissions_compute
from portfolio.models import CreditPosition, Officer
from strategy.selectors import active_strategy, refinancing_products_for

SIMULATIONS = "/api/v1/refinancing/simulations/"


def bench_simulator(bench, day: date, *, requests: int = 200) -> None:
    """Server time of `POST refinancing/simulations/` for an asesor on one of its
    credits that a product fits (target: p95 ≤ 50 ms), and the queries per answer.
    `bench` is the command: its `note` and `stdout`."""
    from collections_field.management.commands.bench import median_and_p95

    version = active_strategy()
    products = refinancing_products_for(version) if version else []
    found = None
    for product in sorted(products, key=lambda p: -p.max_term_months):
        positions = CreditPosition.objects.filter(
            business_date=day, days_past_due__gte=product.min_dpd, credit__left_on__isnull=True
        )
        if product.max_dpd is not None:
            positions = positions.filter(days_past_due__lte=product.max_dpd)
        for credit_code, client_id, balance in positions.values_list(
            "credit__code", "client_id", "principal_balance"
        )[:50]:
            case = Case.objects.filter(client_id=client_id, officer__user__isnull=False).first()
            if case is not None:
                found = (product, credit_code, balance, case.officer.user)
                break
        if found:
            break
    if found is None:
        bench.stdout.write("  simulator: no credit of an asesor fits a refinancing product")
        return
    product, credit_code, balance, user = found
    browser = Client(SERVER_NAME="localhost")
    browser.force_login(user)
    body = {
        "credit_code": credit_code,
        "product": product.code,
        "down_payment": str((balance * product.min_down_payment_pct).quantize(CENT, ROUND_CEILING)),
        "first_due_date": add_months(day, 1).isoformat(),
    }
    # The longest term whose installment still reaches the product's minimum.
    for term in range(product.max_term_months, 0, -1):
        answer = browser.post(
            SIMULATIONS, {**body, "term_months": term}, content_type="application/json"
        )
        if answer.status_code == 200:
            body["term_months"] = term
            break
    else:
        bench.stdout.write(f"  simulator: {credit_code} has no term within {product.code}")
        return
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            answer = browser.post(SIMULATIONS, body, content_type="application/json")
        timings.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.content
    median, p95 = median_and_p95(timings)
    bench.note(
        f"api: POST refinancing/simulations/ ({body['term_months']} months) p95 "
        f"(median {median:.0f} ms)",
        p95 / 1000,
        len(queries),
    )


class _RolledBack(Exception):
    pass


def bench_commissions(command, *, first_night: date) -> None:
    """`command.note(name, seconds, statements)` prints a line of the bench's table."""
    month = first_night.replace(day=1)
    last = next_month(month) - timedelta(days=1)
    try:
        with transaction.atomic():
            started = time.monotonic()
            payments, cures, refinancings = _month_of_work(first_night, last)
            command.note(
                f"money: a month of work ({payments:,} payments, {cures:,} cures, "
                f"{refinancings:,} refinancings) (setup)",
                time.monotonic() - started,
            )
            started = time.monotonic()
            with counting_statements() as counter:
                record = commissions_compute(month=month)
            seconds = time.monotonic() - started
            officers = CommissionStatement.objects.filter(month=record, kind="officer").count()
            internal = Officer.objects.filter(external_agency__isnull=True).count()
            command.note(
                f"money: commissions {month:%Y-%m} ({officers:,} of {internal:,} asesores, "
                f"{record.lines:,} lines)",
                seconds,
                counter.count,
            )
            total = CommissionLine.objects.filter(month=record).count()
            assert total == record.lines, (total, record.lines)
            raise _RolledBack
    except _RolledBack:
        pass


def _month_of_work(first: date, last: date) -> tuple[int, int, int]:
    """A month of payments, cures and refinancings on the open cases (PostgreSQL)."""
    days = (last - first).days + 1
    with connection.cursor() as cursor:
        # About a twentieth of the open cases' credits pay on each day of the month,
        # taken in by the next morning's cycle.
        cursor.execute(
            "INSERT INTO portfolio_payment (reference, credit_id, amount, paid_at, installments, "
            "received_at, applied_on) "
            "SELECT 'BENCH-M-' || d || '-' || k.id, k.id, 50 + (k.id %% 450), "
            "%s::timestamptz + (d * interval '1 day') + ((k.id %% 540) * interval '1 minute'), "
            "(k.id + d) %% 2, now(), %s::date + d + 1 "
            "FROM portfolio_credit k JOIN collections_field_case c ON c.client_id = k.client_id "
            "CROSS JOIN generate_series(0, %s - 1) d "
            "WHERE c.status <> 'closed' AND (k.id * 7 + d) %% 20 = 0 "
            "ON CONFLICT (reference) DO NOTHING",
            [start_of(first) + timedelta(hours=8), first, days],
        )
        payments = cursor.rowcount
        # A thirtieth of the open cases: a verified visit by their officer, cured the day after.
        cursor.execute(
            "CREATE TEMP TABLE bench_cure ON COMMIT DROP AS "
            "SELECT c.id AS case_id, c.client_id, c.officer_id, "
            "%s::date + (c.id %% %s)::int AS day FROM collections_field_case c "
            "WHERE c.status <> 'closed' AND c.officer_id IS NOT NULL AND c.id %% 30 = 0",
            [first, max(1, days - 1)],
        )
        cursor.execute(
            "INSERT INTO collections_field_fieldresult (uuid, client_id, result_code, "
            "occurred_at, officer_id, channel, notes, verified, flags, registered_at, "
            "address_kind, applied_on) "
            "SELECT md5('bench-m-' || b.case_id)::uuid, b.client_id, '10', "
            "(b.day::timestamp + interval '10 hours') AT TIME ZONE 'America/Lima', b.officer_id, "
            "'visit', '', true, '[]', now(), '', b.day FROM bench_cure b"
        )
        cursor.execute(
            "INSERT INTO collections_field_casehistory (case_id, business_date, at, seq, "
            "from_code, to_code, from_classification, to_classification, cause_kind, cause, "
            "officer_code, reason) "
            "SELECT b.case_id, b.day + 1, ((b.day + 1)::timestamp AT TIME ZONE 'America/Lima'), "
            "9, c.action_code, c.action_code, c.classification, c.classification, 'event', "
            "'70', '', '' FROM bench_cure b JOIN collections_field_case c ON c.id = b.case_id"
        )
        cures = cursor.rowcount
        cursor.execute(
            "INSERT INTO collections_field_casehistory (case_id, business_date, at, seq, "
            "from_code, to_code, from_classification, to_classification, cause_kind, cause, "
            "officer_code, reason) "
            "SELECT c.id, %s::date + (c.id %% %s)::int, "
            "((%s::date + (c.id %% %s)::int)::timestamp AT TIME ZONE 'America/Lima'), 9, "
            "c.action_code, c.action_code, c.classification, c.classification, 'event', '80', "
            "'', '' FROM collections_field_case c WHERE c.status <> 'closed' AND c.id %% 97 = 0",
            [first, days, first, days],
        )
        refinancings = cursor.rowcount
        cursor.execute("ANALYZE portfolio_payment")
        cursor.execute("ANALYZE collections_field_casehistory")
        cursor.execute("ANALYZE collections_field_fieldresult")
    return payments, cures, refinancings
