"""Writes to the portfolio: the organisation file, the nightly snapshot, roles."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portfolio.exceptions import InvalidInput, NotFound, OrganisationError
from portfolio.models import (
    Address,
    Agency,
    ApiToken,
    ChannelConsent,
    Client,
    Credit,
    ExternalAgency,
    Officer,
    Payment,
    Quadrant,
    Role,
    StaffMember,
    Subzone,
    Zone,
)
from portfolio.selectors import quadrant_at
from portfolio.snapshot import SnapshotResult, import_snapshot_file

# The apps whose models the gerente edits in the admin (the risk manager's fallback editor).
MANAGED_APPS = ("portfolio", "strategy", "collections_field", "notifications", "commissions")


def snapshot_import(
    *,
    source: Path | str | BinaryIO,
    business_date: date,
    user: AbstractBaseUser | None = None,
    file_name: str = "",
) -> SnapshotResult:
    """Load core banking's position at the start of `business_date` (DOMAIN.md 7.1).

    Idempotent per date: the same file twice changes nothing; a bad row loads nothing.
    """
    return import_snapshot_file(
        source=source, business_date=business_date, user=user, file_name=file_name
    )


# --- Roles --------------------------------------------------------------------------


def roles_ensure() -> dict[str, Group]:
    """One group per role; the gerente's group may edit every model in the admin."""
    groups = {role.value: Group.objects.get_or_create(name=role.value)[0] for role in Role}
    perms = Permission.objects.filter(content_type__app_label__in=MANAGED_APPS)
    groups[Role.GERENTE].permissions.set(perms)
    return groups


def staff_member_set_role(
    *,
    user: AbstractBaseUser,
    role: str,
    agency: Agency | None = None,
    zone: Zone | None = None,
    external_agency: ExternalAgency | None = None,
) -> StaffMember:
    groups = roles_ensure()
    member, _created = StaffMember.objects.update_or_create(
        user=user,
        defaults={"role": role, "agency": agency, "zone": zone, "external_agency": external_agency},
    )
    user.groups.remove(*[g for name, g in groups.items() if name != role])
    user.groups.add(groups[role])
    is_staff = role == Role.GERENTE
    if user.is_staff != is_staff and not user.is_superuser:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    return member


def _user_for(username: str, name: str = "") -> AbstractBaseUser:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        first, _sep, last = name.partition(" ")
        user.first_name, user.last_name = first[:150], last[:150]
        user.set_unusable_password()
        user.save()
    return user


# --- Organisation file (DOMAIN.md 7.5) ----------------------------------------------

SECTIONS = {
    "zones": ("code", "name"),
    "agencies": ("code", "name", "zone"),
    "subzones": ("code", "agency", "name"),
    "quadrants": ("code", "subzone", "lat", "lon"),
    "external_agencies": ("code", "name"),
    "officers": ("code", "name", "agency"),
    "people": ("username", "role"),
}
PEOPLE_ROLES = {Role.JEFE_AGENCIA, Role.JEFE_ZONAL, Role.GERENTE, Role.AGENCIA_EXTERNA}


@dataclass
class OrganisationResult:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)


