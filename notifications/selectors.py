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
