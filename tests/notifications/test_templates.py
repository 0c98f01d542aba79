"""Message and letter templates: refused when saved if they look like a court document,
use an unknown or malformed placeholder, or could name the debt to a third party;
edited by the gerente (audited); rendered by the outbox, else the plain default text
and the strategy validator's warning (DOMAIN.md 5, 7.2)."""

import pytest
from django.test import Client as WebClient

from notifications.models import MessageTemplate, OutgoingMessage
from notifications.services import dispatch
from notifications.templating import (
    PLACEHOLDERS,
    TemplateRefused,
    court_words_in,
    template_save,
    templates_load_default,
)
from strategy.services import strategy_load_default
from tests.support import person

SID = "HX" + "0123456789abcdef" * 2


def save(**values):
    defaults = {"user": None, "name": "t1", "channel": "sms", "recipient": "debtor"}
    return template_save(**{**defaults, **values})


def refusal(**values) -> list[tuple[str, str]]:
    with pytest.raises(TemplateRefused) as caught:
        save(**values)
    assert not MessageTemplate.objects.exists()  # nothing written
    return [(p.field, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("Le enviaremos una notificación judicial, {{ nombre }}.", "notificacion judicial"),
        ("EMBARGOS de sus bienes si no paga", "embargos"),
        ("Evite una orden   de captura", "orden de captura"),
        ("Iniciaremos la Cobranza Coactiva", "cobranza coactiva"),
        ("Su caso pasa al juzgado de paz", "juzgado"),
        ("Presentaremos una demanda", "demanda"),
    ],
)
def test_court_wording_is_refused_naming_the_word(db, body, word):
    problems = refusal(body=body)
    assert problems == [
        ("body", f'court wording "{word}": a template may not look like a court document')
    ]


def test_court_wording_in_an_e_mails_subject_is_refused_too(db):
    problems = refusal(channel="email", subject="Aviso de embargo", body="Hola {{ nombre }}")
    assert [field for field, _m in problems] == ["subject"]
    assert "embargo" in problems[0][1]


def test_the_court_word_list_is_a_setting(db, settings):
    settings.SEMAFORO_TEMPLATES = {**settings.SEMAFORO_TEMPLATES, "COURT_WORDS": ["ultimátum"]}
    assert court_words_in("Último aviso: ULTIMATUM") == ["ultimatum"]
    assert court_words_in("embargo") == []
    assert save(body="Un embargo de palabras").pk  # no longer on the list


def test_unknown_and_malformed_placeholders_are_refused(db):
    problems = refusal(body="Hola {{ apellido }}, {{ nombre|upper }}, {nombre} {{ }}")
    messages = [m for _f, m in problems]
    assert messages[0] == (
        'malformed placeholder "{{ nombre|upper }}": write a name between double braces, '
        "like {{ nombre }}"
    )
    assert messages[1].startswith('malformed placeholder "{{ }}"')
    assert messages[2].startswith('malformed placeholder "{"')
    assert messages[-1] == (
        "unknown placeholder {{ apellido }}; the placeholders are " + ", ".join(PLACEHOLDERS)
    )
    assert {f for f, _m in problems} == {"body"}


def test_letter_placeholders_only_in_letters(db):
    assert refusal(body="{{ tabla_creditos }}") == [
        ("body", "{{ tabla_creditos }} is for letters only")
    ]
    letter = save(name="carta", channel="letter", body="{{ nombre }}: {{ tabla_creditos }}")
    assert letter.channel == "letter"


def test_a_template_for_a_third_party_may_not_name_the_debt(db):
    problems = refusal(
        recipient="third_party",
        body="Dígale a {{ nombre }} que pague su deuda de {{ monto_vencido }}",
    )
    assert problems == [
        (
            "body",
            "written for someone who is neither the debtor nor the guarantor, it may not "
            'name the debt ("deuda", {{ monto_vencido }})',
        )
    ]
    neutral = save(
        recipient="third_party",
        body="Buenos días. Por favor, pida a {{ nombre }} llamar a la agencia {{ agencia }}.",
    )
    assert neutral.recipient == "third_party"
    # The guarantor may be told about the debt it guarantees.
    assert save(name="t2", recipient="guarantor", body="Su garantizado debe {{ monto_vencido }}")


def test_letters_are_addressed_to_the_debtor(db):
    assert refusal(channel="letter", recipient="guarantor", body="Estimado aval") == [
        ("recipient", "a letter is addressed to the debtor, at its own address")
    ]


def test_channel_specific_fields(db):
    assert refusal(channel="email", body="Hola") == [("subject", "an e-mail needs a subject")]
    assert refusal(content_sid=SID, body="Hola") == [
        ("content_sid", "only a WhatsApp template has an approved content SID")
    ]
    assert refusal(channel="whatsapp", content_sid="HX123", body="Hola") == [
        ("content_sid", "an approved content SID is HX followed by 32 hexadecimal digits")
    ]
    whatsapp = {"channel": "whatsapp", "content_sid": SID, "body": "Hola"}
    assert refusal(**whatsapp, variables=["nombre", "apodo"]) == [
        ("variables", "variable 2 (apodo) is not a placeholder of messages")
    ]
    ok = save(**whatsapp, variables=["nombre", "monto_vencido"])
    assert ok.variables == ["nombre", "monto_vencido"]


def test_names_are_unique_and_kept(db):
    first = save(body="Uno")
    assert refusal_after(first) == [("name", "a template named t1 exists")]
    edited = template_save(
        user=None, template_id=first.pk, name="other", channel="sms", recipient="debtor",
        body="Dos",
    )  # fmt: skip
    assert (edited.name, edited.body) == ("t1", "Dos")  # renaming would lose the strategy's link


