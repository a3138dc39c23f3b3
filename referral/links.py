"""The patient's booking link: minted by the health post or the clinic for a referral (or a
patient and a clinic), it lets the patient, without an account, see the clinic's free slots and
book, move or cancel their own appointment.

A link works like a video guest link (the same token and hashing, ``video.services``): the
token is shown once, only its SHA-256 is kept, it expires, and revoking clears the hash so that
no token can match again. What the link shows of the patient is their first name and their
appointment. Each link may make :data:`RATE_MAX` requests per :data:`RATE_WINDOW`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, HubError, NotFound, ValidationFailed
from hub.models import Patient, utcnow
from hub.permissions import can_see_patient, require
from referral import booking
from referral import services as referrals
from referral.access import STAFF_ROLES, keeps_calendar, on_receiving_side, on_referring_side
from referral.models import (
    Appointment,
    AppointmentStatus,
    BookingLink,
    Clinic,
    ReferralStatus,
    Slot,
)
from video import services as video

DEFAULT_DAYS = 14
MAX_DAYS = 60
RATE_WINDOW = timedelta(minutes=10)
RATE_MAX = 60
SHOW_DAYS = 21  # how far ahead the patient's page lists free slots
UNKNOWN = "This booking link is unknown, has expired or was withdrawn."
# Referral statuses in which the patient may book, move or cancel through the link.
OPEN_REFERRAL = booking.BOOKABLE_REFERRAL | {ReferralStatus.SCHEDULED}


class RateLimited(HubError):
    status = 429
    code = "rate_limited"


@dataclass(frozen=True)
class MintedLink:
    link: BookingLink
    token: str  # shown once; only its hash is kept

    @property
    def path(self) -> str:
        return f"/book/{self.token}"


def guest_principal(link: BookingLink) -> Principal:
    """The patient acting through their booking link, as the audit log names them."""
    return Principal(kind="guest", via="booking_link", client_id=f"booking-link:{link.id}")


def _clinic(session: Session, code: str) -> Clinic:
    clinic = session.scalar(select(Clinic).where(Clinic.code == code, Clinic.active.is_(True)))
    if clinic is None:
        raise ValidationFailed("Unknown clinic.", details={"clinic": code})
    return clinic


def mint(
    session: Session,
    principal: Principal,
    *,
    referral_id: int | None,
    patient_id: int | None,
    clinic_code: str | None,
    days: int = DEFAULT_DAYS,
) -> MintedLink:
    """A booking link for a referral (its clinic), or for a patient at a clinic whose calendar
    the caller keeps."""
    action = "referral:booking_link:created"
    require(principal, "consults:write", action=action)
    if principal.user_id is None or not principal.roles & STAFF_ROLES:
        raise AccessDenied("Only facility staff give booking links.", action=action)
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"A link lasts 1 to {MAX_DAYS} days.", details={"days": days})
    appointment: Appointment | None = None
    if referral_id is not None:
        referral = referrals.get(session, principal, referral_id, purpose=None)
        if not (
            on_referring_side(principal, referral)
            or on_receiving_side(session, principal, referral)
        ):
            raise AccessDenied(
                "Only the referring or the receiving side gives this referral's link.",
                action=action,
                object_type="referral",
                object_id=referral.id,
            )
        if referral.status not in OPEN_REFERRAL:
            raise Conflict(
                f"A referral that is {referral.status.value} cannot be booked.",
                code="not_bookable",
                details={"status": referral.status.value},
            )
        if clinic_code is not None:
            clinic = _clinic(session, clinic_code)
            if (clinic.facility_id, clinic.specialty_id) != (
                referral.to_facility_id,
                referral.specialty_id,
            ):
                raise ValidationFailed(
                    "The clinic is not of the facility and specialty referred to.",
                    code="wrong_clinic",
                )
        else:
            found = referrals.offering_clinic(
                session, referral.to_facility_id, referral.specialty_id
            )
            if found is None:
                raise Conflict("The receiving facility has no open clinic.", code="no_clinic")
            clinic = found
        patient = referral.patient
        appointment = next(
            (a for a in referral.appointments if a.status is AppointmentStatus.BOOKED), None
        )
    else:
        if patient_id is None or clinic_code is None:
            raise ValidationFailed("Give a referral, or a patient and a clinic.")
        clinic = _clinic(session, clinic_code)
        if not keeps_calendar(session, principal, clinic):
            raise AccessDenied(
                "Only the clinic's staff give links to its calendar without a referral.",
                action=action,
                object_type="clinic",
                object_id=clinic.code,
            )
        if not can_see_patient(session, principal, patient_id):
            raise ValidationFailed("Unknown patient.", details={"patient_id": patient_id})
        patient = session.get_one(Patient, patient_id)
        referral = None
    token = secrets.token_urlsafe(32)
    link = BookingLink(
        token_hash=video.hash_token(token),
        patient_id=patient.id,
        clinic_id=clinic.id,
        referral_id=referral.id if referral is not None else None,
        appointment_id=appointment.id if appointment is not None else None,
        created_by_id=principal.user_id,
        expires_at=utcnow() + timedelta(days=days),
        window_count=0,
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="booking_link",
        object_id=link.id,
        details={
            "patient_id": patient.id,
            "referral_id": link.referral_id,
            "clinic": clinic.code,
            "days": days,
        },
    )
    return MintedLink(link, token)


def revoke(session: Session, principal: Principal, link_id: int) -> BookingLink:
    """Withdraw a link: it never opens again (its appointment stays booked)."""
    action = "referral:booking_link:revoked"
    require(principal, "consults:write", action=action)
    link = session.get(BookingLink, link_id)
    allowed = link is not None and (
        link.created_by_id == principal.user_id
        or keeps_calendar(session, principal, link.clinic)
        or (
            link.referral is not None
            and (
                on_referring_side(principal, link.referral)
                or on_receiving_side(session, principal, link.referral)
            )
        )
    )
    if link is None or not allowed:
        raise AccessDenied(
            "No such booking link.",
            action=action,
            object_type="booking_link",
            object_id=link_id,
            hide=True,
        )
    if link.token_hash is None:
        raise Conflict("This booking link was already withdrawn.", code="already_revoked")
    link.token_hash = None
    link.revoked_at = utcnow()
    audit.record(session, principal, action, object_type="booking_link", object_id=link.id)
    return link


def of_referral(session: Session, principal: Principal, referral_id: int) -> list[BookingLink]:
    """The referral's links (for the referral page), newest first."""
    referral = referrals.get(session, principal, referral_id, purpose=None)
    return list(
        session.scalars(
            select(BookingLink)
            .where(BookingLink.referral_id == referral.id)
            .order_by(BookingLink.id.desc())
        )
    )


