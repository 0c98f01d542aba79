"""Reads of the commissions, scoped by role: an asesor its own statement, a jefe de
agencia its agency's (its asesores' and its own), a jefe zonal its zone's, an
external agency's user its agency's, the gerente everything. Outside: a 404."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from commissions.models import CommissionLine, CommissionMonth, CommissionStatement
from portfolio.exceptions import InvalidInput, NotFound
from portfolio.models import Role
from portfolio.selectors import role_of

Kind = CommissionStatement.Kind


def statements_visible_to(user: AbstractBaseUser) -> QuerySet[CommissionStatement]:
    role = role_of(user)
    statements = CommissionStatement.objects.all()
    if role in (Role.GERENTE, Role.SERVICIO):
        return statements
    member = getattr(user, "staff_member", None)
    if role == Role.JEFE_ZONAL and member and member.zone_id:
        return statements.filter(
            kind__in=(Kind.OFFICER, Kind.AGENCY), agency__zone_id=member.zone_id
        )
    if role == Role.JEFE_AGENCIA and member and member.agency_id:
        return statements.filter(kind__in=(Kind.OFFICER, Kind.AGENCY), agency_id=member.agency_id)
    if role == Role.ASESOR:
        officer = getattr(user, "officer", None)
        if officer is not None:
            return statements.filter(kind=Kind.OFFICER, officer=officer)
    if role == Role.AGENCIA_EXTERNA and member and member.external_agency_id:
        return statements.filter(kind=Kind.EXTERNAL, external_agency_id=member.external_agency_id)
    return statements.none()


def commission_month(month: date) -> CommissionMonth | None:
    return CommissionMonth.objects.filter(month=month).first()


def month_statements(*, user: AbstractBaseUser, month: date) -> QuerySet[CommissionStatement]:
    return (
        statements_visible_to(user)
        .filter(month__month=month)
        .select_related("month", "officer", "agency", "external_agency")
        .order_by("kind", "agency__code", "officer__code", "external_agency__code")
    )


def own_statement_key(user: AbstractBaseUser) -> dict[str, str]:
    """The statement a reader means when it names none."""
    role = role_of(user)
    member = getattr(user, "staff_member", None)
    if role == Role.ASESOR and getattr(user, "officer", None):
        return {"officer": user.officer.code}
    if role == Role.AGENCIA_EXTERNA and member and member.external_agency_id:
        return {"external_agency": member.external_agency.code}
    if role == Role.JEFE_AGENCIA and member and member.agency_id:
        return {"agency": member.agency.code}
    return {}


def statement_for(
    *,
    user: AbstractBaseUser,
    month: date,
    officer: str | None = None,
    agency: str | None = None,
    external_agency: str | None = None,
) -> CommissionStatement:
    """One statement by its beneficiary's code, within the reader's scope."""
    given = {k: v for k, v in (("officer", officer), ("agency", agency),
                               ("external_agency", external_agency)) if v}  # fmt: skip
    if not given:
        given = own_statement_key(user)
    if len(given) != 1:
        raise InvalidInput(
            _("name one of officer, agency or external_agency"),
            next(iter(given), "officer") if len(given) > 1 else "officer",
        )
    ((which, code),) = given.items()
    condition = {
        "officer": Q(kind=Kind.OFFICER, officer__code=code),
        "agency": Q(kind=Kind.AGENCY, agency__code=code),
        "external_agency": Q(kind=Kind.EXTERNAL, external_agency__code=code),
    }[which]
    found = month_statements(user=user, month=month).filter(condition).first()
    if found is None:
        if commission_month(month) is None:
            raise NotFound(
                _("the commissions of %(month)s have not been computed")
                % {"month": f"{month:%Y-%m}"}
            )
        raise NotFound(_("no such commission statement in your scope"))
    return found


def statement_lines(statement: CommissionStatement) -> QuerySet[CommissionLine]:
    """Its own lines, and for an agency's statement its asesores' lines too."""
    return CommissionLine.objects.filter(
        Q(statement=statement) | Q(agency_statement=statement)
    ).order_by("kind", "date", "id")


def statement_code(statement: CommissionStatement) -> str:
    if statement.kind == Kind.OFFICER:
        return statement.officer.code
    if statement.kind == Kind.AGENCY:
        return statement.agency.code
    return statement.external_agency.code


def statement_name(statement: CommissionStatement) -> str:
    if statement.kind == Kind.OFFICER:
        return statement.officer.name
    if statement.kind == Kind.AGENCY:
        return statement.agency.name
    return statement.external_agency.name
