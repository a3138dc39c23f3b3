"""The video session page: camera/microphone preview, device choice, participants, quality,
chat fallback; the same page for the patient's guest link (no account)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from hub import audit, db
from hub.auth.principal import user_principal
from hub.errors import NotFound
from video import services
from video.api import local_time
from video.models import ParticipantRole, VideoParticipant, VideoSession

bp = Blueprint("video_pages", __name__)

ROLE_LABELS = {
    ParticipantRole.REQUESTER: _l("Requester"),
    ParticipantRole.SPECIALIST: _l("Specialist"),
    ParticipantRole.SECOND_SPECIALIST: _l("Second specialist"),
    ParticipantRole.INTERPRETER: _l("Interpreter"),
    ParticipantRole.PATIENT: _l("Patient"),
    ParticipantRole.RECORDER: _l("Recording"),
}

# Strings the page's script shows; translated here so the script carries no text of its own.
JS_TEXT = {
    "connecting": _l("Connecting…"),
    "waiting": _l("Waiting for the specialist to let you in…"),
    "joined": _l("In the session."),
    "rejoined": _l("Reconnected to the same session."),
    "left": _l("You left the session."),
    "refused": _l("You cannot join this session."),
    "ended": _l("This session has ended."),
    "revoked": _l("Your link to this session was withdrawn."),
    "no_media": _l("No camera or microphone could be opened: {error}"),
    "admit": _l("Admit"),
    "asks_to_join": _l("{role} is waiting to join."),
    "quality": _l("{kbps} kbit/s · loss {loss}% · {rtt} ms"),
    "quality_good": _l("Good connection"),
    "quality_fair": _l("Fair connection"),
    "quality_poor": _l("Poor connection: try audio only or the chat"),
    "connected": _l("connected"),
    "reconnecting": _l("reconnecting…"),
    "you": _l("you"),
    "join_first": _l("Join the session first."),
    "message_sent": _l("Message sent."),
    "failed": _l("Could not complete: {error}"),
    "roles": {role.value: str(label) for role, label in ROLE_LABELS.items()},
}


def _js_text() -> dict[str, Any]:
    return {
        key: ({k: str(v) for k, v in value.items()} if isinstance(value, dict) else str(value))
        for key, value in JS_TEXT.items()
    }


def _page(video: VideoSession, me: VideoParticipant, *, guest_token: str | None, chat: bool) -> str:
    html = render_template(
        "video/session.html",
        video=video,
        me=me,
        guest_token=guest_token,
        chat=chat,
        role_labels=ROLE_LABELS,
        roles=ParticipantRole,
        scheduled_local=local_time(video.scheduled_at, me.time_zone),
        participants=[p for p in video.participants if p.role is not ParticipantRole.RECORDER],
        js_text=_js_text(),
    )
    db.session().commit()
    return html


@bp.get("/video/sessions/<int:session_id>")
@login_required
def session_page(session_id: int) -> ResponseReturnValue:
    principal = user_principal(current_user.user, "session")
    sess = db.session()
    video, me = services.as_participant(sess, principal, session_id, "video:session:joined")
    audit.record(
        sess, principal, "video:session:viewed", object_type="video_session", object_id=video.id
    )
    return _page(video, me, guest_token=None, chat=services.chat_allowed(sess, principal, video))


@bp.get("/video/guest/<token>")
def guest_page(token: str) -> ResponseReturnValue:
    sess = db.session()
    person = services.guest_by_token(sess, token)
    if person is None:
        raise NotFound("This link is unknown or has expired.")
    audit.record(
        sess,
        services.guest_principal(person),
        "video:session:viewed",
        object_type="video_session",
        object_id=person.session_id,
    )
    return _page(person.session, person, guest_token=token, chat=False)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