def is_active(link: BookingLink, now: datetime | None = None) -> bool:
    return link.token_hash is not None and link.expires_at > (now or utcnow())


def open_link(session: Session, token: str, *, now: datetime | None = None) -> BookingLink:
    """The link a token opens, counted against its rate limit; 404 when unknown, expired or
    withdrawn (which of them is not told), 429 over the limit."""
    now = now or utcnow()
    if not token or len(token) > 200:
        raise NotFound(UNKNOWN, code="link_unknown")
    link = session.scalar(
        select(BookingLink)
        .where(BookingLink.token_hash == video.hash_token(token))
        .with_for_update()
    )
    if link is None or not is_active(link, now):
        raise NotFound(UNKNOWN, code="link_unknown")
    if link.window_started_at is None or link.window_started_at + RATE_WINDOW <= now:
        link.window_started_at, link.window_count = now, 0
    link.window_count += 1
    if link.window_count > RATE_MAX:
        retry = int((link.window_started_at + RATE_WINDOW - now).total_seconds()) + 1
        # The counter itself must be kept although the request is refused.
        session.commit()
        raise RateLimited(
            "Too many requests through this link; wait a few minutes.",
            details={"retry_after": retry},
        )
    return link


def current_appointment(session: Session, link: BookingLink) -> Appointment | None:
    """The live appointment the patient holds through the link, if any (following the moves
    the clinic made since)."""
    appt = link.appointment
    seen: set[int] = set()
    while appt is not None and appt.rescheduled_to_id is not None and appt.id not in seen:
        seen.add(appt.id)
        appt = session.get(Appointment, appt.rescheduled_to_id)
    if appt is not None and appt.status is AppointmentStatus.BOOKED:
        return appt
    # Booked by the clinic or the health post after the link was given: the referral's own.
    if link.referral is not None:
        return next(
            (a for a in link.referral.appointments if a.status is AppointmentStatus.BOOKED), None
        )
    return None


