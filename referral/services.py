"""Referrals level 1 → 2/3: creation (directly, or from a signed referral letter), acceptance or
decline by the receiving side, cancellation, the back-referral that closes the loop and its
acknowledgement, open loops and waiting times, and the facility directory.

Statuses are HL7 BSeR's. Every read and change is permission-checked here and audited as
``referral:<subject>:<action>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.base import ExecutableOption

from consult import services as consults
from hub import audit, hooks
from hub.api.pagination import PageQuery, decode_cursor
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, FacilityKind, Patient, Role, Specialty, User, utcnow
from hub.permissions import REQUESTER_ROLES, patient_visibility, require
from referral.access import (
    on_receiving_side,
    on_referring_side,
    receiving_condition,
    referral_visibility,
)
from referral.models import (
    Appointment,
    AppointmentStatus,
    BackReferral,
    BackReferralTask,
    Clinic,
    ClinicMember,
    Referral,
    ReferralStatus,
    Slot,
    WaitTarget,
)
from referral.schemas import BackReferralIn, ReferralIn, ReferralQuery

log = logging.getLogger(__name__)

LIVE = frozenset(
    {
        ReferralStatus.CREATED,
        ReferralStatus.ACCEPTED,
        ReferralStatus.SCHEDULED,
        ReferralStatus.NO_SHOW,
        ReferralStatus.EVENT_CANCELLED,
        ReferralStatus.EVENT_COMPLETED,
        ReferralStatus.CANCELLATION_REQUESTED,
    }
)
# Where the receiving clinician may answer: once accepted, before the referral is closed.
ANSWERABLE = frozenset(
    {
        ReferralStatus.ACCEPTED,
        ReferralStatus.SCHEDULED,
        ReferralStatus.NO_SHOW,
        ReferralStatus.EVENT_CANCELLED,
        ReferralStatus.EVENT_COMPLETED,
    }
)
DEFAULT_WAIT_DAYS = 14
DEFAULT_BACK_REFERRAL_DAYS = 7


def live_key(patient_id: int, specialty_id: int) -> str:
    return f"{patient_id}:{specialty_id}"


def _options() -> list[ExecutableOption]:
    return [
        selectinload(Referral.back_referral).selectinload(BackReferral.tasks),
        selectinload(Referral.back_referral).selectinload(BackReferral.author),
        selectinload(Referral.appointments).selectinload(Appointment.slot),
    ]


def offering_clinic(session: Session, facility_id: int, specialty_id: int) -> Clinic | None:
    return session.scalar(
        select(Clinic)
        .where(
            Clinic.facility_id == facility_id,
            Clinic.specialty_id == specialty_id,
            Clinic.active.is_(True),
        )
        .order_by(Clinic.id)
        .limit(1)
    )


def _live_referral(session: Session, patient_id: int, specialty_id: int) -> Referral | None:
    return session.scalar(
        select(Referral).where(Referral.live_key == live_key(patient_id, specialty_id))
    )


def _already_live(existing: Referral) -> Conflict:
    return Conflict(
        f"This patient already has a live referral for this specialty (#{existing.id}).",
        code="live_referral_exists",
        details={
            "referral_id": existing.id,
            "status": existing.status.value,
            "to_facility": existing.to_facility.code,
            "url": f"/referrals/{existing.id}",
            "api": f"/api/v1/referrals/{existing.id}",
        },
    )


def _move(referral: Referral, to: ReferralStatus) -> None:
    referral.status = to
    if to not in LIVE:
        referral.live_key = None
        referral.closed_at = utcnow()


def create(session: Session, principal: Principal, data: ReferralIn) -> Referral:
    """A health worker refers a patient they can see to a facility offering the specialty."""
    action = "referral:referral:created"
    require(principal, "consults:write", roles=REQUESTER_ROLES, action=action)
    if principal.facility_id is None or principal.user_id is None:
        raise AccessDenied("Only staff of a facility can refer patients.", action=action)
    patient = session.scalar(
        select(Patient).where(Patient.id == data.patient_id, patient_visibility(principal))
    )
    if patient is None:
        raise ValidationFailed("Unknown patient.", details={"patient_id": data.patient_id})
    if patient.merged_into_id is not None:
        raise ValidationFailed(
            "This patient record was merged; use the surviving record.",
            details={"merged_into": patient.merged_into_id},
        )
    specialty = session.scalar(select(Specialty).where(Specialty.code == data.specialty))
    if specialty is None:
        raise ValidationFailed("Unknown specialty.", details={"specialty": data.specialty})
    target = session.scalar(select(Facility).where(Facility.code == data.to_facility))
    if target is None:
        raise ValidationFailed("Unknown facility.", details={"to_facility": data.to_facility})
    if offering_clinic(session, target.id, specialty.id) is None:
        raise ValidationFailed(
            f"{target.name} does not offer {specialty.name}.",
            code="specialty_not_offered",
            details={
                "to_facility": target.code,
                "specialty": specialty.code,
                "directory": f"/api/v1/facilities?offers={specialty.code}",
            },
        )
    if target.id == principal.facility_id:
        raise ValidationFailed(
            "A referral goes to another facility.", details={"to_facility": target.code}
        )
    if data.consult_id is not None:
        facts = consults.visible_facts(session, principal, data.consult_id)
        if facts.patient_id != patient.id:
            raise ValidationFailed(
                "The consult is of another patient.", details={"consult_id": data.consult_id}
            )
    existing = _live_referral(session, patient.id, specialty.id)
    if existing is not None:
        raise _already_live(existing)
    referral = Referral(
        patient_id=patient.id,
        specialty_id=specialty.id,
        from_facility_id=principal.facility_id,
        to_facility_id=target.id,
        requester_id=principal.user_id,
        reason=data.reason,
        consult_id=data.consult_id,
        status=ReferralStatus.CREATED,
        live_key=live_key(patient.id, specialty.id),
    )
    try:
        with session.begin_nested():
            session.add(referral)
            session.flush()
    except IntegrityError:
        # A concurrent request referred the same patient for the same specialty first.
        existing = _live_referral(session, patient.id, specialty.id)
        if existing is None:
            raise
        raise _already_live(existing) from None
    audit.record(
        session,
        principal,
        action,
        object_type="referral",
        object_id=referral.id,
        details={
            "patient_id": patient.id,
            "specialty": specialty.code,
            "to_facility": target.code,
            "consult_id": data.consult_id,
        },
    )
    return get(session, principal, referral.id, purpose=None)


def on_document_signed(
    session: Session, principal: Principal, service: hooks.SignedService
) -> None:
    """The ``document_signed`` listener: a signed referral letter becomes a referral.

    It goes to the signing specialist's facility when that offers the specialty, else to the
    nearest level 2/3 facility that does (same region first). A live referral of the patient
    for the specialty gets the letter instead of a second referral. Never raises: the letter's
    signing must not fail for the referral's sake.
    """
    if service.service_type != "referral_letter" or service.patient_id is None:
        return
    try:
        with session.begin_nested():
            _referral_from_letter(session, principal, service)
    except Exception:  # the signing transaction must go on (logged without patient data)
        log.exception("referral from signed letter %s not created", service.document_id)


def _referral_from_letter(
    session: Session, principal: Principal, service: hooks.SignedService
) -> None:
    facts = consults.facts(session, service.service_id)
    if facts is None:
        return
    specialty = session.scalar(select(Specialty).where(Specialty.code == facts.specialty_code))
    if specialty is None:
        return
    existing = _live_referral(session, facts.patient_id, specialty.id)
    if existing is not None:
        if existing.letter_document_id is None:
            existing.letter_document_id = service.document_id
            existing.consult_id = existing.consult_id or facts.id
        return
    target = _destination(session, specialty.id, service.facility_id, facts.requester_facility_id)
    if target is None:
        return
    referral = Referral(
        patient_id=facts.patient_id,
        specialty_id=specialty.id,
        from_facility_id=facts.requester_facility_id,
        to_facility_id=target.id,
        requester_id=facts.requester_id,
        reason=f"Referral letter of consult #{facts.id}",
        consult_id=facts.id,
        letter_document_id=service.document_id,
        status=ReferralStatus.CREATED,
        live_key=live_key(facts.patient_id, specialty.id),
    )
    session.add(referral)
    session.flush()
    audit.record(
        session,
        principal,
        "referral:referral:created",
        object_type="referral",
        object_id=referral.id,
        details={
            "patient_id": facts.patient_id,
            "specialty": specialty.code,
            "to_facility": target.code,
            "consult_id": facts.id,
            "letter": service.document_id,
        },
    )


def _destination(
    session: Session, specialty_id: int, preferred_id: int | None, from_id: int
) -> Facility | None:
    if (
        preferred_id is not None
        and preferred_id != from_id
        and offering_clinic(session, preferred_id, specialty_id) is not None
    ):
        return session.get(Facility, preferred_id)
    origin = session.get_one(Facility, from_id)
    rows = session.scalars(
        select(Facility)
        .join(Clinic, Clinic.facility_id == Facility.id)
        .where(
            Clinic.specialty_id == specialty_id,
            Clinic.active.is_(True),
            Facility.level >= 2,
            Facility.id != from_id,
        )
        .order_by((Facility.region_id != origin.region_id), Facility.level, Facility.id)
        .limit(1)
    )
    return rows.first()


def _load(session: Session, principal: Principal, referral_id: int) -> Referral | None:
    return session.scalar(
        select(Referral)
        .where(Referral.id == referral_id, referral_visibility(principal))
        .options(*_options())
    )


def get(
    session: Session, principal: Principal, referral_id: int, *, purpose: str | None = "viewed"
) -> Referral:
    """A referral within the caller's scope; another facility's is 404 (its existence is
    private)."""
    referral = _load(session, principal, referral_id)
    if referral is None:
        raise AccessDenied(
            "No such referral.",
            action=f"referral:referral:{purpose or 'viewed'}",
            object_type="referral",
            object_id=referral_id,
            hide=True,
        )
    if purpose is not None:
        audit.record(
            session,
            principal,
            f"referral:referral:{purpose}",
            object_type="referral",
            object_id=referral.id,
        )
    return referral


def _require_receiving(
    session: Session, principal: Principal, referral: Referral, action: str
) -> None:
    if not on_receiving_side(session, principal, referral):
        raise AccessDenied(
            "Only the receiving facility or clinic does this.",
            action=action,
            object_type="referral",
            object_id=referral.id,
        )


def _require_referring(principal: Principal, referral: Referral, action: str) -> None:
    if not on_referring_side(principal, referral):
        raise AccessDenied(
            "Only the referring health post does this.",
            action=action,
            object_type="referral",
            object_id=referral.id,
        )


def _require_status(referral: Referral, allowed: frozenset[ReferralStatus], doing: str) -> None:
    if referral.status not in allowed:
        raise Conflict(
            f"A referral that is {referral.status.value} cannot be {doing}.",
            code="invalid_transition",
            details={
                "status": referral.status.value,
                "allowed_from": sorted(s.value for s in allowed),
            },
        )


def eligible_clinician(session: Session, user: User, referral: Referral) -> bool:
    """A clinician of the receiving clinic, or a specialist of that specialty at the facility."""
    if session.scalar(
        select(ClinicMember.id)
        .join(Clinic, Clinic.id == ClinicMember.clinic_id)
        .where(
            ClinicMember.user_id == user.id,
            Clinic.facility_id == referral.to_facility_id,
            Clinic.specialty_id == referral.specialty_id,
        )
        .limit(1)
    ):
        return True
    return (
        user.facility_id == referral.to_facility_id
        and Role.SPECIALIST in user.role_set
        and any(s.id == referral.specialty_id for s in user.specialties)
    )


def accept(
    session: Session, principal: Principal, referral_id: int, clinician: str | None = None
) -> Referral:
    """The receiving side accepts; the receiving clinician (the caller by default) answers it."""
    action = "referral:referral:accepted"
    require(principal, "consults:write", action=action)
    referral = get(session, principal, referral_id, purpose=None)
    _require_receiving(session, principal, referral, action)
    _require_status(referral, frozenset({ReferralStatus.CREATED}), "accepted")
    if clinician is not None:
        user = session.scalar(select(User).where(User.username == clinician))
        if user is None or not eligible_clinician(session, user, referral):
            raise ValidationFailed(
                "That person is not a clinician of the receiving clinic.",
                details={"clinician": clinician},
            )
    else:
        user = session.get_one(User, principal.user_id) if principal.user_id else None
        if user is None or not eligible_clinician(session, user, referral):
            raise ValidationFailed(
                "Name the receiving clinician (?clinician=username).",
                code="clinician_required",
            )
    referral.receiving_clinician_id = user.id
    referral.receiving_clinician = user
    referral.accepted_at = utcnow()
    _move(referral, ReferralStatus.ACCEPTED)
    audit.record(
        session,
        principal,
        action,
        object_type="referral",
        object_id=referral.id,
        details={"clinician_id": user.id},
    )
    return referral


def decline(session: Session, principal: Principal, referral_id: int, reason: str) -> Referral:
    action = "referral:referral:declined"
    require(principal, "consults:write", action=action)
    referral = get(session, principal, referral_id, purpose=None)
    _require_receiving(session, principal, referral, action)
    _require_status(
        referral, frozenset({ReferralStatus.CREATED, ReferralStatus.ACCEPTED}), "declined"
    )
    referral.decline_reason = reason
    _move(referral, ReferralStatus.DECLINED)
    audit.record(session, principal, action, object_type="referral", object_id=referral.id)
    return referral


def cancel(session: Session, principal: Principal, referral_id: int, reason: str) -> Referral:
    """The referring side cancels a new referral, or asks the receiving side to cancel one it
    accepted; the receiving side confirms a requested cancellation."""
    action = "referral:referral:cancelled"
    require(principal, "consults:write", action=action)
    referral = get(session, principal, referral_id, purpose=None)
    referring = on_referring_side(principal, referral)
    if referring and referral.status is ReferralStatus.CREATED:
        target = ReferralStatus.CANCELLED
    elif referring:
        _require_status(referral, ANSWERABLE, "cancelled")
        target = ReferralStatus.CANCELLATION_REQUESTED
    else:
        _require_receiving(session, principal, referral, action)
        _require_status(referral, frozenset({ReferralStatus.CANCELLATION_REQUESTED}), "cancelled")
        target = ReferralStatus.CANCELLED
    referral.cancel_reason = reason
    if target is ReferralStatus.CANCELLED:
        for appt in referral.appointments:
            if appt.status is AppointmentStatus.BOOKED:
                appt.status = AppointmentStatus.CANCELLED
                appt.live_slot_id = None
                appt.cancelled_at = utcnow()
                appt.cancel_reason = reason
    _move(referral, target)
    audit.record(
        session,
        principal,
        action if target is ReferralStatus.CANCELLED else "referral:referral:cancel_requested",
        object_type="referral",
        object_id=referral.id,
    )
    return referral


def back_refer(
    session: Session, principal: Principal, referral_id: int, data: BackReferralIn
) -> BackReferral:
    """The receiving clinician returns the structured summary to the referring health post."""
    action = "referral:back_referral:created"
    require(principal, "consults:write", action=action)
    referral = get(session, principal, referral_id, purpose=None)
    if principal.user_id is None or principal.user_id != referral.receiving_clinician_id:
        raise AccessDenied(
            "Only the receiving clinician writes the back-referral.",
            action=action,
            object_type="referral",
            object_id=referral.id,
        )
    if referral.back_referral is not None:
        raise Conflict(
            "This referral already has its back-referral.",
            code="back_referral_exists",
            details={"back_referral_id": referral.back_referral.id},
        )
    _require_status(referral, ANSWERABLE, "answered")
    back = BackReferral(
        referral_id=referral.id,
        author_id=principal.user_id,
        summary=data.summary,
        findings=data.findings,
        treatment=data.treatment,
        medication=data.medication,
        tasks=[BackReferralTask(text=t.text, due=t.due) for t in data.tasks],
    )
    try:
        with session.begin_nested():
            session.add(back)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "This referral already has its back-referral.", code="back_referral_exists"
        ) from None
    referral.back_referral = back
    audit.record(
        session,
        principal,
        action,
        object_type="referral",
        object_id=referral.id,
        details={"tasks": len(data.tasks)},
    )
    return back


def acknowledge(session: Session, principal: Principal, referral_id: int) -> Referral:
    """The referring health post acknowledges the back-referral: the loop closes and the
    referral is completed (it cannot be completed any other way)."""
    action = "referral:back_referral:acknowledged"
    require(principal, "consults:write", action=action)
    referral = get(session, principal, referral_id, purpose=None)
    _require_referring(principal, referral, action)
    back = referral.back_referral
    if back is None:
        raise Conflict(
            "There is no back-referral yet; a referral is completed only with one.",
            code="no_back_referral",
        )
    if back.acknowledged_at is not None:
        raise Conflict("The back-referral is already acknowledged.", code="already_acknowledged")
    back.acknowledged_at = utcnow()
    back.acknowledged_by_id = principal.user_id
    _move(referral, ReferralStatus.COMPLETED)
    audit.record(session, principal, action, object_type="referral", object_id=referral.id)
    return referral


def complete_task(
    session: Session, principal: Principal, referral_id: int, task_id: int
) -> BackReferralTask:
    action = "referral:task:done"
    require(principal, "consults:write", action=action)
    referral = get(session, principal, referral_id, purpose=None)
    _require_referring(principal, referral, action)
    task = next(
        (
            t
            for t in (referral.back_referral.tasks if referral.back_referral else [])
            if t.id == task_id
        ),
        None,
    )
    if task is None:
        raise NotFound("No such task on this referral.")
    if task.done_at is None:
        task.done_at = utcnow()
        audit.record(
            session,
            principal,
            action,
            object_type="referral",
            object_id=referral.id,
            details={"task_id": task.id},
        )
    return task


# --- lists, open loops and waiting times ------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A referral's waiting time and loop state, measured against its region's targets."""

    waiting_days: int | None
    wait_target_days: int
    wait_breached: bool
    open_loop: tuple[str, ...]


