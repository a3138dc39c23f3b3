"""Referral tables: clinics (what a facility offers, who receives, when it sees patients), their
slots and appointments, referrals with their BSeR status, and the back-referral that closes the
loop.

Two rules are held by unique constraints rather than by a read-then-write, so that two requests
racing cannot both win: one live referral per patient and specialty (``referral.live_key``), and
one live appointment per slot (``appointment.live_slot_id``). Both columns are NULL once the row
is no longer live, and NULLs never collide.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import Facility, Patient, Specialty, User
from hub.models.base import Model, utcnow, value_enum


class VisitMode(enum.Enum):
    IN_PERSON = "in_person"
    VIRTUAL = "virtual"


class ReferralStatus(enum.Enum):
    """HL7 Bidirectional Services eReferral (BSeR) business statuses."""

    CREATED = "created"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SCHEDULED = "scheduled"
    NO_SHOW = "no_show"  # BSeR "unattended"
    EVENT_CANCELLED = "event_cancelled"
    EVENT_COMPLETED = "event_completed"
    CANCELLATION_REQUESTED = "cancellation_requested"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class VisitSetting(enum.Enum):
    """Whether the patient is seen as an outpatient or while admitted (a remote ward round)."""

    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"


class ReminderStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt; ``last_error`` says why
    CANCELLED = "cancelled"  # the appointment was cancelled or moved before it was due


class AppointmentStatus(enum.Enum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class Clinic(Model):
    """A calendar of one facility for one specialty: what the facility offers to referrals."""

    __tablename__ = "clinic"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    facility: Mapped[Facility] = relationship()
    specialty: Mapped[Specialty] = relationship()
    members: Mapped[list[ClinicMember]] = relationship(back_populates="clinic")
    availability: Mapped[list[Availability]] = relationship(back_populates="clinic")


class ClinicMember(Model):
    """A clinician who receives the clinic's referrals: its own staff or contracted from
    anywhere (a virtual clinic's specialists work at other facilities)."""

    __tablename__ = "clinic_member"
    __table_args__ = (UniqueConstraint("clinic_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    contracted: Mapped[bool] = mapped_column(default=False)
    clinic: Mapped[Clinic] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class Availability(Model):
    """A weekly recurring pattern: on ``weekday`` from ``start`` to ``end`` (the facility's local
    time), slots of ``slot_minutes``, from ``valid_from`` on."""

    __tablename__ = "clinic_availability"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 480", name="slot_minutes_range"),
        CheckConstraint("start_time < end_time", name="start_before_end"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    weekday: Mapped[int]  # Monday 0 .. Sunday 6
    start_time: Mapped[time]
    end_time: Mapped[time]
    slot_minutes: Mapped[int]
    mode: Mapped[VisitMode] = mapped_column(value_enum(VisitMode))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    clinic: Mapped[Clinic] = relationship(back_populates="availability")


class Slot(Model):
    """One bookable time of a clinic, generated from its availability."""

    __tablename__ = "clinic_slot"
    __table_args__ = (UniqueConstraint("clinic_id", "starts_at", "mode"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    mode: Mapped[VisitMode] = mapped_column(value_enum(VisitMode))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    blocked: Mapped[bool] = mapped_column(default=False)
    clinic: Mapped[Clinic] = relationship()


class Referral(Model):
    __tablename__ = "referral"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"))
    from_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    to_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(Text)
    consult_id: Mapped[int | None] = mapped_column(index=True)  # the consult it came from
    letter_document_id: Mapped[str | None] = mapped_column(String(64))  # signed referral letter
    status: Mapped[ReferralStatus] = mapped_column(value_enum(ReferralStatus), index=True)
    # "<patient id>:<specialty id>" while live, else NULL: one live referral per pair.
    live_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    receiving_clinician_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    first_visit_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    patient: Mapped[Patient] = relationship()
    specialty: Mapped[Specialty] = relationship()
    from_facility: Mapped[Facility] = relationship(foreign_keys=[from_facility_id])
    to_facility: Mapped[Facility] = relationship(foreign_keys=[to_facility_id])
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    receiving_clinician: Mapped[User | None] = relationship(foreign_keys=[receiving_clinician_id])
    back_referral: Mapped[BackReferral | None] = relationship(back_populates="referral")
    appointments: Mapped[list[Appointment]] = relationship(
        back_populates="referral", order_by="Appointment.id"
    )


class BackReferral(Model):
    """The receiving clinician's structured answer to the referring health post."""

    __tablename__ = "back_referral"
    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    summary: Mapped[str] = mapped_column(Text)
    findings: Mapped[str | None] = mapped_column(Text)
    treatment: Mapped[str | None] = mapped_column(Text)
    medication: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    referral: Mapped[Referral] = relationship(back_populates="back_referral")
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    tasks: Mapped[list[BackReferralTask]] = relationship(
        back_populates="back_referral", order_by="BackReferralTask.id"
    )


class BackReferralTask(Model):
    __tablename__ = "back_referral_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    back_referral_id: Mapped[int] = mapped_column(ForeignKey("back_referral.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    due: Mapped[date | None] = mapped_column(index=True)
    done_at: Mapped[datetime | None]
    back_referral: Mapped[BackReferral] = relationship(back_populates="tasks")


class Appointment(Model):
    __tablename__ = "appointment"
    __table_args__ = (Index("ix_appointment_patient_status", "patient_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("clinic_slot.id"), index=True)
    # The slot's id while the appointment holds it (booked or checked in), else NULL.
    live_slot_id: Mapped[int | None] = mapped_column(unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    status: Mapped[AppointmentStatus] = mapped_column(value_enum(AppointmentStatus))
    starts_at: Mapped[datetime]  # copied from the slot: double-booking checks need no join
    ends_at: Mapped[datetime]
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_in_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    rescheduled_to_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    setting: Mapped[VisitSetting] = mapped_column(
        value_enum(VisitSetting), default=VisitSetting.OUTPATIENT, server_default="outpatient"
    )
    # A virtual visit is held as a video session of a video-mode consult opened for it (ids
    # only: those rows belong to the consult and video packages).
    visit_consult_id: Mapped[int | None] = mapped_column(index=True, unique=True)
    video_session_id: Mapped[int | None]
    slot: Mapped[Slot] = relationship()
    patient: Mapped[Patient] = relationship()
    referral: Mapped[Referral | None] = relationship(back_populates="appointments")


class WaitTarget(Model):
    """A region's targets: days from referral to first visit, and from the visit to the
    back-referral (what the open-loop lists and breaches are measured against). A row with a
    specialty overrides the region's row without one for that specialty."""

    __tablename__ = "referral_wait_target"
    __table_args__ = (UniqueConstraint("region_id", "specialty_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"))
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialty.id"))
    wait_days: Mapped[int] = mapped_column(default=14)
    back_referral_days: Mapped[int] = mapped_column(default=7)


class BookingLink(Model):
    """A patient's link to book, move or cancel their own appointment without an account.

    Only the SHA-256 of the link's token is kept (as for video guest links); revoking clears
    it, so no token can match again. ``window_*`` count the link's requests for its rate limit.
    """

    __tablename__ = "booking_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"), index=True)
    # The appointment the patient holds through this link (the latest one booked or moved to).
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    window_started_at: Mapped[datetime | None]
    window_count: Mapped[int] = mapped_column(default=0)
    patient: Mapped[Patient] = relationship()
    clinic: Mapped[Clinic] = relationship()
    referral: Mapped[Referral | None] = relationship()
    appointment: Mapped[Appointment | None] = relationship()


class Reminder(Model):
    """A reminder of an appointment to send ``lead_minutes`` before it, by ``channel``."""

    __tablename__ = "appointment_reminder"
    __table_args__ = (
        UniqueConstraint("appointment_id", "lead_minutes"),
        Index("ix_appointment_reminder_status_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"))
    lead_minutes: Mapped[int]
    channel: Mapped[str] = mapped_column(String(16), default="email")
    recipient: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    due_at: Mapped[datetime]
    status: Mapped[ReminderStatus] = mapped_column(value_enum(ReminderStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    appointment: Mapped[Appointment] = relationship()
