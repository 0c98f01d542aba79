"""Writes of the collections work: results from the field, payments from core banking.

The night's engine lives in `engine/` (its entry point is re-exported here).
A result is idempotent by its `uuid`: a phone that retries on a bad connection
never records a visit twice, and gets the first answer back.
"""

from __future__ import annotations

import math
import uuid as uuid_lib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_field.engine.cycle import cycle_run
from collections_field.engine.figures import figures_result_recorded
from collections_field.engine.plan import (
    action_mark_done,
    actions_mark_done,
    plan_result_recorded,
)
from collections_field.engine.sql import LIMA
from collections_field.exceptions import InvalidInput, NotFound, PermissionDenied
from collections_field.models import Campaign, CampaignClient, Case, CaseHistory, FieldResult
from portfolio.models import Address, Agency, Client, ExternalAgency, Officer, Role
from portfolio.selectors import (
    COLLECTION_FROM,
    COLLECTION_TO,
    clients_visible_to,
    is_collection_day,
    role_of,
)
from portfolio.services import client_contact_update
from strategy.models import Classification, ResultCode, SuggestedAction, Tramo
from strategy.selectors import active_strategy

__all__ = [
    "action_mark_done",
    "actions_mark_done",
    "campaign_create",
    "case_override",
    "cycle_run",
    "escalation_comment",
    "escalation_digest_send",
    "escalation_handle",
    "escalation_reassign",
    "result_register",
    "result_register_for",
]


@dataclass(frozen=True)
class Registered:
    obj: FieldResult
    created: bool


@transaction.atomic
def result_register(
    *,
    uuid: uuid_lib.UUID | str,
    client_code: str,
    result_code: str,
    occurred_at: datetime,
    officer_code: str | None = None,
    channel: str = FieldResult.ChannelKind.VISIT,
    promise_date: date | None = None,
    promise_amount: Decimal | None = None,
    lat: float | None = None,
    lon: float | None = None,
    address_kind: str = "",
    notes: str = "",
    new_phone: str = "",
    new_address: str = "",
    by: AbstractBaseUser | None = None,
) -> Registered:
    """Record a visit, call or inbound contact; the next cycle applies it (BAS)."""
    key = uuid_lib.UUID(str(uuid))
    existing = FieldResult.objects.filter(uuid=key).first()
    if existing is not None:
        return Registered(existing, False)
    client = Client.objects.filter(code=client_code).first()
    if client is None:
        raise NotFound(_("client %(code)s does not exist") % {"code": client_code})
    if channel not in FieldResult.ChannelKind.values:
        raise InvalidInput(_("channel must be visit, call or inbound"), "channel")
    if timezone.is_naive(occurred_at):
        raise InvalidInput(_("occurred_at needs a time zone"), "occurred_at")
    code = _result_code(client, result_code)
    if code.promise:
        if promise_date is None:
            raise InvalidInput(_("a payment promise needs its date"), "promise_date")
        if promise_date < occurred_at.astimezone(LIMA).date():
            raise InvalidInput(_("the promise date is before the result"), "promise_date")
    officer = None
    if officer_code:
        officer = Officer.objects.filter(code=officer_code).first()
        if officer is None:
            raise InvalidInput(_("officer %(code)s does not exist") % {"code": officer_code},
                               "officer_code")  # fmt: skip
    verified, flags, address = _verify(client, occurred_at, channel, lat, lon, address_kind)
    try:
        with transaction.atomic():
            result = FieldResult.objects.create(
                uuid=key,
                client=client,
                result_code=code.code,
                occurred_at=occurred_at,
                officer=officer,
                channel=channel,
                promise_date=promise_date if code.promise else None,
                promise_amount=promise_amount if code.promise else None,
                lat=lat,
                lon=lon,
                address_kind=address_kind,
                notes=notes,
                verified=verified,
                flags=flags,
                address=address,
                registered_by=by,
            )
    except IntegrityError:  # the same uuid raced in: the first one stands
        return Registered(FieldResult.objects.get(uuid=key), False)
    if new_phone or new_address:
        client_contact_update(
            client=client,
            phone=new_phone,
            address_text=new_address,
            address_kind=address_kind or Address.Kind.HOME,
            lat=lat if channel == FieldResult.ChannelKind.VISIT else None,
            lon=lon if channel == FieldResult.ChannelKind.VISIT else None,
            by=by,
        )
    plan_result_recorded(result=result)  # the action plan's visit/call done, lights moved
    figures_result_recorded(result=result)  # the dashboards' visits of the day
    return Registered(result, True)


