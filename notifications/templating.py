"""Message and letter templates: the fixed set of placeholders, the checks a template
must pass when the gerente saves it, and rendering (DOMAIN.md 5 "within the law", 7.2).

A template is Spanish text with placeholders written `{{ name }}`. The set is fixed
and documented (`PLACEHOLDERS`); nothing else is interpreted, so a template can never
run code or reach data it was not given (it is not a Django template).

Refused when saved, each problem named with its field (`template_problems`):

- a placeholder that is unknown, malformed (`{{ nombre|upper }}`, `{nombre}`, a lone
  brace), or for letters only in another channel's template;
- court wording (Ley 29571 art. 62: no document that looks like a court notice): any
  word or phrase of `SEMAFORO_TEMPLATES["COURT_WORDS"]`, whole, in any case, accents
  aside, also with an ending ("embargo" finds "embargos");
- a template that could reach a third party naming the debt: recipients are only the
  debtor and the guarantor, so a template written for anyone else may hold neither
  the amount or credits placeholders nor a word of `SEMAFORO_TEMPLATES["DEBT_WORDS"]`;
- a letter not addressed to the debtor; an e-mail without a subject; a content SID
  (or its variables) on anything but WhatsApp, or not in Twilio's `HX…` shape.

The outbox renders an action's template when one of that name and channel exists
(`message_content`); otherwise it keeps the plain default text and the strategy
validator warns (DOMAIN.md 7.2).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import formats, translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.models import MessageTemplate
from portfolio.exceptions import InvalidInput
from portfolio.templatetags.money import format_money

DEFAULT_TEMPLATES_PATH = Path(__file__).resolve().parent / "data" / "default_templates.yaml"


@dataclass(frozen=True)
class Placeholder:
    description: object  # a lazy translation
    letters_only: bool = False
    names_debt: bool = False


# The documented set (README "Automatic dispatch"). Names are Spanish: the gerente
# writes the templates.
PLACEHOLDERS: dict[str, Placeholder] = {
    "nombre": Placeholder(gettext_lazy("the client's first name")),
    "agencia": Placeholder(gettext_lazy("the agency's name")),
    "monto_vencido": Placeholder(
        gettext_lazy("the overdue amount, as S/ 1,234.56"), names_debt=True
    ),
    "asesor": Placeholder(gettext_lazy("the name of the client's officer")),
    "telefono_agencia": Placeholder(gettext_lazy("the agency's phone")),
    "direccion_agencia": Placeholder(gettext_lazy("the agency's address")),
    "fecha": Placeholder(gettext_lazy("the date of the message or letter")),
    "tabla_creditos": Placeholder(
        gettext_lazy("the table of the client's credits and amounts (letters)"),
        letters_only=True,
        names_debt=True,
    ),
    "direccion_cobranza": Placeholder(
        gettext_lazy("the address the letter is delivered to (letters)"), letters_only=True
    ),
}

# `{{ name }}` with optional spaces; anything else between double braces is malformed.
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
BRACED = re.compile(r"\{\{(.*?)\}\}")
NAME = re.compile(r"^[A-Za-z0-9_]{1,60}$")
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


def _ph(name: str) -> str:
    return "{{ " + name + " }}"


def _plain(text: str) -> str:
    """Lower case without accents, for matching word lists."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=8)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern | None:
    phrases = [r"\s+".join(map(re.escape, _plain(w).split())) for w in words if w.strip()]
    if not phrases:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(phrases) + r")\w*")


def _found(text: str, words: Iterable[str]) -> list[str]:
    pattern = _word_pattern(tuple(words))
    if pattern is None:
        return []
    return list(dict.fromkeys(" ".join(m.group(0).split()) for m in pattern.finditer(_plain(text))))


def court_words_in(text: str) -> list[str]:
    """The court-wording words and phrases the text holds (as found, plain)."""
    return _found(text, settings.SEMAFORO_TEMPLATES["COURT_WORDS"])


def debt_words_in(text: str) -> list[str]:
    return _found(text, settings.SEMAFORO_TEMPLATES["DEBT_WORDS"])


# --- Checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class TemplateRefused(InvalidInput):
    """A template that may not be saved; `problems` name every field and reason."""

    code = "invalid_template"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems), problems[0].field)


def placeholders_in(text: str) -> tuple[list[str], list[str]]:
    """(placeholder names used, malformed pieces) of a text."""
    names, malformed = [], []
    for match in BRACED.finditer(text or ""):
        inner = match.group(1).strip()
        if re.fullmatch(r"[a-z_]+", inner):
            names.append(inner)
        else:
            malformed.append(match.group(0))
    rest = BRACED.sub("", text or "")
    malformed += [brace for brace in "{}" if brace in rest]
    return list(dict.fromkeys(names)), malformed


