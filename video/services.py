"""Video sessions of consults: creation, participants, guest links, joining, timeline, billing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import services as consults
from consult.schemas import ConsultFacts, Mode
from hub import audit, db
from hub.auth.principal import Principal
from hub.config import VideoSettings
from hub.errors import AccessDenied, Conflict, Gone, NotFound, ValidationFailed
from hub.models import ConsentScope, Role, User, utcnow
from hub.permissions import require
from hub.services.patients import has_active_consent
from video import timeline
from video.models import (
    ParticipantRole,
    SessionKind,
    SessionStatus,
    VideoEvent,
    VideoParticipant,
    VideoRecording,
    VideoSession,
)

# Who waits in the waiting room until the specialist's side admits them.
HOSTS = frozenset({ParticipantRole.SPECIALIST, ParticipantRole.SECOND_SPECIALIST})
PEOPLE = frozenset(ParticipantRole) - {ParticipantRole.RECORDER}


def _zone(name: str | None) -> str:
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def _user_zone(user: User) -> str:
    if user.timezone:
        return _zone(user.timezone)
    return _zone(user.facility.timezone if user.facility is not None else None)


def _facts(session: Session, consult_id: int) -> ConsultFacts:
    # A session's consult always exists (a foreign key); its facts need no second check.
    found = consults.facts(session, consult_id)
    assert found is not None
    return found


def specialist_of(session: Session, video: VideoSession) -> int | None:
    """The user id of the session's consultant (whose connected time is billed)."""
    return _facts(session, video.consult_id).assigned_to_id


def chat_allowed(session: Session, principal: Principal, video: VideoSession) -> bool:
    """Whether the caller takes part in the consult's conversation (its chat)."""
    return _facts(session, video.consult_id).is_participant(principal)


def visible_session(
    session: Session, principal: Principal, session_id: int, purpose: str
) -> VideoSession:
    """The session, if the caller may see its consult (checked and audited by the consult)."""
    video = session.get(VideoSession, session_id)
    if video is None:
        raise NotFound("Not found.")
    try:
        consults.get(session, principal, video.consult_id, purpose="viewed")
    except NotFound:
        raise NotFound("Not found.") from None
    except AccessDenied as exc:
        raise AccessDenied(
            action=f"video:session:{purpose}",
            object_type="video_session",
            object_id=session_id,
            hide=True,
            details=exc.details,
        ) from None
    return video


def as_participant(
    session: Session, principal: Principal, session_id: int, action: str
) -> tuple[VideoSession, VideoParticipant]:
    """The session and the caller's place in it. Participants need not see the consult (an
    interpreter or second specialist from elsewhere); anyone else is refused and audited, as
    not found when they cannot see the consult either."""
    video = session.get(VideoSession, session_id)
    me = participant_of(video, principal) if video is not None else None
    if video is None or me is None:
        visible_session(session, principal, session_id, action.rsplit(":", 1)[1])
        raise AccessDenied(
            "Only the session's participants can do this.",
            action=action,
            object_type="video_session",
            object_id=session_id,
        )
    return video, me


def participant_of(video: VideoSession, principal: Principal) -> VideoParticipant | None:
    if principal.user_id is None:
        return None
    for person in video.participants:
        if person.user_id == principal.user_id:
            return person
    return None


