"""The video session page: camera/microphone preview, device choice, participants, quality,
chat fallback; the same page for the patient's guest link (no account)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_login import current_user, login_required

from hub import audit, db
from hub.auth.principal import user_principal
from hub.errors import NotFound
from hub.limits import ID_MAX
from video import services
from video.models import ParticipantRole, SessionKind, SessionStatus, VideoParticipant, VideoSession

bp = Blueprint("video_pages", __name__)

ROLE_LABELS = {
    ParticipantRole.REQUESTER: _l("Requester"),
    ParticipantRole.SPECIALIST: _l("Specialist"),
    ParticipantRole.SECOND_SPECIALIST: _l("Second specialist"),
    ParticipantRole.INTERPRETER: _l("Interpreter"),
    ParticipantRole.PATIENT: _l("Patient"),
    ParticipantRole.RECORDER: _l("Recording"),
}


def _kind_labels() -> dict[SessionKind, str]:
    # Short words get the "video" context: "Open" the status is not "Open" the button elsewhere.
    return {
        SessionKind.INSTANT: pgettext("video", "Instant"),
        SessionKind.SCHEDULED: pgettext("video", "Scheduled"),
    }


def _status_labels() -> dict[SessionStatus, str]:
    return {
        SessionStatus.OPEN: pgettext("video", "Open"),
        SessionStatus.ENDED: pgettext("video", "Ended"),
    }


PAGE_SIZE = 50

# Strings the page's script shows; translated here so the script carries no text of its own.
JS_TEXT = {
    "connecting": _l("Connecting…"),
    "waiting": _l("Waiting for the specialist to let you in…"),
    "joined": _l("In the session."),
    "alone": _l("In the session. Nobody else is here yet."),
    "peer_joined": _l("{name} joined."),
    "peer_left": _l("{name} left the session."),
    "peer_lost": _l("{name} lost the connection."),
    "peer_revoked": _l("{name}'s link was withdrawn."),
    "peer_interrupted": _l("The connection to {name} is interrupted; trying again…"),
    "nobody_left": _l("Nobody else is in the session now."),
    "camera_off": _l("{name}: camera off"),
    "muted_peer": _l("{name}: microphone off"),
    "mic_off": _l("Microphone off"),
    "mute": _l("Mute"),
    "muted": _l("Muted"),
    "unmute_hint": _l("Unmute"),
    "camera_turn_off": _l("Turn camera off"),
    "camera_is_off": _l("Camera is off"),
    "camera_turn_on": _l("Turn camera on"),
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
}


def _js_text() -> dict[str, Any]:
    text = {
        key: ({k: str(v) for k, v in value.items()} if isinstance(value, dict) else str(value))
        for key, value in JS_TEXT.items()
    }
    text["left_state"] = pgettext("video", "left")  # a participant's state in the list
    # In the reader's language: built per request, not when the module was imported.
    text["roles"] = {role.value: str(label) for role, label in ROLE_LABELS.items()}
    return text


def display_name(person: VideoParticipant) -> str:
    """Staff by their name and role; the patient (a guest link) by the role alone."""
    role = str(ROLE_LABELS[person.role])
    if person.user is None:
        return role
    return f"{person.user.full_name} ({role})"


def _page(video: VideoSession, me: VideoParticipant, *, guest_token: str | None, chat: bool) -> str:
    people = [p for p in video.participants if p.role is not ParticipantRole.RECORDER]
    html = render_template(
        "video/session.html",
        video=video,
        me=me,
        guest_token=guest_token,
        chat=chat,
        role_labels=ROLE_LABELS,
        roles=ParticipantRole,
        participants=people,
        names={p.id: display_name(p) for p in people},
        js_text=_js_text(),
    )
    db.session().commit()
    return html


@bp.get("/video/sessions")
@login_required
def my_sessions() -> ResponseReturnValue:
    """The video sessions the user takes part in, newest first, each with a way in."""
    principal = user_principal(current_user.user, "session")
    sess = db.session()
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= ID_MAX:
        before = None
    found = services.of_participant(sess, principal, before_id=before, limit=PAGE_SIZE + 1)
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    rows = [
        {
            "video": video,
            "me": services.participant_of(video, principal),
            "others": [
                display_name(p)
                for p in video.participants
                if p.role is not ParticipantRole.RECORDER and p.user_id != principal.user_id
            ],
        }
        for video in found
    ]
    html = render_template(
        "video/sessions.html",
        rows=rows,
        role_labels=ROLE_LABELS,
        kind_labels=_kind_labels(),
        status_labels=_status_labels(),
        open_status=SessionStatus.OPEN,
        older=found[-1].id if more and found else None,
    )
    sess.commit()
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