def _text_problems(field: str, text: str, *, channel: str, recipient: str) -> list[Problem]:
    problems = []
    names, malformed = placeholders_in(text)
    for piece in malformed:
        problems.append(
            Problem(
                field,
                _('malformed placeholder "%(piece)s": write a name between double braces, '
                  "like {{ nombre }}") % {"piece": piece},
            )
        )  # fmt: skip
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        problems.append(
            Problem(
                field,
                _("unknown placeholder %(names)s; the placeholders are %(known)s")
                % {
                    "names": ", ".join(_ph(n) for n in unknown),
                    "known": ", ".join(PLACEHOLDERS),
                },
            )
        )
    if channel != MessageTemplate.Channel.LETTER:
        letters = [n for n in names if n in PLACEHOLDERS and PLACEHOLDERS[n].letters_only]
        if letters:
            problems.append(
                Problem(
                    field,
                    _("%(names)s is for letters only")
                    % {"names": ", ".join(_ph(n) for n in letters)},
                )
            )
    court = court_words_in(text)
    if court:
        problems.append(
            Problem(
                field,
                _('court wording "%(words)s": a template may not look like a court document')
                % {"words": '", "'.join(court)},
            )
        )
    if recipient == MessageTemplate.Recipient.THIRD_PARTY:
        naming = [f'"{w}"' for w in debt_words_in(BRACED.sub(" ", text))]
        naming += [_ph(n) for n in names if n in PLACEHOLDERS and PLACEHOLDERS[n].names_debt]
        if naming:
            problems.append(
                Problem(
                    field,
                    _("written for someone who is neither the debtor nor the guarantor, it may "
                      "not name the debt (%(words)s)") % {"words": ", ".join(naming)},
                )
            )  # fmt: skip
    return problems


def template_problems(
    *,
    name: str,
    channel: str,
    recipient: str,
    body: str,
    subject: str = "",
    content_sid: str = "",
    variables: Iterable[str] = (),
    template_id: int | None = None,
) -> list[Problem]:
    """Every reason the template may not be saved, each naming its field (empty: it may)."""
    problems: list[Problem] = []
    variables = list(variables)
    if not NAME.match(name or ""):
        problems.append(
            Problem("name", _("a name is 1 to 60 letters, digits or _ (as the strategy names it)"))
        )
    elif MessageTemplate.objects.filter(name=name).exclude(pk=template_id).exists():
        problems.append(Problem("name", _("a template named %(name)s exists") % {"name": name}))
    if channel not in MessageTemplate.Channel.values:
        problems.append(
            Problem(
                "channel",
                _("the channel must be one of %(channels)s")
                % {"channels": ", ".join(MessageTemplate.Channel.values)},
            )
        )
    if recipient not in MessageTemplate.Recipient.values:
        problems.append(
            Problem(
                "recipient",
                _("written for must be one of %(values)s")
                % {"values": ", ".join(MessageTemplate.Recipient.values)},
            )
        )
    elif channel == MessageTemplate.Channel.LETTER and recipient != "debtor":
        problems.append(
            Problem("recipient", _("a letter is addressed to the debtor, at its own address"))
        )
    if not (body or "").strip():
        problems.append(Problem("body", _("the text is empty")))
    problems += _text_problems("body", body or "", channel=channel, recipient=recipient)
    if channel == MessageTemplate.Channel.EMAIL and not (subject or "").strip():
        problems.append(Problem("subject", _("an e-mail needs a subject")))
    if subject:
        problems += _text_problems("subject", subject, channel=channel, recipient=recipient)
    if channel != MessageTemplate.Channel.WHATSAPP:
        if content_sid or variables:
            problems.append(
                Problem("content_sid", _("only a WhatsApp template has an approved content SID"))
            )
        return problems
    if content_sid and not CONTENT_SID.match(content_sid):
        problems.append(
            Problem(
                "content_sid",
                _("an approved content SID is HX followed by 32 hexadecimal digits"),
            )
        )
    if variables and not content_sid:
        problems.append(Problem("variables", _("variables belong to an approved content SID")))
    for number, variable in enumerate(variables, start=1):
        placeholder = PLACEHOLDERS.get(variable)
        if placeholder is None or placeholder.letters_only:
            problems.append(
                Problem(
                    "variables",
                    _("variable %(n)s (%(name)s) is not a placeholder of messages")
                    % {"n": number, "name": variable or "—"},
                )
            )
        elif recipient == MessageTemplate.Recipient.THIRD_PARTY and placeholder.names_debt:
            problems.append(
                Problem(
                    "variables",
                    _("variable %(n)s (%(name)s) names the debt to a third party")
                    % {"n": number, "name": variable},
                )
            )
    return problems


# --- Writes --------------------------------------------------------------------------