@transaction.atomic
def organisation_load(*, document: str | dict[str, Any]) -> OrganisationResult:
    """Create or update (by code) zones, agencies, subzones, quadrants, officers,
    external agencies and people. Nothing is deleted by omission."""
    data = yaml.safe_load(document) if isinstance(document, str) else document
    if not isinstance(data, dict):
        raise OrganisationError([_("the organisation file must be a mapping of sections")])
    _check_shape(data)
    result = OrganisationResult()
    errors: list[str] = []

    def count(section: str, created: bool) -> None:
        bucket = result.created if created else result.updated
        bucket[section] = bucket.get(section, 0) + 1

    zones = {z.code: z for z in Zone.objects.all()}
    for row in data.get("zones") or []:
        zone, created = Zone.objects.update_or_create(
            code=str(row["code"]), defaults={"name": row["name"]}
        )
        zones[zone.code] = zone
        count("zones", created)

    agencies = {a.code: a for a in Agency.objects.all()}
    for i, row in enumerate(data.get("agencies") or []):
        zone = zones.get(str(row["zone"]))
        if zone is None:
            errors.append(_ref_error("agencies", i, row, "zone"))
            continue
        agency, created = Agency.objects.update_or_create(
            code=str(row["code"]),
            defaults={
                "name": row["name"],
                "zone": zone,
                "lat": row.get("lat"),
                "lon": row.get("lon"),
                # Optional (messages and letters name them); absent keeps what it had.
                **{k: str(row[k]) for k in ("phone", "address") if row.get(k) is not None},
            },
        )
        agencies[agency.code] = agency
        count("agencies", created)

    subzones = {s.code: s for s in Subzone.objects.all()}
    for i, row in enumerate(data.get("subzones") or []):
        agency = agencies.get(str(row["agency"]))
        if agency is None:
            errors.append(_ref_error("subzones", i, row, "agency"))
            continue
        subzone, created = Subzone.objects.update_or_create(
            code=str(row["code"]), defaults={"agency": agency, "name": row["name"]}
        )
        subzones[subzone.code] = subzone
        count("subzones", created)

    _load_quadrants(data.get("quadrants") or [], subzones, errors, result)

    externals = {e.code: e for e in ExternalAgency.objects.all()}
    for row in data.get("external_agencies") or []:
        external, created = ExternalAgency.objects.update_or_create(
            code=str(row["code"]), defaults={"name": row["name"]}
        )
        externals[external.code] = external
        count("external_agencies", created)

    for i, row in enumerate(data.get("officers") or []):
        agency = agencies.get(str(row["agency"]))
        external_code = row.get("external_agency")
        external = externals.get(str(external_code)) if external_code else None
        if agency is None:
            errors.append(_ref_error("officers", i, row, "agency"))
            continue
        if external_code and external is None:
            errors.append(_ref_error("officers", i, row, "external_agency"))
            continue
        missing = [s for s in row.get("subzones") or [] if str(s) not in subzones]
        if missing:
            errors.append(
                _("officers[%(i)s] (code %(code)s): unknown subzone(s) %(codes)s")
                % {"i": i, "code": row["code"], "codes": ", ".join(map(str, missing))}
            )
            continue
        tramos = row.get("tramos") or []
        if not all(isinstance(t, int) and t > 0 for t in tramos):
            errors.append(
                _("officers[%(i)s] (code %(code)s): tramos must be a list of tramo numbers")
                % {"i": i, "code": row["code"]}
            )
            continue
        user = _user_for(str(row["username"]), row["name"]) if row.get("username") else None
        officer, created = Officer.objects.update_or_create(
            code=str(row["code"]),
            defaults={
                "name": row["name"],
                "agency": agency,
                "external_agency": external,
                "tramos": tramos,
                "active": row.get("active", True),
                **({"user": user} if user else {}),
            },
        )
        officer.subzones.set([subzones[str(s)] for s in row.get("subzones") or []])
        if user is not None:
            role = Role.AGENCIA_EXTERNA if external else Role.ASESOR
            staff_member_set_role(user=user, role=role, agency=agency, external_agency=external)
        count("officers", created)

    # The part of the organisation a role is scoped to: (key, known codes).
    scoped_by = {
        Role.JEFE_AGENCIA: ("agency", agencies),
        Role.JEFE_ZONAL: ("zone", zones),
        Role.AGENCIA_EXTERNA: ("external_agency", externals),
    }
    for i, row in enumerate(data.get("people") or []):
        role = str(row["role"])
        if role not in PEOPLE_ROLES:
            errors.append(
                _("people[%(i)s] (username %(u)s): role %(role)s is not one of %(roles)s")
                % {
                    "i": i,
                    "u": row["username"],
                    "role": role,
                    "roles": ", ".join(sorted(PEOPLE_ROLES)),
                }
            )
            continue
        scope: dict[str, Any] = {}
        if role in scoped_by:
            key, known = scoped_by[role]
            scope[key] = known.get(str(row.get(key)))
            if scope[key] is None:
                errors.append(_ref_error("people", i, row, key, key="username"))
                continue
        user = _user_for(str(row["username"]), row.get("name", ""))
        existed = StaffMember.objects.filter(user=user).exists()
        staff_member_set_role(user=user, role=role, **scope)
        count("people", not existed)

    if errors:
        raise OrganisationError(errors)
    return result


