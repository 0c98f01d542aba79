"""A published version takes effect from the next computation with no restart: nothing
caches the active version across requests or worker processes. The cycle reads the
active version when it starts (and keeps it for that run, its ledger says which);
pages read it on every request."""

import pytest
from django.test import Client

from collections_field.models import CycleRun
from collections_field.tasks import run_cycle_task
from strategy.services import strategy_load_default
from strategy_editor import services
from tests.collections_field.replay import Replay, overdue_row
from tests.collections_field.test_celery_worker import live_database_url, worker  # noqa: F401
from tests.support import person

from .conftest import index_of, shorten_tramo_1


def publish(draft):
    draft.refresh_from_db()
    return services.draft_publish(
        user=person("gerencia"), draft_id=draft.pk, revision=draft.revision
    )


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.usefixtures("worker")
@pytest.mark.django_db(transaction=True)
def test_the_same_worker_runs_the_next_cycle_on_the_new_version(organisation, tmp_path):
    strategy_load_default()
    r = Replay(tmp_path)
    r.snapshot(1, [overdue_row("C1", "CR1", 25)])
    assert run_cycle_task.delay(r.day(1).isoformat()).get(timeout=120)["status"] == "done"
    assert (r.case("C1").action_code, r.case("C1").tramo) == ("A11", 1)

    # Published from this process while the worker keeps running (never restarted).
    version = publish(shorten_tramo_1(services.draft_start(user=person("gerencia"))))
    r.snapshot(2, [overdue_row("C1", "CR1", 26)])
    assert run_cycle_task.delay(r.day(2).isoformat()).get(timeout=120)["status"] == "done"
    assert CycleRun.objects.get(business_date=r.day(2)).strategy_version == version.number
    case = r.case("C1")
    assert (case.action_code, case.tramo) == ("B21", 2)
    assert case.history.get(cause="TR").strategy_version == version.number


def test_the_next_request_reads_the_new_version(world):
    """The case page's result codes come from the active version: renamed in a draft
    and published, the next request shows the new name."""
    client = Client()
    client.force_login(person("rquispe"))
    assert "Compromiso de pago" in client.get("/cases/C1/").content.decode()
    draft = services.draft_start(user=person("gerencia"))
    row = index_of(draft, "results", type="A", code="10")
    draft = services.draft_edit_rows(
        user=person("gerencia"), draft_id=draft.pk, revision=draft.revision,
        section="results", rows={row: {"name": "Promesa de pago firme"}},
    )  # fmt: skip
    publish(draft)
    page = client.get("/cases/C1/").content.decode()
    assert "Promesa de pago firme" in page and "Compromiso de pago" not in page
