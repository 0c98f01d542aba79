"""Printed letters (DOMAIN.md 3 action plans, 5 "within the law"): one letter per case
for each letter action of the plan, merged into one PDF per agency per business date
for printing, and recorded as done when the asesor hands it over.

Rules decided here:

- **Which letter**: the template named by the AS code's `letter_template` (the code
  the case holds when the batch is built, in the strategy version of that date), else
  the action-plan item's `template`; a name with no letter template written gets a
  plain default letter built from the action (the strategy validator warns).
- **To whom and where**: always the debtor, by its full name, at its collection
  address (dirección de cobranza) when it is one of the client's own addresses with a
  text, else the contract address (the home address core banking sends). Never a
  guarantor's or anyone else's address.
- **The gate**, at the instant of the build, in the outbox's order: the case closed
  (`cured`), a payment registered that Lima day (`paid`), no consent for letters
  (`opt_out`), no address (`no_address`), court wording in the text
  (`court_wording`). A blocked letter is kept with its reason (evidence) and printed
  for nobody. Quiet hours do not apply to printing; the asesor hands letters over on
  the day's visits, so nothing is built on a day without collection visits.
- **Which day**: a letter action is printed in the batch of the first business date
  inside its window on which a batch is built (window_from ≤ D ≤ window_to); it is not
  printed again on later dates.
- **Re-runs**: the batch file of (agency, D) is deleted and built again (pretix's
  generated files); the letters of D not yet delivered are gated and rendered again in
  place (audited), the delivered ones are printed as they were.
- **Delivered**: the asesor marks it (client page or letters list); that records the
  action done through `collections_field`'s `action_mark_done` (green in its window).

The build reads in a fixed number of queries per agency (candidates, strategy rows,
templates, payments, consents, addresses, credits, positions) and writes in bulk; the
PDF is rendered outside any transaction (WeasyPrint, in chunks whose pages are then
merged into one document).
"""

from __future__ import annotations

import time as clock
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from collections_field.engine.escalation import version_on
from collections_field.models import CaseStatus, CycleRun, PlannedAction
from collections_field.services import action_mark_done
from notifications.gate import clients_opted_out, clients_paid
from notifications.models import Letter, LetterBatch, MessageTemplate
from notifications.templating import (
    court_words_in,
    placeholder_values,
    placeholders_in,
    render_html,
    render_text,
)
from portfolio.exceptions import InvalidInput, NotFound, PermissionDenied
from portfolio.models import Address, Agency, Credit, CreditPosition, Role
from portfolio.selectors import clients_visible_to, is_collection_day, role_of
from portfolio.templatetags.money import format_money
from strategy.models import SuggestedAction

LETTER = "letter"
CHUNK = 100  # letters per WeasyPrint document before their pages are merged
# Who hands letters over (and so may mark them delivered).
DELIVERY_ROLES = (Role.ASESOR, Role.AGENCIA_EXTERNA, Role.JEFE_AGENCIA, Role.GERENTE)


def default_letter_body() -> str:
    """The letter of an action whose template is not written yet (DOMAIN.md 7.2)."""
    return _(
        "Dear {{ nombre }}:\n\n"
        "As of {{ fecha }}, your credit at agency {{ agencia }} has an overdue amount of "
        "{{ monto_vencido }}:\n\n"
        "{{ tabla_creditos }}\n\n"
        "Please bring it up to date or talk to your officer {{ asesor }}, who can review "
        "the options with you. If you have already paid, thank you; please disregard this "
        "letter.\n\n"
        "Yours sincerely,"
    )


# --- Rendering -----------------------------------------------------------------------


def _credit_rows(credits: list[Credit], positions: dict[int, CreditPosition]) -> list[dict]:
    rows = []
    for credit in credits:
        position = positions.get(credit.id)
        if position is None:
            continue
        rows.append(
            {
                "code": credit.code,
                "product": credit.product,
                "installments": f"{position.overdue_installments}/{position.total_installments}",
                "days": position.days_past_due,
                "overdue": format_money(position.overdue_amount, credit.currency),
                "balance": format_money(position.principal_balance, credit.currency),
            }
        )
    return rows


def _credits_text(rows: list[dict]) -> str:
    return "\n".join(
        _("%(code)s %(product)s: overdue %(overdue)s (%(installments)s installments)") % r
        for r in rows
    )


