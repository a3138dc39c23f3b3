"""Request and response shapes of the video API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hub.schemas import Strict
from video.models import ParticipantRole, RecordingStatus, SessionKind, SessionStatus


class SessionIn(Strict):
    kind: SessionKind = SessionKind.INSTANT
    # With an offset (Z or +03:30); shown to each participant in their own time zone.
    scheduled_at: datetime | None = None
    # Ask for a recording; it happens only when every participant consented.
    record: bool = False


class InviteIn(Strict):
    role: ParticipantRole
    username: str | None = Field(default=None, min_length=2, max_length=63)


class ConsentIn(Strict):
    consent: bool


class ParticipantOut(BaseModel):
    id: int
    role: ParticipantRole
    user_id: int | None
    username: str | None
    admitted: bool
    recording_consent: bool
    connected: bool
    # Time connected so far (from the timeline), for the record.
    connected_seconds: int
    time_zone: str
    # The appointment in this participant's time zone (scheduled sessions).
    scheduled_local: str | None
    guest_expires_at: datetime | None


class EventOut(BaseModel):
    at: datetime
    kind: str
    participant_id: int | None
    details: dict[str, Any]


class RecordingOut(BaseModel):
    id: int
    participant_id: int | None
    status: RecordingStatus
    content_type: str
    size: int
    sha256: str | None
    video_frames: int
    audio_frames: int
    duration_seconds: float
    started_at: datetime
    ended_at: datetime | None
    retain_until: datetime | None


class SessionOut(BaseModel):
    id: int
    consult_id: int
    kind: SessionKind
    status: SessionStatus
    scheduled_at: datetime | None
    created_at: datetime
    ended_at: datetime | None
    record: bool
    recording_allowed: bool
    billable_seconds: int
    join_url: str
    participants: list[ParticipantOut]
    timeline: list[EventOut]
    recordings: list[RecordingOut]


class SessionList(BaseModel):
    items: list[SessionOut]


class InvitationOut(BaseModel):
    participant: ParticipantOut
    # The patient's guest link; shown once (only its hash is kept).
    guest_url: str | None


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceConfigOut(BaseModel):
    session_id: int
    participant_id: int
    ice_servers: list[IceServerOut]
    ice_transport_policy: str
    expires_at: int | None
    max_bitrate: int