@transaction.atomic
def template_save(
    *,
    user: AbstractBaseUser | None,
    name: str,
    channel: str,
    recipient: str,
    body: str,
    subject: str = "",
    content_sid: str = "",
    variables: Iterable[str] = (),
    template_id: int | None = None,
    reason: str = "",
) -> MessageTemplate:
    """Create (no `template_id`) or change a template, after every check. Raises
    TemplateRefused naming each problem; nothing is written then. Audited: the
    previous version, who and when stay in the template's history. A template keeps
    its name (the strategy refers to it by that name)."""
    template = None
    if template_id is not None:
        template = MessageTemplate.objects.select_for_update().filter(pk=template_id).first()
        if template is None:
            raise InvalidInput(_("no template with that id"), "template")
        name = template.name
    variables = [v.strip() for v in variables if v and v.strip()]
    body = (body or "").replace("\r\n", "\n").strip()
    subject = (subject or "").strip()
    content_sid = (content_sid or "").strip()
    problems = template_problems(
        name=name,
        channel=channel,
        recipient=recipient,
        body=body,
        subject=subject,
        content_sid=content_sid,
        variables=variables,
        template_id=template_id,
    )
    if problems:
        raise TemplateRefused(problems)
    template = template or MessageTemplate(name=name)
    template.channel = channel
    template.recipient = recipient
    template.body = body
    template.subject = subject
    template.content_sid = content_sid
    template.variables = variables
    template.updated_by = user if user is not None and user.is_authenticated else None
    template._history_user = template.updated_by
    template._change_reason = reason[:100]
    template.save()
    return template


def templates_load_default(*, user: AbstractBaseUser | None = None) -> int:
    """The shipped Spanish templates for the default strategy's names
    (`data/default_templates.yaml`). Only missing names are created: a template the
    gerente edited is never overwritten. Returns how many were created."""
    rows = yaml.safe_load(DEFAULT_TEMPLATES_PATH.read_text(encoding="utf-8"))
    existing = set(MessageTemplate.objects.values_list("name", flat=True))
    created = 0
    for row in rows:
        if row["name"] in existing:
            continue
        template_save(
            user=user,
            name=row["name"],
            channel=row["channel"],
            recipient=row.get("recipient", "debtor"),
            body=row["body"],
            subject=row.get("subject", ""),
            content_sid=row.get("content_sid", ""),
            variables=row.get("variables", []),
            reason="default",
        )
        created += 1
    return created


# --- Rendering -----------------------------------------------------------------------


def first_name(full_name: str) -> str:
    word = (full_name or "").split()[:1]
    if not word:
        return ""
    # Core banking often writes names in capitals: a greeting reads "Rosa", not "ROSA".
    return word[0].capitalize() if word[0].isupper() else word[0]


def long_date(day: date) -> str:
    """The date as the message's language writes it (es: 2 de noviembre de 2026)."""
    return formats.date_format(day, "DATE_FORMAT")


def placeholder_values(*, case, day: date) -> dict[str, str]:
    """The messages' placeholders for a case (its client, agency and officer loaded)."""
    client = case.client
    agency = client.agency
    officer = case.officer
    return {
        "nombre": first_name(client.name),
        "agencia": agency.name if agency else "",
        "monto_vencido": format_money(case.overdue_amount),
        "asesor": officer.name if officer else "",
        "telefono_agencia": agency.phone if agency else "",
        "direccion_agencia": agency.address if agency else "",
        "fecha": long_date(day),
    }


def render_text(text: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text or "")


def render_html(
    text: str, values: Mapping[str, str], blocks: Mapping[str, str] | None = None
) -> str:
    """Paragraphs of escaped text with escaped values; a placeholder in `blocks`
    (the credits table) is inserted as the given HTML, on its own when it stands
    alone in its paragraph."""

    blocks = blocks or {}

    def fill(paragraph: str) -> str:
        def value(match: re.Match) -> str:
            name = match.group(1)
            return blocks[name] if name in blocks else escape(values.get(name, ""))

        return PLACEHOLDER.sub(value, escape(paragraph).replace("\n", "<br>\n"))

    out = []
    for paragraph in re.split(r"\n\s*\n", (text or "").strip()):
        alone = PLACEHOLDER.fullmatch(paragraph.strip())
        if alone and alone.group(1) in blocks:
            out.append(blocks[alone.group(1)])
        elif paragraph.strip():
            out.append(f"<p>{fill(paragraph.strip())}</p>")
    return "\n".join(out)


@dataclass(frozen=True)
class Content:
    template: str
    text: str
    subject: str = ""
    html: str = ""
    content_sid: str = ""
    content_variables: dict | None = None


def templates_by_name(names: Iterable[str]) -> dict[str, MessageTemplate]:
    wanted = {n for n in names if n}
    if not wanted:
        return {}
    return {t.name: t for t in MessageTemplate.objects.filter(name__in=wanted)}


def message_content(
    *, action, day: date, templates: Mapping[str, MessageTemplate]
) -> Content | None:
    """The action's message from its template (in the lender's language for dates),
    or None when no template of that name and channel is written (the caller keeps
    the plain default text)."""
    template = templates.get(action.template or "")
    if template is None or template.channel != action.channel:
        return None
    from django.template.loader import render_to_string

    with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
        values = placeholder_values(case=action.case, day=day)
        text = render_text(template.body, values)
        subject = html = ""
        if template.channel == MessageTemplate.Channel.EMAIL:
            subject = render_text(template.subject, values)
            html = render_to_string(
                "notifications/email.html",
                {"subject": subject, "body": render_html(template.body, values), **values},
            )
    variables = None
    if template.content_sid:
        variables = {str(n): values.get(v, "") for n, v in enumerate(template.variables, 1)}
    return Content(
        template=template.name,
        text=text,
        subject=subject,
        html=html,
        content_sid=template.content_sid,
        content_variables=variables,
    )