def letter_html(
    *, case, action_id: int, day: date, body: str, address: str, credit_rows: list[dict]
) -> tuple[str, str]:
    """(the letter's HTML section, its plain text) for a case (client, agency and
    officer loaded), in the lender's language. The section's anchor names the action
    (`letter-<action id>`): the merged PDF finds where each letter starts by it."""
    with translation.override(settings.SEMAFORO_DISPATCH["LANGUAGE"]):
        values = {
            **placeholder_values(case=case, day=day),
            "direccion_cobranza": address,
            "tabla_creditos": _credits_text(credit_rows),
        }
        table = render_to_string("notifications/letter_credits.html", {"rows": credit_rows})
        text = render_text(body, values)
        if "tabla_creditos" not in placeholders_in(body)[0]:
            # The letter always shows the credits and amounts: where the template puts
            # them, or after its text.
            body = f"{body}\n\n{{{{ tabla_creditos }}}}"
        html = render_to_string(
            "notifications/letter.html",
            {
                "action_id": action_id,
                "ref": f"{case.client.code}-{action_id}",
                "client_name": case.client.name,
                "address": address,
                "body": render_html(body, values, {"tabla_creditos": table}),
                **values,
            },
        )
    return html, text


def _refuse_fetch(url: str, *args, **kwargs):
    # Letters use nothing outside their HTML: no file, no network.
    raise ValueError("letters load no external resources")


def letters_pdf(sections: Iterable[tuple[int, str]]) -> tuple[bytes, dict[int, tuple[int, int]]]:
    """One PDF of letters (action id, HTML section), each starting on a new page.
    Returns the bytes and, per action id, (first page, number of pages). WeasyPrint renders
    `CHUNK` letters per document (its layout grows faster than linearly) and the pages
    are merged into one."""
    import weasyprint

    sections = list(sections)
    css = weasyprint.CSS(string=render_to_string("notifications/letters.css"))
    documents, starts = [], []
    for begin in range(0, len(sections), CHUNK):
        chunk = sections[begin : begin + CHUNK]
        html = render_to_string(
            "notifications/letters_document.html",
            {"sections": [html for _id, html in chunk]},
        )
        document = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch).render(stylesheets=[css])
        documents.append(document)
        starts.append([action_id for action_id, _html in chunk])
    pages, placed = [], {}
    for document, ids in zip(documents, starts, strict=True):
        first = {}
        for number, page in enumerate(document.pages):
            for anchor in page.anchors:
                if anchor.startswith("letter-"):
                    first.setdefault(int(anchor.removeprefix("letter-")), len(pages) + number + 1)
        ends = [*sorted(first.values()), len(pages) + len(document.pages) + 1]
        for action_id in ids:
            start = first[action_id]
            following = next(e for e in ends if e > start)
            placed[action_id] = (start, following - start)
        pages.extend(document.pages)
    if not pages:
        return b"", {}
    return documents[0].copy(pages).write_pdf(), placed


# --- The batch -----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    agency: str
    business_date: date
    letters: int  # printed (ready or delivered) in the batch
    blocked: int
    pages: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.agency} {self.business_date}: {self.letters} letters, {self.pages} pages, "
            f"{self.blocked} blocked"
        )


def _pending_letters(day: date):
    return PlannedAction.objects.filter(
        status=PlannedAction.Status.QUEUED,
        manual=False,
        channel=LETTER,
        window_from__lte=day,
        window_to__gte=day,
    )


def letters_build(
    *,
    business_date: date,
    at: datetime | None = None,
    agency_codes: Iterable[str] | None = None,
    only_missing: bool = False,
) -> list[BatchResult]:
    """Build the day's batch of every agency with letters to print on that date (or of
    the agencies named). Nothing on a day without collection visits. `only_missing`
    skips agencies whose batch of that date exists (beat's repeated morning runs)."""
    return [
        letter_batch_build(agency=agency, business_date=business_date, at=at)
        for agency in letter_agencies_due(
            business_date=business_date, agency_codes=agency_codes, only_missing=only_missing
        )
    ]


def letter_agencies_due(
    *, business_date: date, agency_codes: Iterable[str] | None = None, only_missing: bool = False
) -> list[Agency]:
    """The agencies with letters to print on that date (new letter actions, or letters
    of that date to build again), by code; none on a day without collection visits."""
    if not is_collection_day(business_date):
        return []
    agencies = Agency.objects.filter(
        pk__in=_pending_letters(business_date)
        .filter(letter__isnull=True)
        .values("case__client__agency_id")
    ) | Agency.objects.filter(
        pk__in=Letter.objects.filter(business_date=business_date).values("agency_id")
    )
    if agency_codes is not None:
        agencies = Agency.objects.filter(code__in=list(agency_codes))
    if only_missing:
        agencies = agencies.exclude(
            pk__in=LetterBatch.objects.filter(business_date=business_date).values("agency_id")
        )
    return list(agencies.distinct().order_by("code"))


