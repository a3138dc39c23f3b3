"""Video sessions under /api/v1: open, read, invite, consent to recording, ICE config, end."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, current_app, send_file
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, db
from hub.api.core import api_route
from hub.api.pagination import PageQuery, next_cursor
from hub.auth.principal import Principal
from hub.config import VideoSettings
from hub.errors import NotFound
from video import services, storage, timeline, turn
from video.models import VideoEvent, VideoParticipant, VideoSession
from video.schemas import (
    ConsentIn,
    EventOut,
    IceConfigOut,
    InvitationOut,
    InviteIn,
    ParticipantOut,
    RecordingOut,
    SessionIn,
    SessionList,
    SessionOut,
)
from video.signalling import emit_after_commit, evict


def _video() -> VideoSettings:
    return current_app.config["HUB_SETTINGS"].video


def local_time(at: datetime | None, zone: str) -> str | None:
    if at is None:
        return None
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def participant_out(
    video: VideoSession,
    person: VideoParticipant,
    live: set[int],
    spans: list[timeline.Interval] | None = None,
) -> ParticipantOut:
    """The participant's row with its presence, which only the timeline knows."""
    out = ParticipantOut.model_validate(person)
    out.connected = person.id in live
    seconds = sum(iv.seconds for iv in spans or [] if iv.participant_id == person.id)
    out.connected_seconds = int(seconds)
    out.scheduled_local = local_time(video.scheduled_at, person.time_zone)
    return out


def session_out(sess: Session, video: VideoSession) -> SessionOut:
    """The session's row with what other tables and the timeline say of it."""
    live = services.connected(sess, video)
    spans = timeline.intervals(sess, video)
    events = sess.scalars(
        select(VideoEvent).where(VideoEvent.session_id == video.id).order_by(VideoEvent.id)
    ).all()
    out = SessionOut.model_validate(video)
    out.recording_allowed = services.recording_allowed(sess, video)
    specialist_id = services.specialist_of(sess, video)
    out.billable_seconds = timeline.billable_seconds_of(sess, video, specialist_id)
    out.participants = [participant_out(video, p, live, spans) for p in video.participants]
    out.timeline = [EventOut.model_validate(e) for e in events]
    out.recordings = [RecordingOut.model_validate(r) for r in services.recordings(sess, video)]
    return out


@api_route(
    "/consults/<int:consult_id>/video-sessions",
    "POST",
    summary="Open the video session of a video-mode consult (instant or scheduled)",
    scope="consults:write",
    tag="video",
    body=SessionIn,
    response=SessionOut,
    status=201,
    errors=(404, 409),
)
def create_video_session(principal: Principal, consult_id: int, body: SessionIn) -> SessionOut:
    sess = db.session()
    video = services.create(
        sess,
        principal,
        consult_id,
        kind=body.kind,
        scheduled_at=body.scheduled_at,
        record=body.record,
    )
    return session_out(sess, video)


@api_route(
    "/consults/<int:consult_id>/video-sessions",
    summary="The video sessions of a consult",
    scope="consults:read",
    tag="video",
    query=PageQuery,
    response=SessionList,
    errors=(404,),
)
def list_video_sessions(principal: Principal, consult_id: int, query: PageQuery) -> SessionList:
    sess = db.session()
    found = services.of_consult(
        sess, principal, consult_id, after_id=query.position(), limit=query.limit
    )
    return SessionList(
        items=[session_out(sess, v) for v in found],
        next_cursor=next_cursor(found, query.limit, lambda v: v.id),
    )


@api_route(
    "/video-sessions/<int:session_id>",
    summary="One video session: participants, timeline, recordings, billable seconds",
    scope="consults:read",
    tag="video",
    response=SessionOut,
    errors=(404,),
)
def get_video_session(principal: Principal, session_id: int) -> SessionOut:
    sess = db.session()
    return session_out(sess, services.get(sess, principal, session_id))