def targets(session: Session, region_id: int, specialty_id: int | None = None) -> tuple[int, int]:
    """(wait days, back-referral days): the region's target for the specialty, else the
    region's own, else the national defaults."""
    rows = session.scalars(
        select(WaitTarget).where(
            WaitTarget.region_id == region_id,
            or_(WaitTarget.specialty_id.is_(None), WaitTarget.specialty_id == specialty_id),
        )
    ).all()
    row = next((r for r in rows if r.specialty_id is not None), None) or next(iter(rows), None)
    if row is None:
        return DEFAULT_WAIT_DAYS, DEFAULT_BACK_REFERRAL_DAYS
    return row.wait_days, row.back_referral_days


def clock(session: Session, referral: Referral, now: datetime | None = None) -> Clock:
    now = now or utcnow()
    wait_days, back_days = targets(session, referral.from_facility.region_id, referral.specialty_id)
    end = referral.first_visit_at or (now if referral.status in LIVE else referral.closed_at)
    waiting = (end - referral.created_at).days if end is not None else None
    breached = waiting is not None and waiting > wait_days
    reasons: list[str] = []
    back = referral.back_referral
    if referral.status in LIVE:
        visited = referral.first_visit_at
        if back is None and visited is not None and visited + timedelta(days=back_days) <= now:
            reasons.append("no_back_referral")
        if back is not None and back.acknowledged_at is None:
            reasons.append("not_acknowledged")
    if back is not None and any(
        t.due is not None and t.done_at is None and t.due < now.date() for t in back.tasks
    ):
        reasons.append("tasks_overdue")
    return Clock(waiting, wait_days, breached, tuple(reasons))


