"""Clinic calendars: slots generated from weekly availability, and appointments (book,
reschedule, cancel, check in, no-show).

A slot is held by at most one live appointment: ``appointment.live_slot_id`` is unique, so of
two bookings racing for one slot exactly one inserts its row and the other gets 409 with the
next free slots. A patient's own bookings are serialised by locking the patient's row
(PostgreSQL; SQLite has one writer), so a patient is never booked twice at one time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Patient, utcnow
from hub.permissions import can_see_patient, require
from referral import reminders
from referral import services as referrals
from referral.access import (
    keeps_calendar,
    on_receiving_side,
    on_referring_side,
    referral_visibility,
)
from referral.models import (
    Appointment,
    AppointmentStatus,
    Availability,
    Clinic,
    Referral,
    ReferralStatus,
    Slot,
    VisitMode,
    VisitSetting,
)
from referral.schemas import AppointmentIn

HORIZON = timedelta(days=62)  # the longest range one slot query may ask for
LOOKAHEAD = timedelta(days=30)  # how far ahead next free slots are looked for
NEXT_FREE = 5
LIVE_APPOINTMENT = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN})
BOOKABLE_REFERRAL = frozenset(
    {ReferralStatus.ACCEPTED, ReferralStatus.NO_SHOW, ReferralStatus.EVENT_CANCELLED}
)


def _zone(facility: Facility) -> ZoneInfo:
    try:
        return ZoneInfo(facility.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def clinics_by_code(session: Session, code: str) -> list[Clinic]:
    """The clinic with this code, or every active clinic of the facility with this code."""
    clinic = session.scalar(select(Clinic).where(Clinic.code == code))
    if clinic is not None:
        return [clinic]
    rows = list(
        session.scalars(
            select(Clinic)
            .join(Facility, Facility.id == Clinic.facility_id)
            .where(Facility.code == code, Clinic.active.is_(True))
            .order_by(Clinic.id)
        )
    )
    if not rows:
        raise NotFound("No such clinic.", details={"code": code})
    return rows


def ensure_slots(session: Session, clinic: Clinic, start: datetime, end: datetime) -> None:
    """Write the slots the clinic's weekly availability gives in [start, end) (idempotent)."""
    zone = _zone(clinic.facility)
    patterns = list(
        session.scalars(select(Availability).where(Availability.clinic_id == clinic.id))
    )
    if not patterns:
        return
    rows: list[dict[str, object]] = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        for pat in patterns:
            if day.weekday() != pat.weekday or day < pat.valid_from:
                continue
            if pat.valid_to is not None and day > pat.valid_to:
                continue
            rows.extend(_day_slots(clinic, pat, day, zone, start, end))
        day += timedelta(days=1)
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for chunk in range(0, len(rows), 500):
        stmt = insert(Slot).values(rows[chunk : chunk + 500])
        session.execute(
            stmt.on_conflict_do_nothing(index_elements=["clinic_id", "starts_at", "mode"])
        )


