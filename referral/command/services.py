"""Transfers: requested by the sending facility, decided by the region's command staff, accepted
by the destination they choose; every decision on the timeline and in the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.orm import Session, joinedload

from consult import services as consults
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, ValidationFailed
from hub.models import Facility, Role, Specialty, utcnow
from hub.permissions import REQUESTER_ROLES, require
from hub.realtime import command_room, emit_after_commit, facility_room, user_room
from hub.services.patients import get_patient
from referral.command import rules
from referral.command.models import AssistingPhysician, Transfer, TransferEvent, TransferStatus
from referral.command.rules import Side

ORIGIN_ROLES = REQUESTER_ROLES | {Role.FACILITY_ADMIN}
DESTINATION_ROLES = frozenset({Role.GP, Role.NURSE, Role.SPECIALIST, Role.FACILITY_ADMIN, Role.CHW})


def sides_of(principal: Principal, transfer: Transfer) -> frozenset[Side]:
    sides = set()
    if principal.facility_id == transfer.origin_facility_id and principal.roles & ORIGIN_ROLES:
        sides.add(Side.ORIGIN)
    if (
        transfer.destination_facility_id is not None
        and principal.facility_id == transfer.destination_facility_id
        and principal.roles & DESTINATION_ROLES
    ):
        sides.add(Side.DESTINATION)
    if principal.has_role(Role.NATIONAL_ADMIN) or (
        principal.has_role(Role.COMMAND) and principal.region_id == transfer.region_id
    ):
        sides.add(Side.COMMAND)
    return frozenset(sides)


def assisting_physician_id(session: Session, transfer: Transfer) -> int | None:
    """The region's assisting physician for the transfer's specialty (consulted in its thread)."""
    if transfer.specialty_id is None:
        return None
    return session.scalar(
        select(AssistingPhysician.user_id).where(
            AssistingPhysician.region_id == transfer.region_id,
            AssistingPhysician.specialty_id == transfer.specialty_id,
        )
    )


def notify(
    session: Session, transfer: Transfer, event: str = "transfer.updated", **extra: object
) -> None:
    """Tell both facilities, the region's command staff and the assisting physician (ids only)."""
    rooms = {facility_room(transfer.origin_facility_id), command_room(transfer.region_id)}
    if transfer.destination_facility_id is not None:
        rooms.add(facility_room(transfer.destination_facility_id))
    helper = assisting_physician_id(session, transfer)
    if helper is not None:
        rooms.add(user_room(helper))
    payload = {"transfer_id": transfer.id, "status": transfer.status.value, **extra}
    emit_after_commit(session, event, payload, sorted(rooms))


def _event(
    transfer: Transfer,
    actor: Principal,
    previous: TransferStatus | None,
    note: str | None,
    **details: object,
) -> None:
    transfer.events.append(
        TransferEvent(
            at=utcnow(),  # set now: the answer shows the timeline before any flush
            actor_id=actor.user_id,
            from_status=previous.value if previous else None,
            to_status=transfer.status.value,
            note=note,
            details=details,
        )
    )