def is_open_loop(c: Clock) -> bool:
    return "no_back_referral" in c.open_loop or "tasks_overdue" in c.open_loop


class RegionLoops(NamedTuple):
    """Counts for the command board: no patient details."""

    live: int  # referrals sent from the region's facilities and not closed
    open_loops: int  # of all its referrals, those whose loop is open by the region's target


# Open-loop candidates looked at per count: each is measured by the region's own target in
# Python, so the count stays bounded even when a backlog has grown.
OPEN_LOOP_SCAN = 5000


def region_loops(session: Session, region_id: int | None) -> RegionLoops:
    """Live referrals and open referral loops of a region's facilities (every region: None),
    read-only; the caller checks who asks."""
    now = utcnow()
    senders = select(Facility.id)
    if region_id is not None:
        senders = senders.where(Facility.region_id == region_id)
    from_region = Referral.from_facility_id.in_(senders)
    live = session.scalar(
        select(func.count()).select_from(Referral).where(from_region, Referral.status.in_(LIVE))
    )
    candidates = session.scalars(
        select(Referral)
        .where(
            from_region,
            or_(
                Referral.first_visit_at.is_not(None)
                & Referral.live_key.is_not(None)
                & ~exists(select(BackReferral.id).where(BackReferral.referral_id == Referral.id)),
                _overdue_tasks(now.date()),  # type: ignore[arg-type]
            ),
        )
        .options(*_options())
        .order_by(Referral.id.desc())
        .limit(OPEN_LOOP_SCAN)
    )
    loops = sum(1 for r in candidates if is_open_loop(clock(session, r, now)))
    return RegionLoops(int(live or 0), loops)