def letter_batch_build(*, agency: Agency, business_date: date, at: datetime | None = None):
    """The agency's letters of the date: gated and rendered (one transaction), then the
    PDF (no transaction), then the batch file replaced (one transaction)."""
    started = clock.monotonic()
    at = at or timezone.now()
    blocked = _letters_write(agency=agency, day=business_date, at=at)
    printable = list(
        Letter.objects.filter(
            agency=agency,
            business_date=business_date,
            status__in=(Letter.Status.READY, Letter.Status.DELIVERED),
        )
        .order_by("officer__code", "case__client__code", "id")
        .values_list("action_id", "html")
    )
    pdf, placed = letters_pdf(printable)
    pages = sum(count for _first, count in placed.values())
    _batch_replace(
        agency=agency,
        day=business_date,
        pdf=pdf,
        placed=placed,
        pages=pages,
        at=at,
        seconds=clock.monotonic() - started,
    )
    return BatchResult(
        agency=agency.code,
        business_date=business_date,
        letters=len(placed),
        blocked=blocked,
        pages=pages,
        seconds=clock.monotonic() - started,
    )


@transaction.atomic
def _letters_write(*, agency: Agency, day: date, at: datetime) -> int:
    """Gate and render the agency's letters of the day: new letter actions get a
    Letter, the day's undelivered ones are done again in place. Returns how many are
    blocked."""
    Agency.objects.select_for_update().filter(pk=agency.pk).first()  # one build at a time
    related = ("case__client__agency", "case__officer", "case__collection_address")
    fresh = list(
        _pending_letters(day)
        .filter(case__client__agency=agency, letter__isnull=True)
        .select_related(*related)
        .order_by("id")
    )
    again = list(
        Letter.objects.filter(agency=agency, business_date=day)
        .exclude(status=Letter.Status.DELIVERED)
        .select_related(*(f"action__{r}" for r in related), "action")
        .order_by("id")
    )
    actions = fresh + [letter.action for letter in again]
    if not actions:
        return 0
    client_ids = sorted({a.case.client_id for a in actions})
    paid = clients_paid(client_ids, at)
    opted_out = clients_opted_out(client_ids, LETTER)
    homes = {
        a.client_id: a
        for a in Address.objects.filter(
            client_id__in=client_ids, guarantor__isnull=True, kind=Address.Kind.HOME
        )
    }
    credits: dict[int, list[Credit]] = {}
    for credit in Credit.objects.filter(client_id__in=client_ids, left_on__isnull=True).order_by(
        "code"
    ):
        credits.setdefault(credit.client_id, []).append(credit)
    # Positions by their primary key (date, credit): the table has no client index.
    positions = {
        p.credit_id: p
        for p in CreditPosition.objects.filter(
            business_date=day, credit_id__in=[c.id for cs in credits.values() for c in cs]
        )
    }
    version = version_on(day)
    as_templates = {
        (row["type"], row["code"]): row["letter_template"]
        for row in SuggestedAction.objects.filter(version=version)
        .exclude(letter_template__isnull=True)
        .exclude(letter_template="")
        .values("type", "code", "letter_template")
    }
    templates = {
        t.name: t for t in MessageTemplate.objects.filter(channel=MessageTemplate.Channel.LETTER)
    }
    existing = {letter.action_id: letter for letter in again}
    new, changed, blocked = [], [], 0
    for action in actions:
        letter = existing.get(action.pk) or Letter(
            case=action.case, action=action, agency=agency, business_date=day, created_at=at
        )
        _letter_fill(
            letter,
            action=action,
            day=day,
            paid=paid,
            opted_out=opted_out,
            homes=homes,
            credit_rows=_credit_rows(credits.get(action.case.client_id, []), positions),
            as_templates=as_templates,
            templates=templates,
        )
        blocked += letter.status == Letter.Status.BLOCKED
        (changed if letter.pk else new).append(letter)
    fields = ["officer", "template", "address_kind", "address", "html", "status", "gate_reason"]
    if changed:
        bulk_update_with_history(
            changed, Letter, fields, batch_size=500, default_change_reason="rebuilt"
        )
    if new:
        bulk_create_with_history(new, Letter, batch_size=500, default_change_reason="printed")
    return blocked


