"""The escalation inboxes (DOMAIN.md 4 step 7): each superior sees its subtree only,
in the page and the API; comment, reassign and "handled" are audited; the digest
goes once per date. The default strategy's days (0/3/7)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from collections_field.engine.lights import compute_lights
from collections_field.models import Case, EscalationNote, PlannedAction
from tests.support import api_as, person

from .replay import overdue_row
from .test_plan_lights import recount, summary

VISIBLE = {
    "rquispe": {"C1"},
    "jmamani": {"C2"},
    "recupera": {"C3"},
    "jcastro": {"C1", "C3"},
    "mflores": {"C1", "C3"},
    "gerencia": {"C1", "C2", "C3"},
}
# Days red on the world's date for each level: W+1 → 2, W+4 → 3, W+8 → 4.
DAYS_RED = {2: 1, 3: 4, 4: 8}


@pytest.fixture
def red(world):
    """For each client, one pending red visit at each level on the world's date."""
    day = world.day(1)
    actions = {}
    for case in Case.objects.select_related("client"):
        for level, days in DAYS_RED.items():
            window_to = day - timedelta(days=days)
            actions[(case.client.code, level)] = PlannedAction.objects.create(
                case=case, type=case.management_type, tramo=case.tramo, order=90 + level,
                channel="visit", manual=True, from_day=1, to_day=3,
                window_from=window_to - timedelta(days=2), window_to=window_to,
                planned_on=day, officer=case.officer, status="open",
            )  # fmt: skip
    with transaction.atomic():  # the day's summary counts them, as the cycle would
        compute_lights(business_date=day)
    return actions


def browser(username: str) -> Client:
    client = Client()
    client.force_login(person(username))
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_each_role_sees_only_its_subtree_in_the_api_and_the_page(red, username):
    api = api_as(username, ["cases:read"])
    rows = api.get("/api/v1/escalations/", {"date": "2026-11-02"}).json()["results"]
    assert {r["client_code"] for r in rows} == VISIBLE[username]
    assert sorted(r["level"] for r in rows) == sorted([2, 3, 4] * len(VISIBLE[username]))
    for level, days in DAYS_RED.items():
        rows = api.get("/api/v1/escalations/", {"level": level}).json()["results"]
        assert {r["client_code"] for r in rows} == VISIBLE[username]
        assert {(r["level"], r["days_red"]) for r in rows} == {(level, days)}

    page = browser(username).get("/escalations/", {"level": "all"})
    assert page.status_code == 200
    text = page.content.decode()
    for (client, _level), action in red.items():
        assert (f'id="action-{action.pk}"' in text) == (client in VISIBLE[username]), client