def _overdue_tasks(today: date) -> object:
    return exists(
        select(BackReferralTask.id)
        .join(BackReferral, BackReferral.id == BackReferralTask.back_referral_id)
        .where(
            BackReferral.referral_id == Referral.id,
            BackReferralTask.due < today,
            BackReferralTask.done_at.is_(None),
        )
    )


def list_visible(
    session: Session, principal: Principal, query: ReferralQuery
) -> tuple[list[Referral], dict[int, Clock], list[Referral]]:
    """A page of referrals (newest first) with their clocks; open loops filtered by the
    region's target. Returns (items, clocks, the page's rows before that filter)."""
    action = "referral:referral:listed"
    require(principal, "consults:read", action=action)
    stmt = select(Referral).where(referral_visibility(principal)).options(*_options())
    if query.side == "incoming":
        stmt = stmt.where(receiving_condition(principal))
    elif query.side == "outgoing":
        stmt = stmt.where(Referral.from_facility_id == principal.facility_id)
    if query.status is not None:
        stmt = stmt.where(Referral.status == query.status)
    if query.patient_id is not None:
        stmt = stmt.where(Referral.patient_id == query.patient_id)
    if query.specialty is not None:
        stmt = stmt.where(
            Referral.specialty_id.in_(select(Specialty.id).where(Specialty.code == query.specialty))
        )
    if query.live:
        stmt = stmt.where(Referral.live_key.is_not(None))
    now = utcnow()
    if query.open_loop:
        # Candidates in SQL; each region's own target decides in Python.
        stmt = stmt.where(
            or_(
                Referral.first_visit_at.is_not(None)
                & Referral.live_key.is_not(None)
                & ~exists(select(BackReferral.id).where(BackReferral.referral_id == Referral.id)),
                _overdue_tasks(now.date()),  # type: ignore[arg-type]
            )
        )
    after = query.position()
    if after is not None:
        stmt = stmt.where(Referral.id < after)
    rows = list(session.scalars(stmt.order_by(Referral.id.desc()).limit(query.limit)))
    clocks = {r.id: clock(session, r, now) for r in rows}
    items = [r for r in rows if not query.open_loop or is_open_loop(clocks[r.id])]
    audit.record(
        session,
        principal,
        action,
        object_type="referral",
        details={"referrals": [r.id for r in items], "open_loop": bool(query.open_loop)},
    )
    return items, clocks, rows