def create(
    session: Session,
    principal: Principal,
    consult_id: int,
    *,
    kind: SessionKind,
    scheduled_at: datetime | None,
    record: bool,
) -> VideoSession:
    """Open the video session of a video-mode consult; the requester and specialist are in it."""
    action = "video:session:created"
    require(principal, "consults:write", action=action)
    consult = consults.visible_facts(session, principal, consult_id, purpose="viewed")
    if not consult.is_participant(principal):
        raise AccessDenied(
            "Only the requester's side and the assigned specialist open video sessions.",
            action=action,
            object_type="consult",
            object_id=consult.id,
        )
    if consult.mode is not Mode.VIDEO:
        raise Conflict("This consult is not in video mode.", code="not_video_mode")
    if not consult.live:
        raise Conflict(
            "A video session needs a specialist who accepted the consult.",
            code="not_accepted",
            details={"status": consult.status.value},
        )
    if kind is SessionKind.SCHEDULED:
        if scheduled_at is None:
            raise ValidationFailed("A scheduled session needs scheduled_at.")
        if scheduled_at.tzinfo is None:
            raise ValidationFailed("scheduled_at needs a time zone offset (e.g. Z or +03:30).")
    elif scheduled_at is not None:
        raise ValidationFailed("Only a scheduled session has scheduled_at.")
    existing = session.scalar(
        select(VideoSession.id).where(
            VideoSession.consult_id == consult.id, VideoSession.status == SessionStatus.OPEN
        )
    )
    if existing is not None:
        raise Conflict(
            "This consult already has an open video session.",
            code="session_open",
            details={"session_id": existing},
        )
    assert principal.user_id is not None
    now = utcnow()
    video = VideoSession(
        consult_id=consult.id,
        kind=kind,
        status=SessionStatus.OPEN,
        scheduled_at=scheduled_at,
        created_by_id=principal.user_id,
        record=record,
    )
    session.add(video)
    session.flush()
    # By user: a specialist who also requested (a visit booked by the clinic itself) is in the
    # session once, as its specialist.
    invited = {consult.requester_id: ParticipantRole.REQUESTER}
    if principal.user_id not in (consult.requester_id, consult.assigned_to_id):
        invited[principal.user_id] = ParticipantRole.REQUESTER
    assert consult.assigned_to_id is not None
    invited[consult.assigned_to_id] = ParticipantRole.SPECIALIST
    for user_id, role in invited.items():
        user = session.get_one(User, user_id)
        session.add(
            VideoParticipant(
                session_id=video.id,
                user_id=user.id,
                role=role,
                time_zone=_user_zone(user),
                admitted_at=now if role in HOSTS else None,
            )
        )
    session.flush()
    session.refresh(video)
    timeline.add(session, video, "created", session_kind=kind.value, record=record)
    consults.add_timeline_event(
        session, consult.id, "video_session", actor_id=principal.user_id, session_id=video.id
    )
    audit.record(
        session,
        principal,
        action,
        object_type="video_session",
        object_id=video.id,
        details={"consult_id": consult.id, "kind": kind.value, "record": record},
    )
    return video


def is_open(session: Session, session_id: int | None) -> bool:
    """Whether the session exists and has not ended (for a package that keeps its id)."""
    if session_id is None:
        return False
    video = session.get(VideoSession, session_id)
    return video is not None and video.status is SessionStatus.OPEN


def get(session: Session, principal: Principal, session_id: int) -> VideoSession:
    """A session whose consult the caller may see (participants, timeline, recordings)."""
    video = visible_session(session, principal, session_id, "viewed")
    audit.record(
        session, principal, "video:session:viewed", object_type="video_session", object_id=video.id
    )
    return video


