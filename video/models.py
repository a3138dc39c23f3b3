"""Video session tables: sessions of a consult, their participants, timeline and recordings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import User
from hub.models.base import Model, utcnow, value_enum


class SessionKind(enum.Enum):
    INSTANT = "instant"
    SCHEDULED = "scheduled"


class SessionStatus(enum.Enum):
    OPEN = "open"
    ENDED = "ended"


class ParticipantRole(enum.Enum):
    REQUESTER = "requester"
    SPECIALIST = "specialist"
    SECOND_SPECIALIST = "second_specialist"
    INTERPRETER = "interpreter"
    PATIENT = "patient"  # joins through a time-limited guest link, without an account
    RECORDER = "recorder"  # the hub's media worker; never counted as a person


class RecordingStatus(enum.Enum):
    RECORDING = "recording"
    VALID = "valid"
    INVALID = "invalid"


class VideoSession(Model):
    """A video session of a consult in video mode, instant or at an appointment time."""

    __tablename__ = "video_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), index=True)
    kind: Mapped[SessionKind] = mapped_column(value_enum(SessionKind))
    status: Mapped[SessionStatus] = mapped_column(value_enum(SessionStatus))
    scheduled_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # Whether the session is to be recorded; it is only when every participant consented.
    record: Mapped[bool] = mapped_column(default=False)
    # The media worker process recording it, and until when its claim holds (renewed while it
    # records, so a crashed worker's session is taken over by another).
    recorder_worker: Mapped[str | None] = mapped_column(String(64))
    recorder_lease_until: Mapped[datetime | None]

    participants: Mapped[list[VideoParticipant]] = relationship(
        back_populates="session", order_by="VideoParticipant.id"
    )


class VideoParticipant(Model):
    """Someone invited to a session: a user, or the patient through a guest link."""

    __tablename__ = "video_participant"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("video_session.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[ParticipantRole] = mapped_column(value_enum(ParticipantRole))
    # Guests: only the SHA-256 of the link's token is kept.
    guest_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    guest_expires_at: Mapped[datetime | None]
    # The specialist's side is admitted at once; others wait until the specialist admits them.
    admitted_at: Mapped[datetime | None]
    recording_consent_at: Mapped[datetime | None]
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[VideoSession] = relationship(back_populates="participants")
    user: Mapped[User | None] = relationship()  # None for a patient's guest link


class VideoEvent(Model):
    """The session timeline: joins, leaves, admissions, refusals, quality samples, recordings."""

    __tablename__ = "video_event"
    __table_args__ = (Index("ix_video_event_session_at", "session_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("video_session.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("video_participant.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class VideoRecording(Model):
    """One recorded leg (a participant's audio and video) kept with the consult."""

    __tablename__ = "video_recording"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("video_session.id"), index=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("video_participant.id"))
    status: Mapped[RecordingStatus] = mapped_column(value_enum(RecordingStatus))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    video_frames: Mapped[int] = mapped_column(default=0)
    audio_frames: Mapped[int] = mapped_column(default=0)
    duration_seconds: Mapped[float] = mapped_column(default=0.0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # A conversation is part of the record (SEEDS 001); kept at least as long as reports.
    retain_until: Mapped[datetime | None] = mapped_column(index=True)
    # Set when retention removed the file; the row stays as the record that it existed.
    deleted_at: Mapped[datetime | None]