def _load_quadrants(rows, subzones, errors, result) -> None:
    """Quadrants can number tens of thousands: bulk insert the new, bulk update the rest."""
    existing = {q.code: q for q in Quadrant.objects.all()}
    new, changed = [], []
    for i, row in enumerate(rows):
        subzone = subzones.get(str(row["subzone"]))
        if subzone is None:
            errors.append(_ref_error("quadrants", i, row, "subzone"))
            continue
        values = {
            "subzone": subzone,
            "lat": float(row["lat"]),
            "lon": float(row["lon"]),
            "size_m": int(row.get("size_m") or 200),
        }
        quadrant = existing.get(str(row["code"]))
        if quadrant is None:
            new.append(Quadrant(code=str(row["code"]), **values))
        elif any(getattr(quadrant, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(quadrant, k, v)
            changed.append(quadrant)
    Quadrant.objects.bulk_create(new, batch_size=2000)
    Quadrant.objects.bulk_update(changed, ["subzone", "lat", "lon", "size_m"], batch_size=2000)
    if new:
        result.created["quadrants"] = len(new)
    if changed:
        result.updated["quadrants"] = len(changed)


def _check_shape(data: dict[str, Any]) -> None:
    errors = []
    for section in data:
        if section not in SECTIONS:
            errors.append(_("%(section)s: unknown section") % {"section": section})
    for section, required in SECTIONS.items():
        rows = data.get(section) or []
        if not isinstance(rows, list):
            errors.append(_("%(section)s: must be a list") % {"section": section})
            continue
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                errors.append(
                    _("%(section)s[%(i)s]: must be a mapping") % {"section": section, "i": i}
                )
                continue
            for key in required:
                if row.get(key) in (None, ""):
                    errors.append(
                        _("%(section)s[%(i)s]: %(key)s is required")
                        % {"section": section, "i": i, "key": key}
                    )
            if section == "quadrants":
                for key in ("lat", "lon", "size_m"):
                    value = row.get(key)
                    if value is not None and not isinstance(value, (int, float)):
                        errors.append(
                            _("%(section)s[%(i)s]: %(key)s must be a number")
                            % {"section": section, "i": i, "key": key}
                        )
    if errors:
        raise OrganisationError(errors)


def _ref_error(section: str, i: int, row: dict, ref: str, key: str = "code") -> str:
    return _("%(section)s[%(i)s] (%(key)s %(code)s): unknown %(ref)s %(value)s") % {
        "section": section,
        "i": i,
        "key": key,
        "code": row.get(key),
        "ref": ref,
        "value": row.get(ref),
    }


# --- Payments from core banking -----------------------------------------------------


@dataclass(frozen=True)
class PaymentRegistered:
    payment: Payment
    created: bool


def payment_register(
    *, reference: str, credit_code: str, amount: Decimal, paid_at: datetime, installments: int
) -> PaymentRegistered:
    """A payment from core banking; the next cycle raises PG (and 70 if it cures).

    Idempotent by `reference`: a repeat returns the first payment, unchanged.
    """
    existing = Payment.objects.filter(reference=reference).first()
    if existing is not None:
        return PaymentRegistered(existing, False)
    credit = Credit.objects.filter(code=credit_code).first()
    if credit is None:
        raise NotFound(_("credit %(code)s does not exist") % {"code": credit_code})
    if amount is None or Decimal(amount) <= 0:
        raise InvalidInput(_("the amount must be greater than zero"), "amount")
    if installments is None or int(installments) < 0:
        raise InvalidInput(_("installments must be zero or more"), "installments")
    if timezone.is_naive(paid_at):
        raise InvalidInput(_("paid_at needs a time zone"), "paid_at")
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                reference=reference,
                credit=credit,
                amount=Decimal(amount),
                paid_at=paid_at,
                installments=int(installments),
            )
    except IntegrityError:  # the same reference raced in: the first one stands
        return PaymentRegistered(Payment.objects.get(reference=reference), False)
    return PaymentRegistered(payment, True)


# --- API tokens ---------------------------------------------------------------------

SCOPES = (
    "snapshots:write",
    "payments:write",
    "results:write",
    "results:read",
    "cycles:write",
    "cases:read",
    "campaigns:write",
    "messages:read",
    "refinancing:read",
    "refinancing:write",
    "letters:read",
    "exonerations:read",
    "exonerations:write",
    "commissions:read",
)
TOKEN_PREFIX = "smf_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(raw: str) -> str:
    """Tokens carry 256 random bits: a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown once, never stored


@transaction.atomic
def token_issue(
    *, name: str, scopes: list[str], label: str = "", by: AbstractBaseUser | None = None
) -> IssuedToken:
    """A token for the user NAME, or for a service account NAME created if missing."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(
            _("unknown scope(s) %(scopes)s; known: %(known)s")
            % {"scopes": ", ".join(unknown) or "-", "known": ", ".join(SCOPES)},
            "scopes",
        )
    user_model = get_user_model()
    user = user_model.objects.filter(username=name).first()
    if user is None:
        user = user_model.objects.create(username=name)
        user.set_unusable_password()
        user.save()
        staff_member_set_role(user=user, role=Role.SERVICIO)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=label or name,
        user=user,
        key_hash=token_hash(raw),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        scopes=sorted(set(scopes)),
    )
    if by is not None:
        token._history_user = by
    token.save()
    return IssuedToken(token, raw)