def patient_names(session: Session, principal: Principal, patient_ids: set[int]) -> dict[int, str]:
    """Names of the patients the caller may see (others stay unnamed)."""
    if not patient_ids:
        return {}
    rows = session.execute(
        select(Patient.id, Patient.given_name, Patient.family_name).where(
            Patient.id.in_(patient_ids), patient_visibility(principal)
        )
    )
    return {pid: f"{given} {family}" for pid, given, family in rows}


# --- the facility directory -------------------------------------------------------------------


def directory(
    session: Session, offers: str | None, page: PageQuery
) -> list[tuple[Facility, list[Clinic]]]:
    """Facilities that offer a specialty (an active clinic for it), or every facility with a
    clinic; no patient data."""
    stmt = (
        select(Clinic)
        .join(Facility, Facility.id == Clinic.facility_id)
        .where(Clinic.active.is_(True))
    )
    if offers is not None:
        stmt = stmt.join(Specialty, Specialty.id == Clinic.specialty_id).where(
            Specialty.code == offers
        )
    after = decode_cursor(page.cursor)
    facility_ids = select(Clinic.facility_id).where(
        Clinic.id.in_(stmt.with_only_columns(Clinic.id))
    )
    fstmt = select(Facility).where(Facility.id.in_(facility_ids))
    if after is not None:
        fstmt = fstmt.where(Facility.id > after)
    facilities = list(session.scalars(fstmt.order_by(Facility.id).limit(page.limit)))
    clinics = list(
        session.scalars(
            stmt.where(Clinic.facility_id.in_([f.id for f in facilities])).order_by(Clinic.code)
        )
    )
    return [(fac, [c for c in clinics if c.facility_id == fac.id]) for fac in facilities]