def refusal_after(existing) -> list[tuple[str, str]]:
    with pytest.raises(TemplateRefused) as caught:
        save(body="Otra")
    return [(p.field, p.message) for p in caught.value.problems]


def test_the_shipped_templates_pass_every_check_and_keep_edits(db):
    assert templates_load_default() == 14
    assert templates_load_default() == 0
    names = set(MessageTemplate.objects.values_list("name", flat=True))
    assert {"recordatorio_1", "recordatorio_2", "carta_T23", "carta_T24", "carta_T44"} <= names
    sms = MessageTemplate.objects.get(name="recordatorio_1")
    template_save(
        user=None, template_id=sms.pk, name=sms.name, channel="sms", recipient="debtor",
        body="Hola {{ nombre }}",
    )  # fmt: skip
    MessageTemplate.objects.filter(name="carta_T44").delete()
    assert templates_load_default() == 1
    assert MessageTemplate.objects.get(name="recordatorio_1").body == "Hola {{ nombre }}"


def test_the_shipped_templates_cover_the_default_strategy(db):
    strategy_load_default()
    templates_load_default()
    warnings = strategy_load_default().warnings  # computed on every publish
    assert warnings == []


# --- The gerente's page --------------------------------------------------------------


def signed_in(username: str) -> WebClient:
    web = WebClient()
    web.force_login(person(username))
    return web


def test_the_gerente_edits_templates_in_a_page_and_each_version_is_kept(organisation):
    web = signed_in("gerencia")
    form = {"name": "aviso_x", "channel": "sms", "recipient": "debtor",
            "body": "Hola {{ nombre }}, agencia {{ agencia }}", "reason": "nuevo"}  # fmt: skip
    response = web.post("/templates/new/", form)
    assert response.status_code == 302 and response["Location"] == "/templates/"
    template = MessageTemplate.objects.get(name="aviso_x")
    shorter = {**form, "body": "Hola {{ nombre }}", "reason": "corto"}
    response = web.post("/templates/aviso_x/", shorter)
    assert response.status_code == 302
    versions = list(template.history.order_by("history_date", "history_id"))
    assert [(v.body, v.history_user.username, v.history_change_reason) for v in versions] == [
        ("Hola {{ nombre }}, agencia {{ agencia }}", "gerencia", "nuevo"),
        ("Hola {{ nombre }}", "gerencia", "corto"),
    ]
    page = web.get("/templates/").content.decode()
    assert "aviso_x" in page and "{{ monto_vencido }}" in page  # the placeholders legend


def test_a_refused_template_shows_the_problem_under_its_field(organisation):
    web = signed_in("gerencia")
    form = {"name": "aviso_y", "channel": "sms", "recipient": "debtor",
            "body": "Evite el embargo, {{ cliente }}"}  # fmt: skip
    response = web.post("/templates/new/", form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "court wording &quot;embargo&quot;" in page
    assert "unknown placeholder {{ cliente }}" in page
    assert not MessageTemplate.objects.exists()


@pytest.mark.parametrize("username", ["rquispe", "jcastro", "mflores"])
def test_only_the_gerente_sees_the_templates(organisation, username):
    web = signed_in(username)
    assert web.get("/templates/").status_code == 404
    assert web.post("/templates/new/", {"name": "x", "body": "y"}).status_code == 404


# --- The outbox renders them ---------------------------------------------------------


def test_the_outbox_renders_the_actions_template(replay, recording_gateway):
    save(
        name="recordatorio_1",
        body="{{ nombre }}: {{ agencia }} le recuerda {{ monto_vencido }} al {{ fecha }}.",
    )
    dispatch(at=replay.at(1, 10))
    row = OutgoingMessage.objects.get(case__client__code="C1")
    assert row.text == "Rosa: Comas le recuerda S/ 150.00 al Nov. 2, 2026."
    assert row.template == "recordatorio_1"
    assert [m.text for m in recording_gateway.sent if m.to == "+51987654321"] == [row.text]


def test_the_outbox_writes_dates_in_the_lenders_language(replay, settings):
    settings.SEMAFORO_DISPATCH = {**settings.SEMAFORO_DISPATCH, "LANGUAGE": "es-pe"}
    save(name="recordatorio_1", body="Al {{ fecha }}")
    dispatch(at=replay.at(1, 10))
    assert OutgoingMessage.objects.get(case__client__code="C1").text == "Al 2 de noviembre de 2026"


def test_without_its_template_an_action_gets_the_default_text_and_a_warning(replay):
    # Written, but for another channel: the SMS keeps the plain default text.
    save(name="recordatorio_1", channel="email", subject="Aviso", body="Hola")
    published = strategy_load_default()
    assert any(
        w == "templates: recordatorio_1 is written for email but sent by sms; that action "
        "gets a plain default text"
        for w in published.warnings
    )
    assert any(w.startswith("templates: none written yet for ") for w in published.warnings)
    dispatch(at=replay.at(1, 10))
    text = OutgoingMessage.objects.get(case__client__code="C1").text
    assert text.startswith("Rosa, your credit at agency Comas has an overdue balance")


def test_a_message_whose_text_holds_court_wording_is_blocked(replay, settings, recording_gateway):
    save(name="recordatorio_1", body="Hola {{ nombre }}, último requerimiento")
    settings.SEMAFORO_TEMPLATES = {**settings.SEMAFORO_TEMPLATES, "COURT_WORDS": ["requerimiento"]}
    dispatch(at=replay.at(1, 10))
    row = OutgoingMessage.objects.get(case__client__code="C1")
    assert (row.status, row.gate, row.gate_reason) == ("blocked", "blocked", "court_wording")
    assert "+51987654321" not in [m.to for m in recording_gateway.sent]
