"""A booked virtual appointment held as a video session (SEEDS 001 step 4).

The visit's clinician starts it from the appointment or referral page: the consult package
opens an accepted video-mode consult for the visit (requested by the referring health worker,
held by the clinician) and the video package opens its session, with both of them in it; the
patient joins through the session's guest link. Starting again returns the open session, or
opens a new one on the same consult after the first ended. The visit is then signed and billed
as any video consult.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from consult import services as consults
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict
from hub.models import Role, utcnow
from referral import booking
from referral.access import keeps_calendar
from referral.models import Appointment, AppointmentStatus, VisitMode
from video import services as video
from video.schemas import SessionKind

STARTABLE = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN})


@dataclass(frozen=True)
class Visit:
    appointment: Appointment
    consult_id: int
    video_session_id: int

    @property
    def join_url(self) -> str:
        return f"/video/sessions/{self.video_session_id}"


def clinician_of(appt: Appointment) -> int | None:
    """Who holds the visit: the slot's provider, else the referral's receiving clinician."""
    if appt.slot.provider_id is not None:
        return appt.slot.provider_id
    return appt.referral.receiving_clinician_id if appt.referral is not None else None


def holder_for(session: Session, principal: Principal, appt: Appointment) -> int | None:
    """Who holds the visit for this reader: the specialist of its consult once it has one, else
    the named clinician, else (a direct booking with no provider) a specialist of the clinic who
    opens it."""
    if appt.visit_consult_id is not None:
        facts = consults.facts(session, appt.visit_consult_id)
        if facts is not None and facts.assigned_to_id is not None:
            return facts.assigned_to_id
    named = clinician_of(appt)
    if named is not None:
        return named
    if principal.has_role(Role.SPECIALIST) and keeps_calendar(session, principal, appt.slot.clinic):
        return principal.user_id
    return None


def requester_of(appt: Appointment) -> int:
    """Who asked for the visit: the referring health worker, else whoever booked it."""
    return appt.referral.requester_id if appt.referral is not None else appt.booked_by_id


@dataclass(frozen=True)
class PageState:
    """What an appointment's pages offer about its video visit to one reader."""

    open: bool  # the visit's video session is open now
    member: bool  # the reader is in that session (its clinician or requester)
    can_start: bool  # the reader is the clinician and the visit can be held
    startable: bool  # the visit can be held (by its clinician)


def page_state(session: Session, principal: Principal, appt: Appointment) -> PageState:
    startable = appt.slot.mode is VisitMode.VIRTUAL and appt.status in STARTABLE
    holder = holder_for(session, principal, appt)
    me = principal.user_id
    return PageState(
        open=startable and video.is_open(session, appt.video_session_id),
        member=me is not None and me in (holder, requester_of(appt)),
        can_start=startable and me is not None and me == holder,
        startable=startable,
    )


def start(session: Session, principal: Principal, appointment_id: int) -> Visit:
    """Open (or return) the video session of a virtual appointment; its clinician only."""
    action = "referral:appointment:video_started"
    appt = booking.get(session, principal, appointment_id, purpose=None)
    holder = holder_for(session, principal, appt)
    if principal.user_id is None or principal.user_id != holder:
        raise AccessDenied(
            "Only the visit's clinician starts its video session.",
            action=action,
            object_type="appointment",
            object_id=appt.id,
        )
    assert holder is not None
    if appt.slot.mode is not VisitMode.VIRTUAL:
        raise Conflict("This appointment is an in-person visit.", code="not_virtual")
    if appt.status not in STARTABLE:
        raise Conflict(
            f"An appointment that is {appt.status.value} has no visit to start.",
            code="invalid_transition",
            details={"status": appt.status.value},
        )
    if appt.visit_consult_id is not None and video.is_open(session, appt.video_session_id):
        assert appt.video_session_id is not None
        return Visit(appt, appt.visit_consult_id, appt.video_session_id)
    if appt.visit_consult_id is None:
        referral = appt.referral
        appt.visit_consult_id = consults.open_for_visit(
            session,
            principal,
            patient_id=appt.patient_id,
            specialty_id=appt.slot.clinic.specialty_id,
            requester_id=requester_of(appt),
            clinician_id=holder,
            question=referral.reason if referral is not None else "Virtual visit",
        )
    scheduled = appt.starts_at > utcnow()
    opened = video.create(
        session,
        principal,
        appt.visit_consult_id,
        kind=SessionKind.SCHEDULED if scheduled else SessionKind.INSTANT,
        scheduled_at=appt.starts_at if scheduled else None,
        record=False,
    )
    appt.video_session_id = opened.id
    audit.record(
        session,
        principal,
        action,
        object_type="appointment",
        object_id=appt.id,
        details={"consult_id": appt.visit_consult_id, "video_session_id": opened.id},
    )
    session.flush()
    return Visit(appt, appt.visit_consult_id, opened.id)