@pytest.mark.django_db(transaction=True)
def test_a_row_carries_the_contract_fields(red):
    api = api_as("gerencia", ["cases:read"])
    rows = api.get("/api/v1/escalations/", {"level": 4, "date": "2026-11-02"}).json()["results"]
    row = next(r for r in rows if r["client_code"] == "C1")
    assert row == {
        "client_code": "C1", "channel": "visit", "window_from": "2026-10-23",
        "window_to": "2026-10-25", "officer_code": "AS001", "agency_code": "AG01",
        "level": 4, "days_red": 8,
    }  # fmt: skip
    # Without cases:read the token is refused; outside the scope a row does not exist.
    assert api_as("gerencia", ["results:read"]).get("/api/v1/escalations/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_default_days_apply_from_the_window_s_end(world):
    """The world's visit (DPD 16–30, W = day 11): red and level 2 from day 12, level 3
    from day 15, level 4 from day 19; never before."""
    visit = PlannedAction.objects.get(case__client__code="C1", channel="visit")
    assert visit.window_to == world.day(11)
    api = api_as("gerencia", ["cases:read"])
    for n, level in ((11, None), (12, 2), (14, 2), (15, 3), (18, 3), (19, 4), (40, 4)):
        rows = api.get("/api/v1/escalations/", {"date": world.day(n).isoformat()}).json()
        levels = [r["level"] for r in rows["results"] if r["client_code"] == "C1"]
        assert levels == ([level] if level else []), n


@pytest.mark.django_db(transaction=True)
def test_comment_reassign_and_handled_are_audited(red):
    jefe = browser("jcastro")
    action = red[("C1", 2)]
    answer = jefe.post(
        "/escalations/?level=2", {"op": "comment", "action": action.pk, "text": "Llamar hoy"}
    )
    assert answer.status_code == 302
    note = EscalationNote.objects.get(kind="comment")
    assert (note.by, note.level, note.text) == (person("jcastro"), 2, "Llamar hoy")
    assert note.history.get().history_user == person("jcastro")

    jefe.post(
        "/escalations/",
        {"op": "reassign", "action": action.pk, "officer_code": "AS900", "text": "Ruta"},
    )
    case = Case.objects.get(client__code="C1")
    assert case.officer.code == "AS900"
    record = case.audit_trail.latest()
    assert (record.history_user, record.history_change_reason) == (person("jcastro"), "Ruta")
    assert set(
        PlannedAction.objects.filter(case=case, status="open").values_list(
            "officer__code", flat=True
        )
    ) == {"AS900"}
    assert case.history.filter(cause="reassign", by=person("jcastro")).exists()
    assert summary(red[("C1", 2)].window_to + timedelta(days=1)) == recount(
        red[("C1", 2)].window_to + timedelta(days=1)
    )  # the officers' counts moved with the case

    jefe.post("/escalations/", {"op": "handle", "action": action.pk})
    action.refresh_from_db()
    assert action.handled_level == 2 and action.handled_by == person("jcastro")
    level_2 = api_as("jcastro", ["cases:read"]).get("/api/v1/escalations/", {"level": 2}).json()
    assert [r["client_code"] for r in level_2["results"]] == ["C3"]  # C1's is handled
    kinds = list(EscalationNote.history.values_list("kind", "history_user__username"))
    assert sorted(kinds) == [
        ("comment", "jcastro"), ("handled", "jcastro"), ("reassign", "jcastro")
    ]  # fmt: skip

    audit = browser("gerencia").get("/audit/", {"model": "collections_field.escalationnote"})
    assert audit.status_code == 200 and "Llamar hoy" in audit.content.decode()

    # Outside the subtree, or not a superior: the same 404.
    other = red[("C2", 2)]
    assert jefe.post("/escalations/", {"op": "handle", "action": other.pk}).status_code == 404
    asesor = browser("rquispe")
    assert asesor.post("/escalations/", {"op": "handle", "action": action.pk}).status_code == 404
    # Reassignment only to an officer of the client's agency.
    jefe.post("/escalations/", {"op": "reassign", "action": red[("C3", 2)].pk,
                                "officer_code": "AS002"})  # fmt: skip
    assert Case.objects.get(client__code="C3").officer.code == "AS900"


@pytest.mark.django_db(transaction=True)
def test_the_digest_goes_once_per_date(red, mailoutbox, settings):
    settings.LANGUAGE_CODE = "es-pe"  # the digest speaks the installation's language
    for username in ("jcastro", "mflores", "gerencia"):
        user = person(username)
        user.email = f"{username}@example.pe"
        user.save()
    call_command("send_escalation_digest", "--date", "2026-11-02")
    sent = {m.to[0]: m for m in mailoutbox}
    assert set(sent) == {"jcastro@example.pe", "mflores@example.pe", "gerencia@example.pe"}
    body = sent["jcastro@example.pe"].body
    assert "C1" in body and "C3" in body and "C2" not in body
    assert "2 acciones" in sent["jcastro@example.pe"].subject  # Spanish first
    assert "C2" in sent["gerencia@example.pe"].body
    call_command("send_escalation_digest", "--date", "2026-11-02")
    assert len(mailoutbox) == 3


@pytest.mark.django_db(transaction=True)
def test_the_case_shows_its_tramo_s_plan_with_dates_and_lights(world):
    detail = api_as("gerencia", ["cases:read"]).get("/api/v1/cases/C1/").json()
    actions = {a["order"]: a for a in detail["actions"]}
    assert sorted(actions) == [1, 2, 3, 4, 5, 6]  # type A, tramo 1 of the default plan
    visit = actions[6]
    assert visit == {
        **visit, "channel": "visit", "manual": True, "window_from": "2026-10-29",
        "window_to": "2026-11-12", "done_at": None, "light": "amber",
    }  # fmt: skip
    # Its window passed before the case opened: never planned, no light.
    assert actions[4]["light"] is None and actions[4]["window_to"] == "2026-10-28"


@pytest.mark.django_db(transaction=True)
def test_the_inbox_page_reads_the_summary_not_the_portfolio(red, django_assert_max_num_queries):
    jefe = browser("jcastro")
    with django_assert_max_num_queries(20):
        page = jefe.get("/escalations/")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert "<script>" not in page.content.decode() and "style=" not in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_pending_actions_follow_a_client_moved_to_another_agency(world):
    """The plan step copies the client's agency onto its actions (the inboxes' index)
    and moves that copy when core banking transfers the client."""
    c1 = Case.objects.get(client__code="C1")
    assert c1.planned_actions.filter(status__in=["queued", "open"]).exists()
    assert set(
        c1.planned_actions.filter(status__in=["queued", "open"]).values_list(
            "agency__code", flat=True
        )
    ) == {"AG01"}
    world.snapshot(
        2,
        [
            overdue_row("C1", "CR1", 21, agency_code="AG02"),
            overdue_row("C2", "CR2", 21, agency_code="AG02", lat="-16.4", lon="-71.54",
                        origin_officer_code="AS002"),
            overdue_row("C3", "CR3", 21, lat="-11.9300", lon="-77.0500", origin_officer_code=""),
        ],
    )  # fmt: skip
    world.cycle(2)
    pending = c1.planned_actions.filter(status__in=["queued", "open"])
    assert pending.exists()
    assert set(pending.values_list("agency__code", flat=True)) == {"AG02"}


@pytest.mark.django_db(transaction=True)
def test_the_scope_decides_even_when_an_actions_agency_copy_is_stale(red):
    """A copy left behind (another agency's) never shows a client outside the scope."""
    from portfolio.models import Agency

    ag01 = Agency.objects.get(code="AG01")
    PlannedAction.objects.filter(case__client__code="C2").update(agency=ag01)
    PlannedAction.objects.filter(case__client__code="C1").update(agency=ag01)
    api = api_as("jcastro", ["cases:read"])
    rows = api.get("/api/v1/escalations/", {"date": "2026-11-02"}).json()["results"]
    assert {r["client_code"] for r in rows} == {"C1", "C3"}