@api_route(
    "/video-sessions/<int:session_id>/participants",
    "POST",
    summary="Invite an interpreter, a second specialist, or the patient (time-limited guest link)",
    scope="consults:write",
    tag="video",
    body=InviteIn,
    response=InvitationOut,
    status=201,
    errors=(404, 409),
)
def invite_video_participant(
    principal: Principal, session_id: int, body: InviteIn
) -> InvitationOut:
    sess = db.session()
    invitation = services.invite(
        sess, principal, session_id, role=body.role, username=body.username, settings=_video()
    )
    video = invitation.participant.session
    guest_url = None
    if invitation.guest_token is not None:
        base = current_app.config["HUB_SETTINGS"].base_url.rstrip("/")
        guest_url = f"{base}/video/guest/{invitation.guest_token}"
    return InvitationOut(
        participant=participant_out(video, invitation.participant, set()),
        guest_url=guest_url,
    )


@api_route(
    "/video-sessions/<int:session_id>/participants/<int:participant_id>/revoke",
    "POST",
    summary="Revoke a patient's guest link (the session's requester or specialist); a "
    "connected patient is taken out of the session",
    scope="consults:write",
    tag="video",
    response=ParticipantOut,
    errors=(404, 409),
)
def revoke_video_guest(
    principal: Principal, session_id: int, participant_id: int
) -> ParticipantOut:
    sess = db.session()
    revoked = services.revoke_guest(sess, principal, session_id, participant_id)
    out = participant_out(revoked.participant.session, revoked.participant, set())
    sess.commit()  # the link is dead before anyone is told or disconnected
    evict(session_id, participant_id, revoked.sockets)
    return out


@api_route(
    "/video-sessions/<int:session_id>/recording-consent",
    "PUT",
    summary="Give or withdraw your own consent to the session being recorded",
    scope="consults:read",
    tag="video",
    body=ConsentIn,
    response=ParticipantOut,
    errors=(404,),
)
def consent_video_recording(
    principal: Principal, session_id: int, body: ConsentIn
) -> ParticipantOut:
    sess = db.session()
    person = services.consent_to_recording(sess, principal, session_id, body.consent)
    return participant_out(person.session, person, set())


@api_route(
    "/video-sessions/<int:session_id>/ice",
    summary="Your ICE configuration for the session (short-lived TURN credentials)",
    scope="consults:read",
    tag="video",
    response=IceConfigOut,
    errors=(404, 409),
)
def video_ice_config(principal: Principal, session_id: int) -> IceConfigOut:
    sess = db.session()
    video, person = services.as_participant(sess, principal, session_id, "video:ice:issued")
    audit.record(
        sess, principal, "video:ice:issued", object_type="video_session", object_id=video.id
    )
    settings = _video()
    config = turn.ice_config(settings, f"p{person.id}")
    return IceConfigOut.model_validate(
        {
            **config,
            "session_id": video.id,
            "participant_id": person.id,
            "max_bitrate": settings.max_bitrate,
        }
    )


@api_route(
    "/video-sessions/<int:session_id>/end",
    "POST",
    summary="End the session (its requester or specialist)",
    scope="consults:write",
    tag="video",
    response=SessionOut,
    errors=(404, 409),
)
def end_video_session(principal: Principal, session_id: int) -> SessionOut:
    sess = db.session()
    video = services.end(sess, principal, session_id)
    emit_after_commit(sess, "ended", {"session_id": video.id}, video.id)
    return session_out(sess, video)


@api_route(
    "/video-recordings/<int:recording_id>/file",
    summary="Download a recording (Matroska: the participant's audio and video)",
    scope="consults:read",
    tag="video",
    errors=(404, 410),
)
def download_video_recording(principal: Principal, recording_id: int) -> Response:
    sess = db.session()
    row = services.recording_for_download(sess, principal, recording_id)
    path = storage.path_of(_video(), row)
    if not path.is_file():
        raise NotFound("The file of this recording is missing.", code="file_missing")
    sess.commit()
    return send_file(
        path, mimetype=row.content_type, as_attachment=True, download_name=f"recording-{row.id}.mkv"
    )