def result_register_for(*, user: AbstractBaseUser, **values) -> Registered:
    """`result_register` within the user's reach: an asesor (or an external agency's
    officer) registers only its own results, on clients it may see (else 404)."""
    role = role_of(user)
    if role in (Role.ASESOR, Role.AGENCIA_EXTERNA):
        officer = getattr(user, "officer", None)
        if officer is None:
            raise PermissionDenied(_("your user is not linked to an officer"))
        if values.get("officer_code") not in (None, "", officer.code):
            raise PermissionDenied(_("you may register only your own results"))
        values["officer_code"] = officer.code
    client_code = values["client_code"]
    if not clients_visible_to(user).filter(code=client_code).exists():
        raise NotFound(_("client %(code)s not found") % {"code": client_code})
    return result_register(by=user, **values)


def _result_code(client: Client, code: str) -> ResultCode:
    """The code must exist for the client's management type (any type before a case)."""
    version = active_strategy()
    if version is None:
        raise InvalidInput(_("no strategy has been published"), "result_code")
    codes = ResultCode.objects.filter(version=version, code=str(code))
    case_type = Case.objects.filter(client=client).values_list("management_type", flat=True)
    if case_type:
        codes = codes.filter(type=case_type[0])
    found = codes.first()
    if found is None:
        raise InvalidInput(
            _("result code %(code)s does not exist for this client's management type")
            % {"code": code},
            "result_code",
        )
    return found


def _verify(
    client, occurred_at, channel, lat, lon, address_kind
) -> tuple[bool, list[str], Address | None]:
    """A visit counts as done at an address only within the radius (Kobra); a contact
    outside the allowed hours (`off_hours`) or on a day without collection visits
    (`off_day`: weekend, national holiday, lender's non-working day) is kept but
    flagged for the jefe de agencia. Inbound contacts are the client's own doing."""
    flags = []
    local = occurred_at.astimezone(LIMA)
    if channel != FieldResult.ChannelKind.INBOUND:
        if not COLLECTION_FROM <= local.time() < COLLECTION_TO:
            flags.append("off_hours")
        if not is_collection_day(local.date()):
            flags.append("off_day")
    if channel != FieldResult.ChannelKind.VISIT:
        return True, flags, None
    address = _visited_address(client, address_kind)
    if lat is None or lon is None:
        flags.append("no_gps")
        return False, flags, address
    if address is None or address.lat is None or address.lon is None:
        flags.append("no_address_point")
        return False, flags, address
    if _metres(lat, lon, address.lat, address.lon) > settings.SEMAFORO["VISIT_RADIUS_M"]:
        flags.append("off_radius")
        return False, flags, address
    return True, flags, address


def _visited_address(client: Client, kind: str) -> Address | None:
    addresses = Address.objects.filter(client=client, guarantor__isnull=True)
    if kind:
        return addresses.filter(kind=kind).first()
    case = Case.objects.filter(client=client).select_related("collection_address").first()
    if case is not None and case.collection_address is not None:
        return case.collection_address
    return addresses.filter(kind=Address.Kind.HOME).first()


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance; plenty for a 150 m radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


OVERRIDE_ROLES = (Role.JEFE_AGENCIA, Role.GERENTE)


@transaction.atomic
def _audit_baseline(case: Case) -> None:
    """The engine writes cases set-based, outside the audit trail: before the first
    change by hand, record the case as it stands so the trail shows a real "before"."""
    if not case.audit_trail.exists():
        Case.audit_trail.bulk_history_create(
            [case], update=True, default_change_reason="as the engine left it"
        )


@transaction.atomic
def case_override(*, user: AbstractBaseUser, client_code: str, to_code: str, reason: str) -> Case:
    """The jefe de agencia's manual Baja/Avance/Salto to any code of the case's type
    (thesis 5.2.10): the only way a code moves by hand, always with a reason, and
    recorded in the case history with who, when, before and after."""
    if role_of(user) not in OVERRIDE_ROLES:
        raise PermissionDenied(_("only a jefe de agencia or the gerente may move a case by hand"))
    if not reason or not reason.strip():
        raise InvalidInput(_("a manual move needs a reason"), "reason")
    case = (
        Case.objects.select_for_update()
        .filter(client__in=clients_visible_to(user), client__code=client_code)
        .first()
    )
    if case is None:
        raise NotFound(_("client %(code)s not found") % {"code": client_code})
    version = active_strategy()
    target = SuggestedAction.objects.filter(
        version=version, type=case.management_type, code=to_code
    ).first()
    if target is None:
        raise InvalidInput(
            _("%(code)s is not a suggested action of type %(type)s")
            % {"code": to_code, "type": case.management_type},
            "to_code",
        )
    before = (case.action_code, case.classification, case.tramo)
    CaseHistory.objects.create(
        case=case,
        business_date=timezone.localdate(),
        at=timezone.now(),
        from_code=before[0],
        to_code=target.code,
        from_classification=before[1],
        to_classification=target.classification,
        cause_kind=CaseHistory.CauseKind.OVERRIDE,
        cause="manual",
        by=user,
        reason=reason.strip(),
        strategy_version=version.number,
    )
    _audit_baseline(case)
    case.action_code, case.classification = target.code, target.classification
    if target.tramo != case.tramo:
        case.visits_in_tramo = 0
    case.tramo = target.tramo
    case._history_user = user
    case._change_reason = reason.strip()
    case.save(update_fields=["action_code", "classification", "tramo", "visits_in_tramo"])
    return case