def _day_slots(
    clinic: Clinic, pat: Availability, day: date, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterable[dict[str, object]]:
    at = datetime.combine(day, pat.start_time, tzinfo=zone)
    stop = datetime.combine(day, pat.end_time, tzinfo=zone)
    step = timedelta(minutes=pat.slot_minutes)
    while at + step <= stop:
        utc_at = at.astimezone(UTC)
        if start <= utc_at < end:
            yield {
                "clinic_id": clinic.id,
                "starts_at": utc_at,
                "ends_at": (at + step).astimezone(UTC),
                "mode": pat.mode.value,
                "provider_id": pat.provider_id,
                "blocked": False,
            }
        at += step


def _taken(slot_ids: list[int], session: Session) -> set[int]:
    if not slot_ids:
        return set()
    return set(
        session.scalars(
            select(Appointment.live_slot_id).where(Appointment.live_slot_id.in_(slot_ids))
        )
    )


def slots(
    session: Session,
    principal: Principal,
    code: str,
    start: datetime | None,
    end: datetime | None,
    mode: VisitMode | None = None,
    free: bool | None = None,
) -> list[tuple[Slot, bool]]:
    """The clinic's slots in [start, end) with whether each is free (no patient data)."""
    require(principal, "consults:read", action="referral:slot:listed")
    start = start or utcnow()
    end = end or start + timedelta(days=14)
    if end <= start:
        raise ValidationFailed("'to' must be after 'from'.", details={"from": start, "to": end})
    if end - start > HORIZON:
        raise ValidationFailed(
            f"Ask for at most {HORIZON.days} days at a time.", details={"days": HORIZON.days}
        )
    clinics = clinics_by_code(session, code)
    for clinic in clinics:
        ensure_slots(session, clinic, start, end)
    stmt = (
        select(Slot)
        .where(
            Slot.clinic_id.in_([c.id for c in clinics]),
            Slot.starts_at >= start,
            Slot.starts_at < end,
            Slot.blocked.is_(False),
        )
        .order_by(Slot.starts_at, Slot.id)
    )
    if mode is not None:
        stmt = stmt.where(Slot.mode == mode)
    rows = list(session.scalars(stmt))
    taken = _taken([s.id for s in rows], session)
    out = [(s, s.id not in taken) for s in rows]
    if free is not None:
        out = [(s, f) for s, f in out if f is free]
    return out


def free_slots(
    session: Session, clinic: Clinic, start: datetime, end: datetime, mode: VisitMode | None = None
) -> list[Slot]:
    """The clinic's free slots in [start, end), never in the past (no patient data)."""
    start = max(start, utcnow())
    if end <= start:
        return []
    ensure_slots(session, clinic, start, end)
    taken_ids = select(Appointment.live_slot_id).where(Appointment.live_slot_id.is_not(None))
    stmt = select(Slot).where(
        Slot.clinic_id == clinic.id,
        Slot.starts_at >= start,
        Slot.starts_at < end,
        Slot.blocked.is_(False),
        Slot.id.not_in(taken_ids),
    )
    if mode is not None:
        stmt = stmt.where(Slot.mode == mode)
    return list(session.scalars(stmt.order_by(Slot.starts_at, Slot.id)))


def next_free(
    session: Session, clinic: Clinic, after: datetime, *, mode: VisitMode | None = None
) -> list[Slot]:
    """The next free slots of the clinic from ``after`` (never in the past)."""
    start = max(after, utcnow())
    ensure_slots(session, clinic, start, start + LOOKAHEAD)
    taken_ids = select(Appointment.live_slot_id).where(Appointment.live_slot_id.is_not(None))
    stmt = select(Slot).where(
        Slot.clinic_id == clinic.id,
        Slot.starts_at >= start,
        Slot.blocked.is_(False),
        Slot.id.not_in(taken_ids),
    )
    if mode is not None:
        stmt = stmt.where(Slot.mode == mode)
    return list(session.scalars(stmt.order_by(Slot.starts_at, Slot.id).limit(NEXT_FREE)))


def slot_facts(slot: Slot) -> dict[str, object]:
    return {
        "id": slot.id,
        "clinic": slot.clinic.code,
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "mode": slot.mode.value,
    }


def _conflict(session: Session, slot: Slot, code: str, message: str, **details: object) -> Conflict:
    suggestions = next_free(session, slot.clinic, slot.starts_at, mode=slot.mode)
    if not suggestions:
        suggestions = next_free(session, slot.clinic, slot.starts_at)
    return Conflict(
        message,
        code=code,
        details={**details, "next_free": [slot_facts(s) for s in suggestions if s.id != slot.id]},
    )


def _appointment(session: Session, appointment_id: int) -> Appointment | None:
    return session.get(Appointment, appointment_id)


def _may_see_appointment(session: Session, principal: Principal, appt: Appointment) -> bool:
    if keeps_calendar(session, principal, appt.slot.clinic):
        return True
    if appt.referral_id is not None:
        found = session.scalar(
            select(Referral.id).where(
                Referral.id == appt.referral_id, referral_visibility(principal)
            )
        )
        if found is not None:
            return True
    return appt.booked_by_id == principal.user_id or can_see_patient(
        session, principal, appt.patient_id
    )


def get(
    session: Session, principal: Principal, appointment_id: int, *, purpose: str | None = "viewed"
) -> Appointment:
    appt = _appointment(session, appointment_id)
    if appt is None or not _may_see_appointment(session, principal, appt):
        raise AccessDenied(
            "No such appointment.",
            action=f"referral:appointment:{purpose or 'viewed'}",
            object_type="appointment",
            object_id=appointment_id,
            hide=True,
        )
    if purpose is not None:
        audit.record(
            session,
            principal,
            f"referral:appointment:{purpose}",
            object_type="appointment",
            object_id=appt.id,
        )
    return appt


def _check_booker(
    session: Session, principal: Principal, data: AppointmentIn, slot: Slot, action: str
) -> Referral | None:
    """The referral the booking is for (checked), or None for a booking without one."""
    if data.referral_id is None:
        if not can_see_patient(session, principal, data.patient_id):
            raise ValidationFailed("Unknown patient.", details={"patient_id": data.patient_id})
        return None
    referral = referrals.get(session, principal, data.referral_id, purpose=None)
    if not (
        on_referring_side(principal, referral) or on_receiving_side(session, principal, referral)
    ):
        raise AccessDenied(
            "Only the referring or the receiving side books this referral.",
            action=action,
            object_type="referral",
            object_id=referral.id,
        )
    if referral.patient_id != data.patient_id:
        raise ValidationFailed(
            "The referral is for another patient.", details={"referral_id": referral.id}
        )
    clinic = slot.clinic
    if (
        clinic.facility_id != referral.to_facility_id
        or clinic.specialty_id != referral.specialty_id
    ):
        raise ValidationFailed(
            "The slot is not in a clinic of the facility and specialty referred to.",
            code="wrong_clinic",
            details={"slot_id": slot.id, "to_facility": referral.to_facility.code},
        )
    if referral.status is ReferralStatus.SCHEDULED:
        raise Conflict(
            "This referral already has an appointment; reschedule it instead.",
            code="already_scheduled",
            details={"appointments": [a.id for a in referral.appointments]},
        )
    if referral.status not in BOOKABLE_REFERRAL:
        raise Conflict(
            f"A referral that is {referral.status.value} cannot be booked.",
            code="not_bookable",
            details={"status": referral.status.value},
        )
    return referral


def book(
    session: Session,
    principal: Principal,
    data: AppointmentIn,
    *,
    replacing: Appointment | None = None,
    locale: str = "en",
) -> Appointment:
    """Book a slot for a patient (for a referral, or directly); 409 with the next free slots
    when the slot is taken or in the past, the patient is booked then, or the provider is."""
    action = "referral:appointment:booked"
    require(principal, "consults:write", action=action)
    if principal.user_id is None:
        raise AccessDenied("Only a person books appointments.", action=action)
    slot = session.get(Slot, data.slot_id)
    if slot is None:
        raise ValidationFailed("Unknown slot.", details={"slot_id": data.slot_id})
    referral = (
        replacing.referral
        if replacing is not None and replacing.referral is not None
        else _check_booker(session, principal, data, slot, action)
    )
    if (
        replacing is not None
        and replacing.referral is not None
        and slot.clinic.facility_id != replacing.referral.to_facility_id
    ):
        raise ValidationFailed("The slot is in another facility.", code="wrong_clinic")
    return place(
        session,
        principal,
        slot,
        data.patient_id,
        referral,
        booked_by_id=principal.user_id,
        replacing=replacing,
        setting=data.setting,
        locale=locale,
    )


def place(
    session: Session,
    principal: Principal,
    slot: Slot,
    patient_id: int,
    referral: Referral | None,
    *,
    booked_by_id: int,
    replacing: Appointment | None = None,
    setting: VisitSetting = VisitSetting.OUTPATIENT,
    locale: str = "en",
) -> Appointment:
    """Write the appointment once the caller's right to book it is checked: 409 with the next
    free slots when the slot is gone or in the past, the patient or the clinician is busy then.
    Its reminders are recorded with it."""
    action = "referral:appointment:booked"
    data = AppointmentIn(patient_id=patient_id, slot_id=slot.id)
    if slot.blocked or slot.starts_at <= utcnow():
        raise _conflict(session, slot, "slot_unavailable", "This slot can no longer be booked.")
    # Serialise this patient's bookings (PostgreSQL row lock; SQLite has one writer).
    session.execute(select(Patient.id).where(Patient.id == data.patient_id).with_for_update())
    overlapping = and_(Appointment.starts_at < slot.ends_at, Appointment.ends_at > slot.starts_at)
    busy = select(Appointment.id).where(
        Appointment.patient_id == data.patient_id,
        Appointment.status.in_(LIVE_APPOINTMENT),
        overlapping,
    )
    if replacing is not None:
        busy = busy.where(Appointment.id != replacing.id)
    if session.scalar(busy.limit(1)) is not None:
        raise _conflict(
            session, slot, "patient_double_booked", "The patient has another appointment then."
        )
    if slot.provider_id is not None:
        provider_busy = session.scalar(
            select(Appointment.id)
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(
                Slot.provider_id == slot.provider_id,
                Slot.id != slot.id,
                Appointment.status.in_(LIVE_APPOINTMENT),
                overlapping,
            )
            .limit(1)
        )
        if provider_busy is not None:
            raise _conflict(
                session, slot, "provider_unavailable", "The clinician is booked elsewhere then."
            )
    appt = Appointment(
        slot_id=slot.id,
        live_slot_id=slot.id,
        patient_id=data.patient_id,
        referral_id=referral.id if referral is not None else None,
        status=AppointmentStatus.BOOKED,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        booked_by_id=booked_by_id,
        setting=setting,
    )
    try:
        with session.begin_nested():
            session.add(appt)
            session.flush()
    except IntegrityError:
        # Another booking took the slot first (the unique live_slot_id decided).
        raise _conflict(session, slot, "slot_taken", "This slot was just booked.") from None
    if referral is not None:
        referral.status = ReferralStatus.SCHEDULED
    patient = session.get_one(Patient, data.patient_id)
    reminders.schedule(session, appt, patient.email, locale)
    audit.record(
        session,
        principal,
        action,
        object_type="appointment",
        object_id=appt.id,
        details={
            "patient_id": data.patient_id,
            "slot_id": slot.id,
            "referral_id": appt.referral_id,
        },
    )
    session.refresh(appt)
    return appt


def _act(session: Session, principal: Principal, appointment_id: int, verb: str) -> Appointment:
    require(principal, "consults:write", action=f"referral:appointment:{verb}")
    return get(session, principal, appointment_id, purpose=None)


def _require_booked(appt: Appointment, doing: str) -> None:
    if appt.status is not AppointmentStatus.BOOKED:
        raise Conflict(
            f"An appointment that is {appt.status.value} cannot be {doing}.",
            code="invalid_transition",
            details={"status": appt.status.value},
        )


def reschedule(
    session: Session, principal: Principal, appointment_id: int, slot_id: int
) -> Appointment:
    """Move a booked appointment to another slot: the new one is booked, the old one released."""
    appt = _act(session, principal, appointment_id, "rescheduled")
    _require_booked(appt, "rescheduled")
    new = book(
        session,
        principal,
        AppointmentIn(
            referral_id=appt.referral_id,
            patient_id=appt.patient_id,
            slot_id=slot_id,
            setting=appt.setting,
        ),
        replacing=appt,
    )
    return released_for(session, principal, appt, new)


def released_for(
    session: Session, principal: Principal, appt: Appointment, new: Appointment
) -> Appointment:
    """The old appointment gives its slot up for the new one it was moved to."""
    reminders.cancel_for(session, appt.id)
    appt.status = AppointmentStatus.CANCELLED
    appt.live_slot_id = None
    appt.cancelled_at = utcnow()
    appt.cancel_reason = "rescheduled"
    appt.rescheduled_to_id = new.id
    audit.record(
        session,
        principal,
        "referral:appointment:rescheduled",
        object_type="appointment",
        object_id=appt.id,
        details={"to": new.id},
    )
    return new


def cancel(session: Session, principal: Principal, appointment_id: int, reason: str) -> Appointment:
    appt = _act(session, principal, appointment_id, "cancelled")
    return cancel_booked(session, principal, appt, reason)


def cancel_booked(
    session: Session, principal: Principal, appt: Appointment, reason: str
) -> Appointment:
    """Cancel an appointment the caller may act on; its reminders are cancelled with it."""
    _require_booked(appt, "cancelled")
    reminders.cancel_for(session, appt.id)
    appt.status = AppointmentStatus.CANCELLED
    appt.live_slot_id = None
    appt.cancelled_at = utcnow()
    appt.cancel_reason = reason
    if appt.referral is not None and appt.referral.status is ReferralStatus.SCHEDULED:
        appt.referral.status = ReferralStatus.EVENT_CANCELLED
    audit.record(
        session,
        principal,
        "referral:appointment:cancelled",
        object_type="appointment",
        object_id=appt.id,
    )
    return appt


def _require_calendar(
    session: Session, principal: Principal, appt: Appointment, action: str
) -> None:
    if not keeps_calendar(session, principal, appt.slot.clinic):
        raise AccessDenied(
            "Only the clinic records visits.",
            action=action,
            object_type="appointment",
            object_id=appt.id,
        )


def check_in(session: Session, principal: Principal, appointment_id: int) -> Appointment:
    """The patient arrived (or joined the virtual visit): the referral's first visit."""
    action = "referral:appointment:checked_in"
    appt = _act(session, principal, appointment_id, "checked_in")
    _require_calendar(session, principal, appt, action)
    _require_booked(appt, "checked in")
    now = utcnow()
    appt.status = AppointmentStatus.CHECKED_IN
    appt.checked_in_at = now
    if appt.referral is not None:
        appt.referral.first_visit_at = appt.referral.first_visit_at or now
        appt.referral.status = ReferralStatus.EVENT_COMPLETED
    audit.record(session, principal, action, object_type="appointment", object_id=appt.id)
    return appt


def no_show(session: Session, principal: Principal, appointment_id: int) -> Appointment:
    action = "referral:appointment:no_show"
    appt = _act(session, principal, appointment_id, "no_show")
    _require_calendar(session, principal, appt, action)
    _require_booked(appt, "marked as not attended")
    if appt.starts_at > utcnow():
        raise Conflict("The appointment has not started yet.", code="not_started")
    appt.status = AppointmentStatus.NO_SHOW
    appt.live_slot_id = None
    reminders.cancel_for(session, appt.id)
    if appt.referral is not None and appt.referral.status is ReferralStatus.SCHEDULED:
        appt.referral.status = ReferralStatus.NO_SHOW
    audit.record(session, principal, action, object_type="appointment", object_id=appt.id)
    return appt


def calendar(
    session: Session, principal: Principal, code: str, start: datetime | None, end: datetime | None
) -> list[tuple[Slot, Appointment | None]]:
    """The clinic's slots with their live appointments, for those who keep its calendar."""
    action = "referral:calendar:viewed"
    require(principal, "consults:read", action=action)
    clinics = clinics_by_code(session, code)
    if not all(keeps_calendar(session, principal, c) for c in clinics):
        raise AccessDenied(
            "Only the clinic's staff see its calendar.",
            action=action,
            object_type="clinic",
            object_id=code,
        )
    found = slots(session, principal, code, start, end)
    ids = [s.id for s, _ in found]
    live = (
        {
            a.live_slot_id: a
            for a in session.scalars(select(Appointment).where(Appointment.live_slot_id.in_(ids)))
        }
        if ids
        else {}
    )
    audit.record(
        session,
        principal,
        action,
        object_type="clinic",
        object_id=code,
        details={"appointments": [a.id for a in live.values()]},
    )
    return [(s, live.get(s.id)) for s, _ in found]


def clinics(
    session: Session, principal: Principal, facility: str | None, specialty: str | None, mine: bool
) -> list[Clinic]:
    require(principal, "consults:read", action="referral:clinic:listed")
    stmt = (
        select(Clinic)
        .join(Facility, Facility.id == Clinic.facility_id)
        .where(Clinic.active.is_(True))
    )
    if facility is not None:
        stmt = stmt.where(Facility.code == facility)
    rows = list(session.scalars(stmt.order_by(Clinic.code)))
    if specialty is not None:
        rows = [c for c in rows if c.specialty.code == specialty]
    if mine:
        rows = [c for c in rows if keeps_calendar(session, principal, c)]
    return rows