def _letter_fill(letter: Letter, *, action, day, paid, opted_out, homes, credit_rows,
                 as_templates, templates) -> None:  # fmt: skip
    case = action.case
    letter.officer = case.officer
    name = as_templates.get((case.management_type, case.action_code)) or action.template or ""
    template = templates.get(name)
    letter.template = template.name if template else ""
    body = template.body if template else default_letter_body()
    # Only the client's own addresses: the collection address, else the contract one.
    own = case.collection_address
    home = homes.get(case.client_id)
    if (
        own is not None
        and own.guarantor_id is None
        and own.client_id == case.client_id
        and (own.text or "").strip()
    ):
        letter.address_kind, letter.address = "collection", own.text.strip()
    elif home is not None and (home.text or "").strip():
        letter.address_kind, letter.address = "contract", home.text.strip()
    else:
        letter.address_kind, letter.address = "", ""
    letter.html, text = letter_html(
        case=case,
        day=day,
        body=body,
        address=letter.address,
        credit_rows=credit_rows,
        action_id=action.pk,
    )
    reason = ""
    if action.status != PlannedAction.Status.QUEUED:
        reason = "action_closed"  # re-run: cancelled or done since the first build
    elif case.status == CaseStatus.CLOSED:
        reason = "cured"
    elif case.client_id in paid:
        reason = "paid"
    elif case.client_id in opted_out:
        reason = "opt_out"
    elif not letter.address:
        reason = "no_address"
    elif court_words_in(text):
        reason = "court_wording"
    letter.status = Letter.Status.BLOCKED if reason else Letter.Status.READY
    letter.gate_reason = reason
    if reason:
        letter.html = ""  # never printed


@transaction.atomic
def _batch_replace(*, agency, day, pdf: bytes, placed, pages: int, at, seconds: float) -> None:
    """Delete-then-recreate the (agency, date) file; the letters point at their pages."""
    Agency.objects.select_for_update().filter(pk=agency.pk).first()
    old = LetterBatch.objects.filter(agency=agency, business_date=day).first()
    if old is not None:
        if old.file:
            name, storage = old.file.name, old.file.storage
            transaction.on_commit(lambda: storage.delete(name))
        old.delete()
    batch = LetterBatch(
        agency=agency,
        business_date=day,
        letters=len(placed),
        pages=pages,
        built_at=at,
        seconds=seconds,
    )
    if pdf:
        batch.file.save(f"cartas-{agency.code}-{day.isoformat()}.pdf", ContentFile(pdf), save=False)
    batch.save()
    letters = list(Letter.objects.filter(agency=agency, business_date=day))
    for letter in letters:
        letter.batch = batch if letter.action_id in placed else None
        letter.first_page, letter.pages = placed.get(letter.action_id, (None, 0))
    Letter.objects.bulk_update(letters, ["batch", "first_page", "pages"], batch_size=500)


def letters_date_due(*, at: datetime | None = None) -> date | None:
    """Beat's morning question: today (Lima), once the night's cycle for today
    finished; None while it is not done."""
    day = timezone.localdate(at or timezone.now())
    if not CycleRun.objects.filter(business_date=day, status=CycleRun.Status.DONE).exists():
        return None
    return day


# --- Delivery ------------------------------------------------------------------------


@transaction.atomic
def letter_mark_delivered(*, user: AbstractBaseUser, action_id: int, at: datetime) -> Letter:
    """The asesor handed the letter of this action over: the letter is delivered (who,
    when: audited) and its action done (green inside its window, late after it).
    Twice is harmless. A letter outside the user's scope is not found."""
    if role_of(user) not in DELIVERY_ROLES:
        raise PermissionDenied(_("only the officer who hands letters over marks them delivered"))
    letter = (
        Letter.objects.select_for_update()
        .filter(action_id=action_id, case__client__in=clients_visible_to(user))
        .first()
    )
    if letter is None:
        visible = PlannedAction.objects.filter(
            pk=action_id, channel=LETTER, case__client__in=clients_visible_to(user)
        ).exists()
        if not visible:
            raise NotFound(_("no printed letter for that action"))
        raise InvalidInput(_("this letter has not been printed yet"), "action")
    if letter.status == Letter.Status.DELIVERED:
        return letter
    if letter.status == Letter.Status.BLOCKED:
        raise InvalidInput(
            _("this letter was not printed (%(reason)s): there is nothing to deliver")
            % {"reason": letter.gate_reason},
            "action",
        )
    letter.status = Letter.Status.DELIVERED
    letter.delivered_at = at
    letter.delivered_by = user
    letter._history_user = user
    letter._change_reason = "delivered"
    letter.save(update_fields=["status", "delivered_at", "delivered_by"])
    action_mark_done(action=letter.action, at=at)
    return letter