def is_virtual(facility: Facility) -> bool:
    return facility.kind is FacilityKind.VIRTUAL_CLINIC


# --- figures for the command centre's progress reports (counts only, no patient data) --------

# Referrals that never opened a loop: refused or withdrawn before any visit.
NO_LOOP = frozenset({ReferralStatus.DECLINED, ReferralStatus.CANCELLED})


class ReferralVolume(NamedTuple):
    """A facility's referrals in a period: sent, those that opened a loop, and those whose loop
    closed (back-referral acknowledged: BSeR ``completed``)."""

    sent: int
    looped: int
    closed: int


def volume_by_facility(
    session: Session, facility_ids: list[int], start: datetime, end: datetime
) -> dict[int, ReferralVolume]:
    """Per referring facility, the referrals created in ``[start, end)`` and their loops."""
    if not facility_ids:
        return {}
    looped = Referral.status.not_in(list(NO_LOOP))
    closed = Referral.status == ReferralStatus.COMPLETED
    stmt = (
        select(
            Referral.from_facility_id,
            func.count(),
            func.sum(case((looped, 1), else_=0)),
            func.sum(case((closed, 1), else_=0)),
        )
        .where(
            Referral.from_facility_id.in_(facility_ids),
            Referral.created_at >= start,
            Referral.created_at < end,
        )
        .group_by(Referral.from_facility_id)
    )
    return {
        fid: ReferralVolume(int(n), int(lo or 0), int(c or 0))
        for fid, n, lo, c in session.execute(stmt)
    }


def virtual_clinics_with_slots(
    session: Session, facility_ids: list[int], since: datetime
) -> set[int]:
    """The virtual-clinic facilities among these with an active clinic offering an unblocked
    slot from ``since`` on (SEEDS 001 step 4: remote visits through virtual clinics)."""
    if not facility_ids:
        return set()
    return set(
        session.scalars(
            select(Facility.id)
            .join(Clinic, Clinic.facility_id == Facility.id)
            .join(Slot, Slot.clinic_id == Clinic.id)
            .where(
                Facility.id.in_(facility_ids),
                Facility.kind == FacilityKind.VIRTUAL_CLINIC,
                Clinic.active.is_(True),
                Slot.blocked.is_(False),
                Slot.starts_at >= since,
            )
            .distinct()
        )
    )
