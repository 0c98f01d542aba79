"""Printed letters: one per case and letter action, from the AS code's letter template
(else the plan item's), addressed to the debtor, gated, merged into one PDF per agency
per day (real WeasyPrint, text read back with pypdf), scoped by role, and done when
the asesor marks it delivered. The strategy is written for these tests only."""

import io
import itertools
import os
from datetime import date

import pytest
from django.db import connection
from django.test import Client as WebClient
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from collections_field.models import Case, PlannedAction
from collections_field.selectors import case_actions
from notifications.letters import _letters_write, letters_build
from notifications.models import Letter, LetterBatch
from notifications.templating import template_save
from portfolio.models import Agency, ChannelConsent, Client, NonWorkingDay
from portfolio.services import organisation_load
from strategy.services import strategy_publish
from tests.collections_field.replay import Replay, overdue_row
from tests.conftest import EXTERNAL
from tests.support import ORGANISATION, api_as, person

MONDAY = date(2026, 11, 2)

# Type L: two classifications, one tramo. N's code names a letter template (the AS row's
# wins), R's does not (the plan item's is used). Nothing here is the thesis'. The letter's
# window runs for years: the pages mark letters delivered at the real "now".
STRATEGY = """
name: Letters test
usd_rate: 3.5
management_types:
  - {code: L, name: Letras, max_exposure: null}
tramos:
  - {type: L, number: 1, from_day: 1, to_day: null, max_visits: 3, daily_cap: 9}
classifications:
  - {type: L, code: N, name: Nuevo, max_dpd: 10}
  - {type: L, code: R, name: Riesgoso, max_dpd: null}
results:
  - {type: L, code: OK, name: Promete, promise: true}
events:
  - {code: PG, name: Pago}
  - {code: "70", name: Al día}
actions:
  - {type: L, code: N11, classification: N, tramo: 1, visit: 1, where: home, whom: client,
     instrument: letter, message: Carta, letter_template: carta_codigo}
  - {type: L, code: R11, classification: R, tramo: 1, visit: 1, where: home, whom: client,
     instrument: letter, message: Carta, letter_template: null}
bas:
  - {type: L, from: N11, on: OK, to: N11}
action_plans:
  - {type: L, tramo: 1, order: 1, channel: letter, from_day: 1, to_day: 5000,
     template: carta_plan, manual: false}
escalation:
  - {level: 2, after_days: 0}
"""

AGENCY_CONTACT = """
zones: [{code: Z1, name: Lima Norte}]
agencies:
  - {code: AG01, name: Comas, zone: Z1, phone: "01 555 0101",
     address: "Av. Universitaria 100, Comas"}
"""