# --- Campaigns (operativos, thesis 5.2.9 a, 5.2.10) ---------------------------------

CAMPAIGN_ROLES = (Role.JEFE_AGENCIA, Role.GERENTE)
SEGMENT_FIELDS = ("agency", "tramo", "classification", "min_amount", "max_amount",
                  "min_dpd", "max_dpd")  # fmt: skip
MAX_CAMPAIGN_DAYS = 366


@transaction.atomic
def campaign_create(
    *,
    user: AbstractBaseUser,
    code: str,
    name: str,
    date_from: date,
    date_to: date,
    client_codes: list[str] | None = None,
    segment: dict | None = None,
    team: str = "internal",
) -> Campaign:
    """An operativo: its clients lead their officers' lists on its days. A jefe de
    agencia campaigns within its own agency only; the gerente anywhere (company-wide
    when no agency is named). Targets are either an uploaded client-code list or a
    segment (every field optional)."""
    role = role_of(user)
    if role not in CAMPAIGN_ROLES:
        raise PermissionDenied(_("only a jefe de agencia or the gerente may create campaigns"))
    own_agency = None
    if role == Role.JEFE_AGENCIA:
        own_agency = user.staff_member.agency
        if own_agency is None:
            raise PermissionDenied(_("your user is not linked to an agency"))
    code, name = (code or "").strip(), (name or "").strip()
    if not code:
        raise InvalidInput(_("a campaign needs a code"), "code")
    if Campaign.objects.filter(code=code).exists():
        raise InvalidInput(_("campaign %(code)s already exists") % {"code": code}, "code")
    if not name:
        raise InvalidInput(_("a campaign needs a name"), "name")
    if date_to < date_from:
        raise InvalidInput(_("the campaign ends before it starts"), "date_to")
    if (date_to - date_from).days >= MAX_CAMPAIGN_DAYS:
        raise InvalidInput(_("a campaign lasts at most a year"), "date_to")
    segment = {k: v for k, v in (segment or {}).items() if v not in (None, "")}
    unknown_keys = sorted(set(segment) - set(SEGMENT_FIELDS))
    if unknown_keys:
        raise InvalidInput(
            _("unknown segment field %(field)s") % {"field": unknown_keys[0]}, "segment"
        )
    if client_codes is not None and segment:
        raise InvalidInput(_("give either client_codes or segment, not both"), "segment")
    campaign = Campaign(
        code=code,
        name=name,
        date_from=date_from,
        date_to=date_to,
        team=_campaign_team(team),
        agency=own_agency,
        by_list=client_codes is not None,
        created_by=user,
    )
    _campaign_segment(campaign, segment, own_agency)
    clients = _campaign_clients(user, client_codes) if client_codes is not None else []
    campaign._history_user = user
    try:
        with transaction.atomic():
            campaign.save()
    except IntegrityError as exc:  # the same code raced in
        raise InvalidInput(_("campaign %(code)s already exists") % {"code": code}, "code") from exc
    CampaignClient.objects.bulk_create(
        [CampaignClient(campaign=campaign, client_id=pk) for pk in clients], batch_size=5000
    )
    return campaign


def _campaign_team(team: str) -> ExternalAgency | None:
    """`internal` (the lender's asesores) or an external agency's code."""
    team = (team or "internal").strip()
    if team == "internal":
        return None
    agency = ExternalAgency.objects.filter(code=team).first()
    if agency is None:
        raise InvalidInput(
            _("team must be internal or an external agency code; %(code)s is neither")
            % {"code": team},
            "team",
        )
    return agency