def of_consult(
    session: Session,
    principal: Principal,
    consult_id: int,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[VideoSession]:
    """A consult's video sessions in order; ``after_id`` and ``limit`` give one page of them."""
    consult = consults.get(session, principal, consult_id, purpose="viewed")
    stmt = select(VideoSession).where(VideoSession.consult_id == consult.id)
    if after_id is not None:
        stmt = stmt.where(VideoSession.id > after_id)
    return list(session.scalars(stmt.order_by(VideoSession.id).limit(limit)))


def of_participant(
    session: Session, principal: Principal, *, before_id: int | None = None, limit: int = 50
) -> list[VideoSession]:
    """The sessions the caller takes part in, newest first; ``before_id`` pages back."""
    action = "video:session:listed"
    require(principal, "consults:read", action=action)
    if principal.user_id is None:
        return []
    stmt = (
        select(VideoSession)
        .join(VideoParticipant, VideoParticipant.session_id == VideoSession.id)
        .where(VideoParticipant.user_id == principal.user_id)
    )
    if before_id is not None:
        stmt = stmt.where(VideoSession.id < before_id)
    found = list(session.scalars(stmt.order_by(VideoSession.id.desc()).limit(limit)))
    audit.record(
        session,
        principal,
        action,
        object_type="video_session",
        details={"count": len(found), "before_id": before_id},
    )
    return found


def _host_or_requester(
    session: Session, principal: Principal, session_id: int, action: str
) -> tuple[VideoSession, VideoParticipant]:
    require(principal, "consults:write", action=action)
    video = visible_session(session, principal, session_id, action.rsplit(":", 1)[1])
    me = participant_of(video, principal)
    if me is None or me.role not in HOSTS | {ParticipantRole.REQUESTER}:
        raise AccessDenied(
            "Only the session's requester and specialist can do this.",
            action=action,
            object_type="video_session",
            object_id=video.id,
        )
    if video.status is not SessionStatus.OPEN:
        raise Conflict("This video session has ended.", code="session_ended")
    return video, me


@dataclass(frozen=True)
class Invitation:
    participant: VideoParticipant
    guest_token: str | None  # shown once; only its hash is kept


def invite(
    session: Session,
    principal: Principal,
    session_id: int,
    *,
    role: ParticipantRole,
    username: str | None,
    settings: VideoSettings,
) -> Invitation:
    """Add an interpreter or second specialist (accounts), or the patient (a guest link)."""
    action = "video:participant:invited"
    video, _me = _host_or_requester(session, principal, session_id, action)
    consult = _facts(session, video.consult_id)
    token: str | None = None
    if role is ParticipantRole.PATIENT:
        if username:
            raise ValidationFailed("The patient joins through a guest link, without a username.")
        token = secrets.token_urlsafe(32)
        facility_zone = consult.requester_facility_timezone
        person = VideoParticipant(
            session_id=video.id,
            role=role,
            guest_token_hash=hash_token(token),
            guest_expires_at=utcnow() + timedelta(hours=settings.guest_link_hours),
            time_zone=_zone(facility_zone),
        )
    elif role in (ParticipantRole.INTERPRETER, ParticipantRole.SECOND_SPECIALIST):
        user = session.scalar(select(User).where(User.username == (username or "")))
        if user is None or not user.is_active:
            raise ValidationFailed("Unknown user.", details={"username": username})
        if role is ParticipantRole.SECOND_SPECIALIST and Role.SPECIALIST not in user.role_set:
            raise ValidationFailed("A second specialist must have the specialist role.")
        if any(p.user_id == user.id for p in video.participants):
            raise Conflict("This person is already a participant.", code="already_participant")
        person = VideoParticipant(
            session_id=video.id, user_id=user.id, role=role, time_zone=_user_zone(user)
        )
    else:
        raise ValidationFailed(
            "Invite an interpreter, a second specialist or the patient.",
            details={"role": role.value},
        )
    session.add(person)
    session.flush()
    session.refresh(video)
    timeline.add(session, video, "invited", person, role=role.value)
    audit.record(
        session,
        principal,
        action,
        object_type="video_session",
        object_id=video.id,
        details={"participant_id": person.id, "role": role.value},
    )
    return Invitation(person, token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def consent_to_recording(
    session: Session, principal: Principal, session_id: int, consent: bool
) -> VideoParticipant:
    """A participant states (or withdraws) their own consent to the session being recorded."""
    action = "video:recording:consented"
    video, me = as_participant(session, principal, session_id, action)
    me.recording_consent_at = utcnow() if consent else None
    timeline.add(session, video, "recording_consent", me, given=consent)
    audit.record(
        session,
        principal,
        action,
        object_type="video_session",
        object_id=video.id,
        details={"participant_id": me.id, "given": consent},
    )
    return me


def guest_consent_to_recording(session: Session, person: VideoParticipant, consent: bool) -> None:
    person.recording_consent_at = utcnow() if consent else None
    timeline.add(session, person.session, "recording_consent", person, given=consent)
    audit.record(
        session,
        guest_principal(person),
        "video:recording:consented",
        object_type="video_session",
        object_id=person.session_id,
        details={"participant_id": person.id, "given": consent},
    )


def recording_allowed(session: Session, video: VideoSession) -> bool:
    """Recording needs the session's request, every invited person's consent and, when the
    patient is not a participant, the patient's recorded consent (ConsentScope.RECORDING)."""
    if not video.record or video.status is not SessionStatus.OPEN:
        return False
    people = [p for p in video.participants if p.role in PEOPLE]
    if not people or any(p.recording_consent_at is None for p in people):
        return False
    consult = _facts(session, video.consult_id)
    return has_active_consent(session, consult.patient_id, ConsentScope.RECORDING)


def end(session: Session, principal: Principal, session_id: int) -> VideoSession:
    """The specialist's side ends the session; everyone still connected is disconnected."""
    action = "video:session:ended"
    video, me = _host_or_requester(session, principal, session_id, action)
    now = utcnow()
    for iv in timeline.intervals(session, video, now=now):
        if iv.end >= now:
            person = session.get_one(VideoParticipant, iv.participant_id)
            timeline.add(session, video, "left", person, at=now, reason="ended")
    video.status, video.ended_at = SessionStatus.ENDED, now
    timeline.add(session, video, "ended", me, at=now)
    audit.record(session, principal, action, object_type="video_session", object_id=video.id)
    return video


@dataclass(frozen=True)
class Revocation:
    participant: VideoParticipant
    sockets: list[str]  # the guest's socket ids on record, to disconnect after the commit


def revoke_guest(
    session: Session, principal: Principal, session_id: int, participant_id: int
) -> Revocation:
    """The session's requester or specialist withdraws a patient's guest link: the link never
    opens again, and the patient, if connected, is taken out of the session."""
    action = "video:guest_link:revoked"
    video, _me = _host_or_requester(session, principal, session_id, action)
    person = next((p for p in video.participants if p.id == participant_id), None)
    if person is None or person.role is not ParticipantRole.PATIENT:
        raise NotFound("Not found.")
    if person.guest_token_hash is None:
        raise Conflict("This guest link was already revoked.", code="already_revoked")
    now = utcnow()
    # The hash goes: no token can match it again, whatever its signature or expiry said.
    person.guest_token_hash = None
    person.guest_expires_at = now
    sockets = [
        str(e.details["sid"])
        for e in session.scalars(
            select(VideoEvent).where(
                VideoEvent.session_id == video.id, VideoEvent.participant_id == person.id
            )
        )
        if isinstance(e.details, dict) and e.details.get("sid")
    ]
    if person.id in connected(session, video):
        timeline.add(session, video, "left", person, at=now, reason="revoked")
    timeline.add(session, video, "guest_revoked", person, at=now)
    audit.record(
        session,
        principal,
        action,
        object_type="video_session",
        object_id=video.id,
        details={"participant_id": person.id},
    )
    return Revocation(person, sorted(set(sockets)))


def recordings(session: Session, video: VideoSession) -> list[VideoRecording]:
    return list(
        session.scalars(
            select(VideoRecording)
            .where(VideoRecording.session_id == video.id)
            .order_by(VideoRecording.id)
        )
    )


def recording_for_download(
    session: Session, principal: Principal, recording_id: int
) -> VideoRecording:
    row = session.get(VideoRecording, recording_id)
    if row is None:
        raise NotFound("Not found.")
    visible_session(session, principal, row.session_id, "viewed")
    if row.deleted_at is not None:
        raise Gone(
            "This recording was deleted at the end of its retention period.",
            code="deleted_by_retention",
        )
    audit.record(
        session,
        principal,
        "video:recording:downloaded",
        object_type="video_recording",
        object_id=row.id,
        details={"session_id": row.session_id},
    )
    return row


# --- Joining (signalling) -----------------------------------------------------------------


def guest_principal(person: VideoParticipant) -> Principal:
    """The patient joining through a guest link acts as this principal in the audit log."""
    return Principal(kind="guest", via="guest_link", client_id=f"video-participant:{person.id}")


def guest_by_token(session: Session, token: str) -> VideoParticipant | None:
    """The participant a guest link belongs to, if it is still valid."""
    if not token or len(token) > 200:
        return None
    person = session.scalar(
        select(VideoParticipant).where(VideoParticipant.guest_token_hash == hash_token(token))
    )
    if person is None or person.guest_expires_at is None or person.guest_expires_at < utcnow():
        return None
    return person


def refuse(principal: Principal, session_id: object, reason: str) -> None:
    """Audit a refused join in its own transaction (the socket's work is not committed)."""
    with db.transaction() as sess:
        audit.record(
            sess,
            principal,
            "video:session:joined",
            object_type="video_session",
            object_id=session_id,
            outcome="denied",
            details={"reason": reason},
        )


def joinable(session: Session, principal: Principal, session_id: int) -> VideoParticipant:
    """The caller's place in an open session, or AccessDenied/NotFound/Conflict."""
    action = "video:session:joined"
    video = session.get(VideoSession, session_id)
    if video is None:
        raise NotFound("Not found.")
    person = participant_of(video, principal)
    if person is None:
        raise AccessDenied(
            "Only the session's participants can join.",
            action=action,
            object_type="video_session",
            object_id=session_id,
            hide=True,
        )
    if video.status is not SessionStatus.OPEN:
        raise Conflict("This video session has ended.", code="session_ended")
    return person


def connected(session: Session, video: VideoSession) -> set[int]:
    """Participant ids connected now according to the timeline."""
    now = utcnow()
    return {
        iv.participant_id for iv in timeline.intervals(session, video, now=now) if iv.end >= now
    }


def billable_seconds(session: Session, consult_id: int) -> int:
    """Seconds during which the consult's specialist and at least one other participant were both
    connected, summed over the consult's video sessions (from the stored join/leave timeline).

    The media worker's recording leg never counts as a participant.
    """
    consult = consults.facts(session, consult_id)
    if consult is None:
        return 0
    sessions = session.scalars(
        select(VideoSession).where(VideoSession.consult_id == consult_id).order_by(VideoSession.id)
    ).all()
    return sum(
        timeline.billable_seconds_of(session, video, consult.assigned_to_id) for video in sessions
    )
