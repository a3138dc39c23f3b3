"""Request and response shapes of the video API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasPath, BaseModel, Field, computed_field, field_validator

from hub.schemas import CursorPage, FromRow, Strict, Timestamp
from video.models import ParticipantRole, RecordingStatus, SessionKind, SessionStatus


class SessionIn(Strict):
    kind: SessionKind = SessionKind.INSTANT
    # With an offset (Z or +03:30); shown to each participant in their own time zone.
    scheduled_at: Timestamp | None = None
    # Ask for a recording; it happens only when every participant consented.
    record: bool = False


class InviteIn(Strict):
    role: ParticipantRole
    username: str | None = Field(default=None, min_length=2, max_length=63)


class ConsentIn(Strict):
    consent: bool


class ParticipantOut(FromRow):
    id: int
    role: ParticipantRole
    user_id: int | None
    username: str | None = Field(default=None, validation_alias=AliasPath("user", "username"))
    admitted: bool = Field(validation_alias="admitted_at")
    recording_consent: bool = Field(validation_alias="recording_consent_at")
    # Presence: not columns of the row; the API fills them from the timeline.
    connected: bool = False
    # Time connected so far (from the timeline), for the record.
    connected_seconds: int = 0
    time_zone: str
    # The appointment in this participant's time zone (scheduled sessions).
    scheduled_local: str | None = None
    guest_expires_at: datetime | None

    @field_validator("admitted", "recording_consent", mode="before")
    @classmethod
    def _given(cls, at: datetime | bool | None) -> bool:
        # The row keeps when it happened; the API says whether it did.
        return at if isinstance(at, bool) else at is not None


class EventOut(FromRow):
    at: datetime
    kind: str
    participant_id: int | None
    details: dict[str, Any]


class RecordingOut(FromRow):
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


class SessionOut(FromRow):
    id: int
    consult_id: int
    kind: SessionKind
    status: SessionStatus
    scheduled_at: datetime | None
    created_at: datetime
    ended_at: datetime | None
    record: bool
    # Not columns of the row: the API fills them from the timeline, consents and recordings.
    recording_allowed: bool = False
    billable_seconds: int = 0
    participants: list[ParticipantOut]
    timeline: list[EventOut] = Field(default_factory=list)
    recordings: list[RecordingOut] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def join_url(self) -> str:
        return f"/video/sessions/{self.id}"


class SessionList(CursorPage):
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
    """Built from ``video.turn.ice_config`` (the browser's RTCConfiguration keys) plus the
    session, participant and bitrate cap."""

    session_id: int
    participant_id: int
    ice_servers: list[IceServerOut] = Field(validation_alias="iceServers")
    ice_transport_policy: str = Field(validation_alias="iceTransportPolicy")
    expires_at: int | None = Field(validation_alias="expiresAt")
    max_bitrate: int