def _campaign_segment(campaign: Campaign, segment: dict, own_agency: Agency | None) -> None:
    if "agency" in segment:
        agency = Agency.objects.filter(code=segment["agency"]).first()
        if agency is None:
            raise InvalidInput(
                _("agency %(code)s does not exist") % {"code": segment["agency"]}, "segment.agency"
            )
        if own_agency is not None and agency != own_agency:
            raise PermissionDenied(_("a jefe de agencia campaigns within its own agency only"))
        campaign.segment_agency = agency
    version = active_strategy()
    if "tramo" in segment:
        if not Tramo.objects.filter(version=version, number=segment["tramo"]).exists():
            raise InvalidInput(
                _("tramo %(n)s does not exist in the strategy") % {"n": segment["tramo"]},
                "segment.tramo",
            )
        campaign.tramo = segment["tramo"]
    if "classification" in segment:
        if not Classification.objects.filter(
            version=version, code=segment["classification"]
        ).exists():
            raise InvalidInput(
                _("classification %(code)s does not exist in the strategy")
                % {"code": segment["classification"]},
                "segment.classification",
            )
        campaign.classification = segment["classification"]
    for low, high in (("min_amount", "max_amount"), ("min_dpd", "max_dpd")):
        for key in (low, high):
            if key in segment and segment[key] < 0:
                raise InvalidInput(_("must not be negative"), f"segment.{key}")
            setattr(campaign, key, segment.get(key))
        if low in segment and high in segment and segment[high] < segment[low]:
            raise InvalidInput(
                _("%(high)s is below %(low)s") % {"high": high, "low": low}, f"segment.{high}"
            )


def _campaign_clients(user: AbstractBaseUser, codes: list[str]) -> list[int]:
    """The listed clients' ids; a code the user cannot see is refused as unknown."""
    wanted = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not wanted:
        raise InvalidInput(_("the client list is empty"), "client_codes")
    found = dict(clients_visible_to(user).filter(code__in=wanted).values_list("code", "pk"))
    missing = [c for c in wanted if c not in found]
    if missing:
        raise InvalidInput(
            _("unknown client code(s): %(codes)s") % {"codes": ", ".join(missing[:5])},
            "client_codes",
        )
    return [found[c] for c in wanted]


# --- Escalation (DOMAIN.md 4 step 7): what a superior does with a red action ---


def _escalated_for(*, user: AbstractBaseUser, action_id: int):
    """A pending red action of the user's subtree, locked, with its level on the
    current business date; anything else is the same 404."""
    from collections_field.engine.escalation import (
        PENDING,
        SUPERIOR_ROLES,
        escalation_levels,
        level_for,
        version_on,
    )
    from collections_field.models import PlannedAction
    from collections_field.selectors import current_business_date

    if role_of(user) not in SUPERIOR_ROLES:
        raise PermissionDenied(_("only a jefe de agencia, a jefe zonal or the gerente may do this"))
    day = current_business_date()
    action = (
        PlannedAction.objects.select_for_update()
        .filter(pk=action_id, case__client__in=clients_visible_to(user))
        .first()
    )
    level = None
    if action is not None and day is not None and action.status in PENDING:
        level = level_for((day - action.window_to).days, escalation_levels(version_on(day)))
    if level is None:
        raise NotFound(_("escalated action %(id)s not found") % {"id": action_id})
    return action, level, day


def _note(action, *, kind: str, level: int, day: date, by, text: str = "", **officers):
    from collections_field.models import EscalationNote

    note = EscalationNote(
        action=action, kind=kind, level=level, business_date=day, text=text.strip(), by=by,
        **officers,
    )  # fmt: skip
    note._history_user = by  # the audit trail's "who"
    note.save()
    return note


@transaction.atomic
def escalation_comment(*, user: AbstractBaseUser, action_id: int, text: str):
    """A superior's comment on an escalated action (audited)."""
    if not text or not text.strip():
        raise InvalidInput(_("a comment needs its text"), "text")
    action, level, day = _escalated_for(user=user, action_id=action_id)
    return _note(action, kind="comment", level=level, day=day, by=user, text=text)


@transaction.atomic
def escalation_handle(*, user: AbstractBaseUser, action_id: int, text: str = ""):
    """Atendido: out of this level's inbox. The clock keeps running: undone, the
    action still reaches the next level on its day."""
    action, level, day = _escalated_for(user=user, action_id=action_id)
    action.handled_level = max(level, action.handled_level or 0)
    action.handled_at, action.handled_by = timezone.now(), user
    action.save(update_fields=["handled_level", "handled_at", "handled_by"])
    return _note(action, kind="handled", level=level, day=day, by=user, text=text)


