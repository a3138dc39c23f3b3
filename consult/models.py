"""Consultations, their offers, timeline, conversation, attachments and outcome; rosters."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import Facility, Patient, Specialty, User
from hub.models.base import Model, utcnow, value_enum


class ConsultStatus(enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    ANSWERED = "answered"
    SIGNED = "signed"
    CLOSED = "closed"
    DECLINED = "declined"
    ESCALATED = "escalated"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Urgency(enum.Enum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"


class Mode(enum.Enum):
    ASYNC = "async"
    VIDEO = "video"
    PHONE = "phone"


class TechLevel(enum.Enum):
    BASIC = "basic"
    STANDARD = "standard"
    ADVANCED = "advanced"


class OfferState(enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Disposition(enum.Enum):
    MANAGE_LOCALLY = "manage_locally"
    REFER = "refer"
    TRANSFER_URGENTLY = "transfer_urgently"
    FOLLOW_UP = "follow_up"


class OutcomeStatus(enum.Enum):
    PENDING_SIGNATURE = "pending_signature"
    SIGNED = "signed"


class AttachmentKind(enum.Enum):
    PHOTO = "photo"
    PDF = "pdf"
    ECG = "ecg"
    AUDIO = "audio"
    PAPER_FORM = "paper_form"  # the basic level's form stamped and signed by both sides


class SpecialistState(enum.Enum):
    AVAILABLE = "available"
    BUSY = "busy"
    ON_BREAK = "on_break"
    OFF_SHIFT = "off_shift"


class Consult(Model):
    __tablename__ = "consult"
    __table_args__ = (
        UniqueConstraint("requester_id", "idempotency_key"),
        Index("ix_consult_status_accept_due", "status", "accept_due_at"),
        # A specialist's open cases (routing counts them for everyone it considers).
        Index("ix_consult_assigned_to_status", "assigned_to_id", "status"),
        # The queue board: a region's open consults among all its closed ones.
        Index("ix_consult_region_status", "region_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    requester_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"), index=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"))
    urgency: Mapped[Urgency] = mapped_column(value_enum(Urgency))
    mode: Mapped[Mode] = mapped_column(value_enum(Mode))
    tech_level: Mapped[TechLevel] = mapped_column(value_enum(TechLevel))
    question: Mapped[str] = mapped_column(Text)
    history: Mapped[str | None] = mapped_column(Text)
    vitals: Mapped[dict[str, Any]]
    status: Mapped[ConsultStatus] = mapped_column(value_enum(ConsultStatus), index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A phone consult at the basic level is registered after it happened (SEEDS 001).
    registered_after: Mapped[bool] = mapped_column(default=False)
    escalation_stage: Mapped[int] = mapped_column(default=0)
    routing_trace: Mapped[list[str]]
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    accept_due_at: Mapped[datetime | None]
    answer_due_at: Mapped[datetime | None]
    answer_alerted: Mapped[bool] = mapped_column(default=False)

    patient: Mapped[Patient] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    requester_facility: Mapped[Facility] = relationship()
    specialty: Mapped[Specialty] = relationship()
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    offers: Mapped[list[ConsultOffer]] = relationship(
        back_populates="consult", order_by="ConsultOffer.id"
    )
    events: Mapped[list[ConsultEvent]] = relationship(
        back_populates="consult", order_by="ConsultEvent.id"
    )
    outcome: Mapped[Outcome | None] = relationship(back_populates="consult")


class ConsultOffer(Model):
    __tablename__ = "consult_offer"
    __table_args__ = (UniqueConstraint("consult_id", "specialist_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), index=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    state: Mapped[OfferState] = mapped_column(value_enum(OfferState))
    stage: Mapped[int] = mapped_column(default=0)
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    consult: Mapped[Consult] = relationship(back_populates="offers")
    specialist: Mapped[User] = relationship()


class ConsultEvent(Model):
    """The consult's timeline: every transition, offer, escalation and alert."""

    __tablename__ = "consult_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    details: Mapped[dict[str, Any]]
    consult: Mapped[Consult] = relationship(back_populates="events")


class Attachment(Model):
    __tablename__ = "consult_attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[AttachmentKind] = mapped_column(value_enum(AttachmentKind))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Model):
    __tablename__ = "consult_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(Text)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("consult_attachment.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[User] = relationship()
    attachment: Mapped[Attachment | None] = relationship()


class Outcome(Model):
    __tablename__ = "consult_outcome"
    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    assessment: Mapped[str] = mapped_column(Text)
    recommendation: Mapped[str] = mapped_column(Text)
    disposition: Mapped[Disposition] = mapped_column(value_enum(Disposition))
    prescription: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    status: Mapped[OutcomeStatus] = mapped_column(value_enum(OutcomeStatus))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_at: Mapped[datetime | None]
    consult: Mapped[Consult] = relationship(back_populates="outcome")
    tasks: Mapped[list[FollowUpTask]] = relationship(
        back_populates="outcome", order_by="FollowUpTask.id"
    )


class FollowUpTask(Model):
    """Work the health post does after the specialist's advice."""

    __tablename__ = "consult_follow_up_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("consult_outcome.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date | None]
    done_at: Mapped[datetime | None]
    outcome: Mapped[Outcome] = relationship(back_populates="tasks")


class Shift(Model):
    """An on-call interval of a specialist, for one specialty at one facility (its tier)."""

    __tablename__ = "roster_shift"
    # Routing looks for shifts not ended yet: keyed on the end, past shifts (a growing history)
    # are never scanned; on PostgreSQL the rest of the row routing needs is in the index.
    __table_args__ = (
        Index(
            "ix_roster_shift_on_call",
            "specialty_id",
            "ends_at",
            postgresql_include=["starts_at", "specialist_id", "facility_id"],
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    specialist: Mapped[User] = relationship()
    facility: Mapped[Facility] = relationship()


class RosterRevision(Model):
    """One row: a random value that database triggers replace on every change to shifts or to
    a facility (migration 0011), so a process keeping the roster in memory (consult.oncall)
    sees in one column whether what it keeps is current. Random rather than a counter, so a
    rolled-back change or another database never shows a value already seen."""

    __tablename__ = "roster_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class SpecialistStatus(Model):
    """Live availability; one row per specialist, created on first use."""

    __tablename__ = "specialist_status"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    state: Mapped[SpecialistState] = mapped_column(value_enum(SpecialistState))
    paused_until: Mapped[datetime | None]
    max_concurrent: Mapped[int] = mapped_column(default=5)
    last_assigned_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaPolicy(Model):
    """Targets per urgency; a row with no region is the national default."""

    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("region_id", "urgency"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("macro_region.id"))
    urgency: Mapped[Urgency] = mapped_column(value_enum(Urgency))
    accept_minutes: Mapped[int]
    answer_minutes: Mapped[int]