def free_slots(session: Session, link: BookingLink) -> list[Slot]:
    now = utcnow()
    return booking.free_slots(session, link.clinic, now, now + timedelta(days=SHOW_DAYS))


def _slot_for(session: Session, link: BookingLink, slot_id: int) -> Slot:
    slot = session.get(Slot, slot_id)
    if slot is None or slot.clinic_id != link.clinic_id:
        raise ValidationFailed("That time is not one of this clinic's.", code="wrong_clinic")
    return slot


def _require_open_referral(link: BookingLink) -> None:
    if link.referral is not None and link.referral.status not in OPEN_REFERRAL:
        raise Conflict(
            "This referral can no longer be booked; call the clinic.",
            code="not_bookable",
            details={"status": link.referral.status.value},
        )


def book(session: Session, link: BookingLink, slot_id: int, locale: str) -> Appointment:
    """The patient books a slot through the link (409 with next free slots if it is gone)."""
    principal = guest_principal(link)
    _require_open_referral(link)
    if current_appointment(session, link) is not None:
        raise Conflict(
            "You already have an appointment; move it instead.", code="already_scheduled"
        )
    slot = _slot_for(session, link, slot_id)
    referral = link.referral
    if referral is not None and referral.status is ReferralStatus.SCHEDULED:
        raise Conflict(
            "This referral already has an appointment; call the clinic to move it.",
            code="already_scheduled",
        )
    appt = booking.place(
        session,
        principal,
        slot,
        link.patient_id,
        referral,
        booked_by_id=link.created_by_id,
        locale=locale,
    )
    link.appointment_id, link.appointment = appt.id, appt
    return appt


def reschedule(session: Session, link: BookingLink, slot_id: int, locale: str) -> Appointment:
    """The patient moves their appointment to another free slot of the clinic."""
    principal = guest_principal(link)
    _require_open_referral(link)
    appt = current_appointment(session, link)
    if appt is None:
        raise Conflict("You have no appointment to move.", code="no_appointment")
    slot = _slot_for(session, link, slot_id)
    new = booking.place(
        session,
        principal,
        slot,
        link.patient_id,
        appt.referral,
        booked_by_id=link.created_by_id,
        replacing=appt,
        setting=appt.setting,
        locale=locale,
    )
    booking.released_for(session, principal, appt, new)
    link.appointment_id, link.appointment = new.id, new
    return new


def cancel(session: Session, link: BookingLink) -> Appointment:
    """The patient cancels their appointment."""
    appt = current_appointment(session, link)
    if appt is None:
        raise Conflict("You have no appointment to cancel.", code="no_appointment")
    return booking.cancel_booked(
        session, guest_principal(link), appt, "cancelled by the patient (booking link)"
    )


def viewed(session: Session, link: BookingLink) -> None:
    audit.record(
        session,
        guest_principal(link),
        "referral:booking_link:viewed",
        object_type="booking_link",
        object_id=link.id,
    )
