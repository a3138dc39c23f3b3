"""Teleradiology tables: which facilities may send studies for reading and which technicians
are qualified (SEEDS 004), reading requests (states after DICOM UPS), critical results with
their acknowledgement windows and timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Model, utcnow, value_enum
from imaging.models import Study


class ReadingStatus(enum.Enum):
    """The DICOM Unified Procedure Step states (PS3.4 CC.1.1)."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Urgency(enum.Enum):
    ROUTINE = "routine"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class CriticalStatus(enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"


class ReadingSite(Model):
    """A facility's teleradiology licence (SEEDS 004: only licensed centres send for reading)."""

    __tablename__ = "reading_site"
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), unique=True)
    licensed: Mapped[bool] = mapped_column(default=False)
    licence_number: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Technician(Model):
    """An imaging technician of a facility and whether they are recorded as qualified."""

    __tablename__ = "reading_technician"
    __table_args__ = (UniqueConstraint("facility_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    qualified: Mapped[bool] = mapped_column(default=False)


class ReadingRequest(Model):
    __tablename__ = "reading_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    # None when the facility's modality sent it on arrival (``sent_by_ae``, SEEDS 004 step 3).
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    sent_by_ae: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[Urgency] = mapped_column(value_enum(Urgency))
    clinical_question: Mapped[str] = mapped_column(Text)
    technician: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[ReadingStatus] = mapped_column(value_enum(ReadingStatus), index=True)
    # The radiologists the routing offered the request to, and how it chose them.
    candidate_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    routing_trace: Mapped[list[str]] = mapped_column(JSON, default=list)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    study: Mapped[Study] = relationship()


class CriticalWindow(Model):
    """The acknowledgement window of an ACR actionable-finding category, when not the default."""

    __tablename__ = "reading_critical_window"
    category: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ack_minutes: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CriticalResult(Model):
    __tablename__ = "reading_critical_result"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("reading_request.id"), index=True)
    category: Mapped[int]
    finding: Mapped[str] = mapped_column(Text)
    status: Mapped[CriticalStatus] = mapped_column(value_enum(CriticalStatus), index=True)
    escalation_level: Mapped[int] = mapped_column(default=0)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    ack_due_at: Mapped[datetime]
    # When the sweep next escalates an unacknowledged result (None once acknowledged or at top).
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None]
    ack_method: Mapped[str | None] = mapped_column(String(32))
    read_back: Mapped[str | None] = mapped_column(Text)
    request: Mapped[ReadingRequest] = relationship()
    events: Mapped[list[CriticalEvent]] = relationship(
        back_populates="result", order_by="CriticalEvent.id"
    )


class CriticalEvent(Model):
    """One step on a critical result's timeline (raised, alerted, escalated, acknowledged)."""

    __tablename__ = "reading_critical_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("reading_critical_result.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[CriticalResult] = relationship(back_populates="events")


class CriticalContact(Model):
    """Someone of a sending facility e-mailed when a critical result is raised for one of its
    studies (SEEDS 004 early warning), beside its on-duty staff's pages: a ward's shared
    address, the duty physician's phone gateway. Kept by the facility's administrators."""

    __tablename__ = "reading_critical_contact"
    __table_args__ = (UniqueConstraint("facility_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8), default="en")  # the notices' language
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