@transaction.atomic
def escalation_reassign(
    *, user: AbstractBaseUser, action_id: int, officer_code: str, text: str = ""
):
    """Reasignar: the case of an escalated action goes to another active officer of
    the client's agency, with its pending manual actions. Audited on the case (who,
    before, after) and in the case history; the next month-start spread may move it."""
    from collections_field.engine.lights import summary_track
    from collections_field.models import PlannedAction
    from portfolio.selectors import officers_visible_to

    action, level, day = _escalated_for(user=user, action_id=action_id)
    case = Case.objects.select_for_update().get(pk=action.case_id)
    agency_id = Client.objects.filter(pk=case.client_id).values_list("agency_id", flat=True)[0]
    officer = officers_visible_to(user).filter(code=officer_code, agency_id=agency_id).first()
    if officer is None:
        raise InvalidInput(
            _("%(code)s is not an active officer of the client's agency") % {"code": officer_code},
            "officer_code",
        )
    if officer.pk == case.officer_id:
        raise InvalidInput(_("the case is already with %(code)s") % {"code": officer_code},
                           "officer_code")  # fmt: skip
    old = case.officer
    reason = text.strip() or _("reassigned from the escalation inbox")
    CaseHistory.objects.create(
        case=case,
        business_date=day,
        at=timezone.now(),
        from_code=case.action_code,
        to_code=case.action_code,
        from_classification=case.classification,
        to_classification=case.classification,
        cause_kind=CaseHistory.CauseKind.ASSIGN,
        cause="reassign",
        officer_code=officer.code,
        by=user,
        reason=f"{old.code if old else ''} -> {officer.code}: {reason}",
    )
    _audit_baseline(case)
    case.officer, case.external_agency_id = officer, officer.external_agency_id
    case.assigned_tramo = case.tramo  # the night keeps it with the new officer
    case._history_user, case._change_reason = user, reason
    case.save(update_fields=["officer", "external_agency", "assigned_tramo"])
    pending = PlannedAction.objects.select_for_update().filter(
        case=case, manual=True, status=PlannedAction.Status.OPEN
    )
    for moved in pending:
        with summary_track(moved):
            moved.officer = officer
            moved.save(update_fields=["officer"])
    return _note(
        action, kind="reassign", level=level, day=day, by=user, text=reason,
        from_officer=old, to_officer=officer,
    )  # fmt: skip


DIGEST_MAX_LINES = 200


def escalation_digest_send(*, business_date: date) -> int:
    """The day's e-mail to each superior with an e-mail address: the actions waiting
    at its level in its subtree. Once per person and date (a re-run sends nothing);
    nobody is written to on a day with nothing for them. Returns the e-mails sent."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.utils import translation

    from collections_field.engine.escalation import (
        ROLE_LEVEL,
        SUPERIOR_ROLES,
        escalated_actions,
        escalation_levels,
        version_on,
    )
    from collections_field.models import EscalationDigest
    from portfolio.models import StaffMember

    levels = escalation_levels(version_on(business_date))
    members = (
        StaffMember.objects.filter(role__in=SUPERIOR_ROLES, user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
        .order_by("user__username")
    )
    sent = 0
    for member in members:
        user, level = member.user, ROLE_LEVEL[member.role]
        waiting = (
            escalated_actions(business_date=business_date, levels=levels, level=level)
            .filter(case__client__in=clients_visible_to(user))
            .select_related("case__client__agency", "officer")
            .order_by("window_to", "id")
        )
        total = waiting.count()
        if not total:
            continue
        try:
            with transaction.atomic():
                EscalationDigest.objects.create(
                    business_date=business_date, user=user, level=level, actions=total
                )
        except IntegrityError:
            continue  # already sent for this date
        with translation.override(settings.LANGUAGE_CODE):
            context = {
                "user": user,
                "day": business_date,
                "level": level,
                "total": total,
                "rows": [
                    {"action": a, "days_red": (business_date - a.window_to).days}
                    for a in waiting[:DIGEST_MAX_LINES]
                ],
                "more": max(total - DIGEST_MAX_LINES, 0),
            }
            subject = _("Semáforo: %(n)s escalated actions on %(date)s") % {
                "n": total, "date": business_date.strftime("%d/%m/%Y"),
            }  # fmt: skip
            body = render_to_string("collections_field/escalation_digest.txt", context)
        try:
            send_mail(subject, body, None, [user.email])
        except Exception:
            EscalationDigest.objects.filter(business_date=business_date, user=user).delete()
            raise
        sent += 1
    return sent