@pytest.fixture
def letters(db, tmp_path, settings):
    """C1 and C4 (Rosa's, AG01), C3 (AG01, the external agency's), C2 (AG02, Juan's)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    organisation_load(document=ORGANISATION)
    organisation_load(document=EXTERNAL)
    organisation_load(document=AGENCY_CONTACT)
    strategy_publish(document=STRATEGY)
    template_save(
        user=None, name="carta_codigo", channel="letter", recipient="debtor",
        body="Estimado(a) {{ nombre }}:\n\nSu crédito en {{ agencia }} tiene {{ monto_vencido }} "
             "vencido.\n\n{{ tabla_creditos }}\n\nLlame a {{ asesor }} al {{ telefono_agencia }}."
             "\nEntregada en {{ direccion_cobranza }}.",
    )  # fmt: skip
    long_text = "\n\n".join(["Le recordamos ponerse al día con su crédito. " * 12] * 14)
    template_save(
        user=None, name="carta_plan", channel="letter", recipient="debtor",
        body="Estimado(a) {{ nombre }}:\n\n" + long_text,
    )  # fmt: skip
    replay = Replay(tmp_path, first_day=MONDAY)
    replay.snapshot(1, rows())
    replay.cycle(1)
    return replay


def rows():
    return [
        overdue_row("C1", "CR1", 5, client_name="Rosa Quispe Mamani"),
        overdue_row(
            "C2", "CR2", 20, client_name="Juan Ccori Huamán", agency_code="AG02",
            lat="-16.4", lon="-71.54", origin_officer_code="AS002",
        ),
        overdue_row(
            "C3", "CR3", 5, client_name="Ana Torres Ríos", lat="-11.9300", lon="-77.0500",
            origin_officer_code="", address="Jr. Los Olivos 45, Comas",
        ),
        {**overdue_row("C4", "CR4", 20, client_name="Luis Paredes Soto"),
         "overdue_amount": "820.50"},
    ]  # fmt: skip


def batch_of(agency: str) -> LetterBatch:
    return LetterBatch.objects.get(agency__code=agency, business_date=MONDAY)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def letter(client: str) -> Letter:
    return Letter.objects.get(case__client__code=client)


def test_a_letter_pdf_names_the_client_the_amounts_and_the_agency(letters):
    results = {r.agency: r for r in letters_build(business_date=MONDAY, at=letters.at(1, 6))}
    assert (results["AG01"].letters, results["AG02"].letters) == (3, 1)
    with batch_of("AG01").file.open("rb") as pdf:
        pages = pdf_pages(pdf.read())
    rosa = letter("C1")
    text = "\n".join(pages[rosa.first_page - 1 : rosa.first_page - 1 + rosa.pages])
    assert "Rosa Quispe Mamani" in text  # the debtor, by its full name
    assert "Estimado(a) Rosa:" in text
    assert "Agencia Comas" in text or "Agency Comas" in text
    assert "Comas tiene S/ 150.00 vencido" in text  # the overdue amount
    assert "CR1" in text and "S/ 3,200.50" in text  # its credits table, with the balance
    assert "Av. Túpac Amaru 1234, Comas" in text  # the collection address
    assert "01 555 0101" in text  # the agency's phone
    assert "Rosa Quispe" in text  # the officer who signs
    assert "Luis Paredes" not in text and "Ana Torres" not in text
    assert (rosa.template, rosa.address_kind) == ("carta_codigo", "collection")
    assert rosa.status == "ready"


def test_the_agencys_daily_batch_has_one_page_set_per_letter(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    batch = batch_of("AG01")
    with batch.file.open("rb") as pdf:
        pages = pdf_pages(pdf.read())
    placed = sorted(
        Letter.objects.filter(agency__code="AG01").values_list(
            "first_page", "pages", "case__client__code"
        )
    )
    # Ordered by officer (AS001 Rosa's clients, then AS900's), then client.
    assert [client for _first, _pages, client in placed] == ["C1", "C4", "C3"]
    assert placed[0][0] == 1
    for (first, count, _client), (following, _c, _n) in itertools.pairwise(placed):
        assert following == first + count  # each set right after the previous one
    assert sum(count for _f, count, _c in placed) == len(pages) == batch.pages
    by_client = {"C1": "Rosa Quispe Mamani", "C4": "Luis Paredes Soto", "C3": "Ana Torres Ríos"}
    for first, count, client in placed:
        own = pages[first - 1 : first - 1 + count]
        assert by_client[client] in own[0]
        assert f"{client}-" in "".join(own)  # its reference
        others = [name for code, name in by_client.items() if code != client]
        assert not any(name in page for page in own for name in others)
    luis = letter("C4")
    assert luis.pages >= 2  # the long plan template runs over a page
    assert luis.template == "carta_plan"  # R11 names no letter template: the plan item's


def test_without_a_written_template_the_letter_is_the_plain_default(letters):
    from notifications.models import MessageTemplate

    MessageTemplate.objects.all().delete()
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    rosa = letter("C1")
    assert (rosa.template, rosa.status) == ("", "ready")
    assert "has an overdue amount of" in rosa.html and "S/ 150.00" in rosa.html


def test_letters_go_only_to_the_debtors_own_address(letters):
    Case.objects.filter(client__code="C1").update(collection_address=None)
    Client.objects.get(code="C3").addresses.update(text="")
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    assert (letter("C1").address_kind, letter("C1").address) == (
        "contract",
        "Av. Túpac Amaru 1234, Comas",
    )
    assert (letter("C3").status, letter("C3").gate_reason) == ("blocked", "no_address")


def test_the_gate_blocks_paid_cured_opted_out_and_court_wording(letters, settings):
    letters.payment(1, "CR3", hour=5)  # paid before the build at 06:00
    Case.objects.filter(client__code="C2").update(status="closed")
    ChannelConsent.objects.create(
        client=Client.objects.get(code="C4"), channel="letter", consent=False
    )
    settings.SEMAFORO_TEMPLATES = {**settings.SEMAFORO_TEMPLATES, "COURT_WORDS": ["llame"]}
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    reasons = dict(Letter.objects.values_list("case__client__code", "gate_reason"))
    assert reasons == {"C1": "court_wording", "C2": "cured", "C3": "paid", "C4": "opt_out"}
    assert set(Letter.objects.values_list("status", flat=True)) == {"blocked"}
    assert not Letter.objects.exclude(html="").exists()
    assert not batch_of("AG01").file and batch_of("AG01").letters == 0
    assert PlannedAction.objects.filter(channel="letter", status="queued").count() == 4


def test_a_rerun_replaces_the_batch_and_keeps_the_letters(
    letters, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        letters_build(business_date=MONDAY, at=letters.at(1, 6))
    first = batch_of("AG01")
    first_file, ids = first.file.path, set(Letter.objects.values_list("id", flat=True))
    letters.payment(1, "CR4", hour=7)  # between the two builds
    with django_capture_on_commit_callbacks(execute=True):
        letters_build(business_date=MONDAY, at=letters.at(1, 8))
    again = batch_of("AG01")
    assert LetterBatch.objects.filter(agency__code="AG01").count() == 1
    assert again.pk != first.pk and again.letters == 2
    assert set(Letter.objects.values_list("id", flat=True)) == ids  # rebuilt in place
    assert (letter("C4").status, letter("C4").gate_reason) == ("blocked", "paid")
    assert not os.path.exists(first_file) and os.path.exists(again.file.path)
    # A letter printed on one day is not printed again on the next (its window runs on).
    assert letters_build(business_date=MONDAY.replace(day=3), at=letters.at(2, 6)) == []


def test_nothing_is_printed_on_a_day_without_visits(letters):
    NonWorkingDay.objects.create(date=MONDAY, name="Día no laborable")
    assert letters_build(business_date=MONDAY, at=letters.at(1, 6)) == []
    assert not Letter.objects.exists()


def test_the_build_reads_in_a_fixed_number_of_queries(letters):
    agency = Agency.objects.get(code="AG01")
    with CaptureQueriesContext(connection) as three:
        _letters_write(agency=agency, day=MONDAY, at=letters.at(1, 6))
    Letter.objects.all().delete()
    PlannedAction.objects.filter(case__client__code__in=["C3", "C4"]).update(status="cancelled")
    with CaptureQueriesContext(connection) as one:
        _letters_write(agency=agency, day=MONDAY, at=letters.at(1, 6))
    assert len(three) == len(one)


# --- Scope -----------------------------------------------------------------------------


def get_pdf(username: str, agency: str = "AG01", scopes=("letters:read",)):
    return api_as(username, list(scopes)).get(f"/api/v1/letters/?agency={agency}&date=2026-11-02")


def test_letters_are_scoped_by_role(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    with batch_of("AG01").file.open("rb") as pdf:
        whole = pdf.read()
    for username in ("gerencia", "jcastro", "mflores"):
        response = get_pdf(username)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content == whole  # the agency's batch as printed
    own = "\n".join(pdf_pages(get_pdf("rquispe").content))  # the asesor: its own letters
    assert "Rosa Quispe Mamani" in own and "Luis Paredes Soto" in own
    assert "Ana Torres" not in own
    external = "\n".join(pdf_pages(get_pdf("recupera").content))
    assert "Ana Torres Ríos" in external and "Rosa Quispe" not in external
    for username, agency in (("jmamani", "AG01"), ("mflores", "AG02"), ("rquispe", "AG02"),
                             ("gerencia", "AG99")):  # fmt: skip
        response = get_pdf(username, agency)
        assert response.status_code == 404, (username, agency)
        assert response.json() == {"code": "not_found", "message": "no agency with that code"}
    assert get_pdf("jmamani", "AG02").status_code == 200


def test_the_letters_endpoint_needs_its_scope_and_a_valid_date(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    assert get_pdf("gerencia", scopes=["messages:read", "cases:read"]).status_code == 403
    bad = api_as("gerencia", ["letters:read"]).get("/api/v1/letters/?agency=AG01&date=2 nov")
    assert bad.status_code == 400 and bad.json()["field"] == "date"
    none = api_as("gerencia", ["letters:read"]).get("/api/v1/letters/?agency=AG01&date=2026-11-03")
    assert none.status_code == 404
    assert none.json()["message"] == "no printed letters of agency AG01 on 2026-11-03"
    pdf_first = api_as("gerencia", ["letters:read"]).get(
        "/api/v1/letters/?agency=AG01&date=2026-11-02", HTTP_ACCEPT="application/pdf"
    )
    assert pdf_first.status_code == 200 and pdf_first.content.startswith(b"%PDF")


def test_the_letters_endpoint_is_in_the_schema(db):
    schema = WebClient().get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/letters/"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert {"agency", "date"} <= {p["name"] for p in operation["parameters"]}


# --- Delivery --------------------------------------------------------------------------


def signed_in(username: str) -> WebClient:
    web = WebClient()
    web.force_login(person(username))
    return web


def test_marking_a_letter_delivered_turns_its_action_green(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    web = signed_in("rquispe")
    page = web.get("/letters/?date=2026-11-02").content.decode()
    assert "Rosa Quispe Mamani" in page and "Luis Paredes Soto" in page
    assert "Ana Torres" not in page  # the external agency's client
    assert "/api/v1/letters/?agency=AG01&amp;date=2026-11-02" in page
    rosa = letter("C1")
    response = web.post("/letters/delivered/", {"action": rosa.action_id, "next": "/letters/"})
    assert response.status_code == 302 and response["Location"] == "/letters/"
    rosa.refresh_from_db()
    action = PlannedAction.objects.get(pk=rosa.action_id)
    assert (rosa.status, rosa.delivered_by.username) == ("delivered", "rquispe")
    assert (action.status, action.late) == ("done", False)
    lights = {a["channel"]: a["light"] for a in case_actions(case=rosa.case, business_date=MONDAY)}
    assert lights == {"letter": "green"}
    audit = [
        (h.status, h.history_user and h.history_user.username)
        for h in rosa.history.order_by("history_id")
    ]
    assert audit == [("ready", None), ("delivered", "rquispe")]
    web.post("/letters/delivered/", {"action": rosa.action_id})  # twice: nothing more
    assert rosa.history.count() == 2


def test_the_asesor_marks_it_from_the_client_page(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    web = signed_in("rquispe")
    luis = letter("C4")
    page = web.get("/cases/C4/").content.decode()
    assert "Mark the letter delivered" in page and f'value="{luis.action_id}"' in page
    web.post("/letters/delivered/", {"action": luis.action_id, "next": "/cases/C4/"})
    assert PlannedAction.objects.get(pk=luis.action_id).status == "done"
    assert "Mark the letter delivered" not in web.get("/cases/C4/").content.decode()


def test_a_letter_not_printed_yet_cannot_be_delivered(letters):
    rosa = PlannedAction.objects.get(case__client__code="C1", channel="letter")
    response = signed_in("rquispe").post(
        "/letters/delivered/", {"action": rosa.pk, "next": "/cases/C1/"}, follow=True
    )
    assert "this letter has not been printed yet" in response.content.decode()
    assert PlannedAction.objects.get(pk=rosa.pk).status == "queued"


def test_only_whoever_may_see_the_letter_marks_it(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    rosa = letter("C1")
    form = {"action": rosa.action_id}
    assert signed_in("jmamani").post("/letters/delivered/", form).status_code == 404
    zonal = signed_in("mflores").post("/letters/delivered/", form, follow=True)
    assert "only the officer who hands letters over" in zonal.content.decode()
    assert letter("C1").status == "ready"
    letters.payment(1, "CR3", hour=5)
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    blocked = signed_in("recupera").post(
        "/letters/delivered/", {"action": letter("C3").action_id}, follow=True
    )
    assert "this letter was not printed (paid)" in blocked.content.decode()


def test_the_task_fans_out_one_build_per_agency(letters, monkeypatch):
    from notifications.tasks import letters_build_task

    def run_now(*args):
        return letters_build_task.apply(args=args)

    monkeypatch.setattr(letters_build_task, "delay", run_now)
    assert letters_build_task.apply(args=("2026-11-02",)).get() == ["AG01", "AG02"]
    built = dict(LetterBatch.objects.values_list("agency__code", "letters"))
    assert built == {"AG01": 3, "AG02": 1}
    # Beat's run (no date) builds today's only once today's cycle is done: not here.
    assert letters_build_task.apply().get() == []


def test_the_letters_page_costs_the_same_queries_for_one_or_three_letters(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    web = signed_in("jcastro")
    with CaptureQueriesContext(connection) as three:
        assert web.get("/letters/?date=2026-11-02").status_code == 200
    Letter.objects.filter(case__client__code__in=["C3", "C4"]).update(status="delivered")
    Letter.objects.filter(case__client__code="C4").update(status="blocked")
    with CaptureQueriesContext(connection) as one:
        page = web.get("/letters/?date=2026-11-02").content.decode()
    assert page.count("Mark delivered") == 1
    assert len(three) == len(one)


def test_deliveries_and_template_changes_are_in_the_audit_trail(letters):
    letters_build(business_date=MONDAY, at=letters.at(1, 6))
    signed_in("rquispe").post("/letters/delivered/", {"action": letter("C1").action_id})
    web = signed_in("gerencia")
    page = web.get("/audit/")
    assert page.status_code == 200
    csv = b"".join(web.get("/audit/export.csv").streaming_content).decode()
    assert "rquispe" in csv and "delivered" in csv  # who marked it, and the new status
    assert "carta_codigo" in csv  # the templates' versions
