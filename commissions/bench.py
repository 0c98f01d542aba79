"""The money rules' part of `make bench` (issue 9), called from
`collections_field/management/commands/bench.py` with the portfolio loaded."""

from __future__ import annotations

import time
from datetime import date
from decimal import ROUND_CEILING

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from collections_field.models import Case
from commissions.refinancing.schedule import CENT, add_months
from portfolio.models import CreditPosition
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
