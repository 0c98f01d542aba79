"""Reads of the outbox, always through the reader's scope (portfolio's selectors)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from notifications.models import MessageEvent, OutgoingMessage
from portfolio.exceptions import NotFound
from portfolio.selectors import clients_visible_to


def messages_for(*, user: AbstractBaseUser, client_code: str) -> QuerySet[OutgoingMessage]:
    """A client's outgoing messages with every status change, oldest first. A client
    outside the reader's scope is not found (the two are not told apart)."""
    client_id = (
        clients_visible_to(user).filter(code=client_code).values_list("pk", flat=True).first()
    )
    if client_id is None:
        raise NotFound(_("no client with that code"))
    return (
        OutgoingMessage.objects.filter(case__client_id=client_id)
        .prefetch_related(Prefetch("events", queryset=MessageEvent.objects.order_by("at", "id")))
        .order_by("created_at", "id")
    )


# --- msgs: templates and letters -------------------------------------------------------


def template_channels() -> dict[str, str]:
    """Written templates, name → channel (the strategy validator's warnings)."""
    from notifications.models import MessageTemplate

    return dict(MessageTemplate.objects.values_list("name", "channel"))


def templates_for(*, user: AbstractBaseUser):
    """The templates, for the gerente (the risk manager edits them); anyone else is
    told there is nothing here, as for any page outside one's role."""
    from notifications.models import MessageTemplate
    from portfolio.models import Role
    from portfolio.selectors import role_of

    if role_of(user) != Role.GERENTE:
        raise NotFound(_("no templates for this user"))
    return MessageTemplate.objects.select_related("updated_by").order_by("channel", "name")


def letters_for(*, user: AbstractBaseUser, agency_code: str, business_date):
    """(agency, its batch of the date or None, the letters of that batch the user may
    see). An agency outside the scope, in which the user sees no letter either, is
    not found (the same answer as a missing one)."""
    from notifications.models import Letter, LetterBatch
    from portfolio.models import Agency
    from portfolio.selectors import agencies_visible_to

    agency = Agency.objects.filter(code=agency_code).first()
    letters = Letter.objects.none()
    if agency is not None:
        letters = Letter.objects.filter(
            agency=agency,
            business_date=business_date,
            case__client__in=clients_visible_to(user),
        )
    if agency is None or (
        not agencies_visible_to(user).filter(pk=agency.pk).exists() and not letters.exists()
    ):
        raise NotFound(_("no agency with that code"))
    batch = LetterBatch.objects.filter(agency=agency, business_date=business_date).first()
    rows = list(
        letters.select_related("case__client", "officer", "delivered_by", "action").order_by(
            "first_page", "officer__code", "case__client__code", "id"
        )
    )
    return agency, batch, rows


def letters_pdf_for(*, user: AbstractBaseUser, agency_code: str, business_date) -> bytes:
    """The agency's printable letters of the date as one PDF: the batch file when the
    user may see every letter in it (a jefe, the gerente), else the user's own letters
    rendered again from the same HTML (an asesor, an external agency)."""
    from notifications.letters import letters_pdf
    from notifications.models import Letter

    agency, batch, letters = letters_for(
        user=user, agency_code=agency_code, business_date=business_date
    )
    printable = [
        letter
        for letter in letters
        if batch is not None
        and letter.batch_id == batch.pk
        and letter.status in (Letter.Status.READY, Letter.Status.DELIVERED)
    ]
    if not printable or not batch.file:
        raise NotFound(
            _("no printed letters of agency %(agency)s on %(date)s")
            % {"agency": agency.code, "date": business_date.isoformat()}
        )
    if len(printable) == batch.letters:
        with batch.file.open("rb") as pdf:
            return pdf.read()
    ordered = sorted(printable, key=lambda letter: letter.first_page or 0)
    return letters_pdf((letter.action_id, letter.html) for letter in ordered)[0]
