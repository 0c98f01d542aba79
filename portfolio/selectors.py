"""Reads of the portfolio, always through the reader's scope (who may see what)."""

import math
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from functools import lru_cache

import holidays
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet, Sum

from portfolio.models import (
    Agency,
    Client,
    CreditPosition,
    NonWorkingDay,
    Officer,
    Quadrant,
    Role,
    SnapshotImport,
)
from portfolio.snapshot import METRES_PER_DEGREE


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The user's role; superusers act as the gerente."""
    if not user.is_authenticated:
        return None
    member = getattr(user, "staff_member", None)
    if member is not None:
        return member.role
    if user.is_superuser:
        return Role.GERENTE
    return None


def agencies_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Agency]:
    role = role_of(user)
    agencies = Agency.objects.all()
    if role in (Role.GERENTE, Role.SERVICIO):
        return agencies
    member = getattr(user, "staff_member", None)
    if role == Role.JEFE_ZONAL and member.zone_id:
        return agencies.filter(zone_id=member.zone_id)
    if role in (Role.JEFE_AGENCIA, Role.ASESOR) and member.agency_id:
        return agencies.filter(pk=member.agency_id)
    return agencies.none()


def clients_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Client]:
    """The one place the role rules for clients live (asesor: own cases only)."""
    role = role_of(user)
    clients = Client.objects.all()
    if role in (Role.GERENTE, Role.SERVICIO):
        return clients
    member = getattr(user, "staff_member", None)
    if role == Role.JEFE_ZONAL:
        return clients.filter(agency__zone_id=member.zone_id)
    if role == Role.JEFE_AGENCIA:
        return clients.filter(agency_id=member.agency_id)
    if role == Role.ASESOR:
        officer = getattr(user, "officer", None)
        return clients.filter(case__officer=officer) if officer else clients.none()
    if role == Role.AGENCIA_EXTERNA:
        return clients.filter(case__external_agency_id=member.external_agency_id)
    return clients.none()


def officers_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Officer]:
    """Whose daily lists the user may read: an asesor only its own, an external
    agency's user its agency's officers, the jefes their agency or zone, the gerente all."""
    role = role_of(user)
    officers = Officer.objects.all()
    if role in (Role.GERENTE, Role.SERVICIO):
        return officers
    member = getattr(user, "staff_member", None)
    if role == Role.JEFE_ZONAL:
        return officers.filter(agency__zone_id=member.zone_id)
    if role == Role.JEFE_AGENCIA:
        return officers.filter(agency_id=member.agency_id)
    if role == Role.ASESOR:
        officer = getattr(user, "officer", None)
        return officers.filter(pk=officer.pk) if officer else officers.none()
    if role == Role.AGENCIA_EXTERNA:  # as its clients: everything of its agency
        return officers.filter(external_agency_id=member.external_agency_id)
    return officers.none()


# Ley 29571 art. 62: no collection visits or calls 20:00-07:00 (Lima), weekends, holidays.
COLLECTION_FROM, COLLECTION_TO = time(7, 0), time(20, 0)


@lru_cache(maxsize=64)
def _national_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("PE", years=year)


def is_collection_day(day: date) -> bool:
    """May collectors visit or call on this day (Ley 29571 art. 62)? Monday to Friday,
    except Peru's national holidays and the lender's own non-working days."""
    if day.weekday() >= 5 or day in _national_holidays(day.year):
        return False
    return not NonWorkingDay.objects.filter(date=day).exists()


def latest_business_date() -> date | None:
    return (
        SnapshotImport.objects.order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )


@dataclass(frozen=True)
class PortfolioSummary:
    business_date: date | None
    clients: int
    credits: int
    delinquent: int
    overdue_amount: Decimal


def portfolio_summary(*, user: AbstractBaseUser) -> PortfolioSummary:
    """Headline figures of the latest snapshot within the user's scope."""
    day = latest_business_date()
    if day is None:
        return PortfolioSummary(None, 0, 0, 0, Decimal("0"))
    positions = CreditPosition.objects.filter(
        business_date=day, client_id__in=clients_visible_to(user).values("pk")
    )
    figures = positions.aggregate(
        clients=Count("client_id", distinct=True),
        credits=Count("credit_id"),
        delinquent=Count("credit_id", filter=Q(days_past_due__gt=0)),
        overdue=Sum("overdue_amount"),
    )
    return PortfolioSummary(
        business_date=day,
        clients=figures["clients"],
        credits=figures["credits"],
        delinquent=figures["delinquent"],
        overdue_amount=figures["overdue"] or Decimal("0"),
    )


def quadrant_at(*, lat: float, lon: float) -> Quadrant | None:
    """The quadrant whose square contains the point (first by code), as the import
    places snapshot rows (DOMAIN.md 7.5)."""
    largest = Quadrant.objects.order_by("-size_m").values_list("size_m", flat=True).first()
    if not largest:
        return None
    reach = largest / 2 / METRES_PER_DEGREE
    candidates = Quadrant.objects.select_related("subzone").filter(
        lat__range=(lat - reach, lat + reach)
    )
    for quadrant in candidates.order_by("code"):
        half = quadrant.size_m / 2
        north_south = abs(lat - quadrant.lat) * METRES_PER_DEGREE
        east_west = (
            abs(lon - quadrant.lon) * METRES_PER_DEGREE * math.cos(math.radians(quadrant.lat))
        )
        if north_south <= half and east_west <= half:
            return quadrant
    return None