def token_authenticate(*, raw: str) -> ApiToken | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


@transaction.atomic
def token_revoke(*, token: ApiToken, by: AbstractBaseUser | None = None) -> bool:
    """Revoked at once and for good; False if it already was. Audited with who."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    if by is not None:  # else the signed-in person of the request, if any
        token._history_user = by
    token.save(update_fields=["revoked_at"])
    return True


# --- Contact data from the field -------------------------------------------------------


@transaction.atomic
def client_contact_update(
    *,
    client: Client,
    phone: str = "",
    address_text: str = "",
    address_kind: str = Address.Kind.HOME,
    lat: float | None = None,
    lon: float | None = None,
    by: AbstractBaseUser | None = None,
) -> list[str]:
    """A new phone or address given in the field (DOMAIN.md 5). The phone replaces
    the client's; the address replaces that kind's, placed at the officer's GPS point
    (standing at the door) in the quadrant containing it. Audited on the client.
    Returns what changed."""
    changed = []
    phone = phone.strip()
    if phone and phone != client.phone:
        client.phone = phone
        if by is not None:
            client._history_user = by
        client._change_reason = "field"
        client.save(update_fields=["phone"])
        changed.append("phone")
    address_text = address_text.strip()
    if address_text:
        if address_kind not in Address.Kind.values:
            raise InvalidInput(_("unknown address kind"), "address_kind")
        quadrant = quadrant_at(lat=lat, lon=lon) if lat is not None and lon is not None else None
        Address.objects.update_or_create(
            client=client,
            guarantor=None,
            kind=address_kind,
            defaults={
                "text": address_text[:300],
                "lat": lat,
                "lon": lon,
                "quadrant": quadrant,
                "subzone": quadrant.subzone if quadrant else None,
            },
        )
        changed.append("address")
    return changed


@transaction.atomic
def channel_opt_out(*, client: Client, channel: str, at: datetime) -> ChannelConsent:
    """The client asked not to be contacted on a channel (Ley 29733): honoured at once,
    by the dispatch gate, from the next message on. The first opt-out time is kept."""
    consent, _created = ChannelConsent.objects.select_for_update().get_or_create(
        client=client, channel=channel, defaults={"consent": False, "opted_out_at": at}
    )
    if consent.consent or consent.opted_out_at is None:
        consent.consent = False
        consent.opted_out_at = consent.opted_out_at or at
        consent.save(update_fields=["consent", "opted_out_at"])
    return consent