def score(transfer: Transfer, now: datetime | None = None) -> rules.Priority:
    waited = int(((now or utcnow()) - transfer.created_at).total_seconds() // 60)
    return rules.priority(
        emergency=transfer.emergency,
        severity=transfer.severity,
        waiting_minutes=waited,
        distance_km=transfer.distance_km,
        origin_level=transfer.origin.level,
    )


def request_transfer(
    session: Session,
    principal: Principal,
    *,
    patient_id: int,
    reason: str,
    emergency: bool,
    severity: int,
    distance_km: int | None,
    consult_id: int | None,
    specialty_code: str | None = None,
) -> Transfer:
    require(principal, "consults:write", action="command:transfer:requested")
    if principal.facility_id is None or not principal.roles & ORIGIN_ROLES:
        raise AccessDenied(
            "Transfers are requested by the sending facility's staff.",
            action="command:transfer:requested",
        )
    patient = get_patient(session, principal, patient_id)
    specialty_id = None
    if specialty_code is not None:
        specialty_id = session.scalar(select(Specialty.id).where(Specialty.code == specialty_code))
        if specialty_id is None:
            raise ValidationFailed(
                "Unknown specialty.",
                details=[{"field": "specialty", "problem": "no specialty with this code"}],
            )
    if consult_id is not None:
        facts = consults.facts(session, consult_id)
        if (
            facts is None
            or facts.patient_id != patient.id
            or facts.requester_facility_id != principal.facility_id
        ):
            raise ValidationFailed(
                "The consult is not one of your facility's consults for this patient.",
                details=[{"field": "consult_id", "problem": "not this patient's consult here"}],
            )
        if specialty_id is None:  # the consult's specialty decides whose advice is sought
            specialty_id = session.scalar(
                select(Specialty.id).where(Specialty.code == facts.specialty_code)
            )
    origin = session.get_one(Facility, principal.facility_id)
    transfer = Transfer(
        patient_id=patient.id,
        consult_id=consult_id,
        origin_facility_id=origin.id,
        region_id=origin.region_id,
        reason=reason,
        emergency=emergency,
        severity=severity,
        distance_km=distance_km,
        specialty_id=specialty_id,
        status=TransferStatus.PENDING,
        created_by_id=principal.user_id,
    )
    session.add(transfer)
    _event(transfer, principal, None, reason)
    session.flush()
    if consult_id is not None:
        consults.add_timeline_event(
            session,
            consult_id,
            "transfer_requested",
            actor_id=principal.user_id,
            transfer=transfer.id,
        )
    audit.record(
        session,
        principal,
        "command:transfer:requested",
        object_type="transfer",
        object_id=transfer.id,
        details={"patient_id": patient.id, "emergency": emergency},
    )
    notify(session, transfer, "transfer.alert")
    return transfer


def _visible(principal: Principal) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    if principal.facility_id is not None:
        clauses.append(Transfer.origin_facility_id == principal.facility_id)
        clauses.append(Transfer.destination_facility_id == principal.facility_id)
    if principal.has_role(Role.COMMAND) and principal.region_id is not None:
        clauses.append(Transfer.region_id == principal.region_id)
    if principal.user_id is not None:
        clauses.append(_assisted_by(principal.user_id))
    return or_(*clauses) if clauses else false()


def _assisted_by(user_id: int) -> ColumnElement[bool]:
    """Transfers whose region and specialty this user is the assisting physician for."""
    return exists(
        select(AssistingPhysician.id).where(
            AssistingPhysician.user_id == user_id,
            AssistingPhysician.region_id == Transfer.region_id,
            AssistingPhysician.specialty_id == Transfer.specialty_id,
        )
    )


def may_see(session: Session, principal: Principal, transfer: Transfer) -> bool:
    """A side of the transfer, or the assisting physician consulted on it."""
    if sides_of(principal, transfer):
        return True
    return principal.user_id is not None and principal.user_id == assisting_physician_id(
        session, transfer
    )


def get(session: Session, principal: Principal, transfer_id: int) -> Transfer:
    require(principal, "consults:read", action="command:transfer:viewed")
    transfer = session.scalar(
        select(Transfer)
        .where(Transfer.id == transfer_id)
        .options(
            joinedload(Transfer.origin),
            joinedload(Transfer.destination),
            joinedload(Transfer.specialty),
        )
    )
    if transfer is None or not may_see(session, principal, transfer):
        raise AccessDenied(
            "Transfer not found.",
            action="command:transfer:viewed",
            object_type="transfer",
            object_id=transfer_id,
            hide=True,
        )
    audit.record(
        session, principal, "command:transfer:viewed", object_type="transfer", object_id=transfer.id
    )
    return transfer


def list_visible(session: Session, principal: Principal, *, open_only: bool) -> list[Transfer]:
    """Open transfers by priority (highest first), else the newest 200."""
    require(principal, "consults:read", action="command:transfer:listed")
    stmt = select(Transfer).options(joinedload(Transfer.origin), joinedload(Transfer.destination))
    if not principal.has_role(Role.NATIONAL_ADMIN):
        stmt = stmt.where(_visible(principal))
    if open_only:
        stmt = stmt.where(Transfer.status.not_in(rules.TERMINAL))
    found = list(session.scalars(stmt.order_by(Transfer.id.desc()).limit(200)))
    now = utcnow()
    if open_only:
        found.sort(key=lambda t: -score(t, now).score)
    audit.record(
        session,
        principal,
        "command:transfer:listed",
        object_type="transfer",
        details={"ids": [t.id for t in found]},
    )
    return found


def transition(
    session: Session,
    principal: Principal,
    transfer_id: int,
    target: TransferStatus,
    *,
    destination_code: str | None = None,
    note: str | None = None,
) -> Transfer:
    transfer = get(session, principal, transfer_id)
    sides = sides_of(principal, transfer)
    try:
        rules.check(transfer.status, target, sides)
    except rules.NotFromHere as exc:
        raise Conflict(f"Not allowed now: {exc}.", code="transfer_state") from exc
    except rules.NotYours as exc:
        raise AccessDenied(
            f"Not allowed for you: {exc}.",
            action="command:transfer:changed",
            object_type="transfer",
            object_id=transfer.id,
        ) from exc
    details: dict[str, object] = {}
    if target is TransferStatus.APPROVED:
        destination = session.scalar(select(Facility).where(Facility.code == destination_code))
        if destination is None or destination.id == transfer.origin_facility_id:
            raise ValidationFailed(
                "Choose the receiving facility (not the sending one).",
                details=[{"field": "destination", "problem": "unknown or the origin itself"}],
            )
        transfer.destination_facility_id = destination.id
        transfer.destination = destination
        details["destination"] = destination.code
    if target in (TransferStatus.REJECTED, TransferStatus.DESTINATION_REJECTED) and not note:
        raise ValidationFailed(
            "Say why the transfer is refused.",
            details=[{"field": "note", "problem": "required when refusing"}],
        )
    previous = transfer.status
    transfer.status = target
    transfer.updated_at = utcnow()
    _event(transfer, principal, previous, note, **details)
    audit.record(
        session,
        principal,
        "command:transfer:changed",
        object_type="transfer",
        object_id=transfer.id,
        details={"from": previous.value, "to": target.value, **details},
    )
    if transfer.consult_id is not None:
        consults.add_timeline_event(
            session,
            transfer.consult_id,
            "transfer_" + target.value,
            actor_id=principal.user_id,
            transfer=transfer.id,
        )
    # The receiving facility hears of a transfer coming its way at once (its pages sound).
    alert = target is TransferStatus.APPROVED
    notify(session, transfer, "transfer.alert" if alert else "transfer.updated")
    return transfer
