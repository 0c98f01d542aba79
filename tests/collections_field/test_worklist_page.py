"""The officer's list page answers with a fixed number of queries, whatever the
length of the list (the p95 target lives in `make bench`)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from strategy.services import strategy_load_default
from tests.support import person

from .replay import Replay, overdue_row


def queries_for(day: str) -> tuple[int, int]:
    browser = Client()
    browser.force_login(person("rquispe"))
    browser.get(f"/today/?date={day}")  # warm the session
    with CaptureQueriesContext(connection) as captured:
        page = browser.get(f"/today/?date={day}")
    assert page.status_code == 200
    return len(page.context["rows"]), len(captured)


@pytest.mark.django_db(transaction=True)
def test_the_list_page_costs_the_same_queries_for_2_or_20_clients(organisation, tmp_path):
    strategy_load_default()
    replay = Replay(tmp_path)  # Monday 2026-11-02, then Tuesday
    replay.snapshot(1, [overdue_row(f"C{i:03d}", f"CR{i:03d}", 10 + i) for i in range(2)])
    replay.cycle(1)
    replay.snapshot(2, [overdue_row(f"C{i:03d}", f"CR{i:03d}", 11 + i) for i in range(20)])
    replay.cycle(2)
    short_rows, short_queries = queries_for("2026-11-02")
    long_rows, long_queries = queries_for("2026-11-03")
    assert (short_rows, long_rows) == (2, 20)
    assert long_queries == short_queries <= 15
