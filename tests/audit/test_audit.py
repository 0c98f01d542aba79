"""Every change by hand is audited (who, when, before, after) and the gerente reads
it in a page and exports it."""

import csv
import io

import pytest
from django.test import Client

from collections_field.services import case_override
from portfolio.models import Role
from portfolio.services import staff_member_set_role
from strategy.models import StrategyVersion
from tests.support import person


@pytest.mark.django_db(transaction=True)
def test_an_override_is_audited_with_before_and_after(world):
    before = world.case("C1")
    assert before.action_code != "B21"
    case_override(user=person("jcastro"), client_code="C1", to_code="B21", reason="Visitado")
    record = world.case("C1").audit_trail.latest()
    assert record.history_user == person("jcastro")
    assert record.history_change_reason == "Visitado"
    delta = record.diff_against(record.prev_record)
    changes = {c.field: (c.old, c.new) for c in delta.changes}
    assert changes["action_code"] == (before.action_code, "B21")
    assert changes["classification"] == (before.classification, "B")

    gerente = Client()
    gerente.force_login(person("gerencia"))
    page = gerente.get("/audit/", {"model": "collections_field.case"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "jcastro" in text and "Visitado" in text and f"{before.action_code} → B21" in text

    export = gerente.get("/audit/export.csv", {"model": "collections_field.case"})
    assert export["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    moved = [r for r in lines if r["field"] == "action_code" and r["action"] == "changed"]
    assert moved == [
        {**moved[0], "who": "jcastro", "reason": "Visitado", "before": before.action_code,
         "after": "B21"}
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_roles_and_strategy_publications_are_in_the_trail(world):
    rosa = person("rquispe")
    staff_member_set_role(user=rosa, role=Role.JEFE_AGENCIA, agency=rosa.staff_member.agency)
    member = rosa.staff_member.history.latest()
    assert member.role == Role.JEFE_AGENCIA
    assert member.prev_record.role == Role.ASESOR
    # A user's password hash never enters the trail.
    rosa.set_password("otra-clave-segura")
    rosa.save()
    assert not hasattr(rosa.history.latest(), "password")

    versions = StrategyVersion.history.filter(history_type="+").count()
    assert versions >= 1
    gerente = Client()
    gerente.force_login(person("gerencia"))
    page = gerente.get("/audit/", {"model": "portfolio.staffmember"})
    assert "jefe_agencia" in page.content.decode()
    published = StrategyVersion.history.filter(history_type="+").latest()
    assert published.number == StrategyVersion.objects.get(is_active=True).number


@pytest.mark.django_db
def test_only_the_gerente_reads_the_trail(organisation):
    for username in ("rquispe", "jcastro", "mflores"):
        client = Client()
        client.force_login(person(username))
        assert client.get("/audit/").status_code == 403
    assert Client().get("/audit/").status_code == 302  # to the login page
