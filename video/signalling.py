"""Socket.IO signalling of video sessions (namespace ``/video``).

A room per session (``video:<id>``) and per participant (``video:<id>:p:<pid>``): offers, answers
and ICE candidates are relayed only to a participant room of the sender's own session, so nobody
outside a session ever receives its signalling. Everything that must survive a process is in the
database (admission, the join/leave timeline) and every emit goes through Socket.IO's message queue
(Redis when configured), so participants may be connected to different web processes.

A participant who drops keeps their place: admission is stored, so rejoining (a reload, a network
change) enters the session again at once, and the peers restart ICE instead of starting over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, request
from flask_socketio import join_room, leave_room
from itsdangerous import BadSignature, URLSafeTimedSerializer

from hub import audit, db, limits
from hub.auth.principal import Principal
from hub.errors import AccessDenied, HubError, ValidationFailed
from hub.models import utcnow
from hub.realtime import _authenticate, socketio
from video import services, timeline, turn
from video.models import ParticipantRole, VideoParticipant, VideoSession

log = logging.getLogger("hub.video")
NAMESPACE = "/video"
MAX_SIGNAL_BYTES = 200_000
# What a page tells its peers of its own media: asks them to stop sending video (audio only),
# and shows its camera or microphone as off (so a dark tile is labelled, not a mystery).
PREFS = frozenset({"audio_only", "camera_off", "muted"})
RECORDER_SALT = "video-recorder"


def session_room(session_id: int) -> str:
    return f"video:{session_id}"


def participant_room(session_id: int, participant_id: int) -> str:
    return f"video:{session_id}:p:{participant_id}"


@dataclass
class Seat:
    """What one socket is: who connected, and where it sits once it joined."""

    principal: Principal | None = None
    guest_id: int | None = None  # a patient's participant id (guest link)
    recorder_session: int | None = None  # the media worker, for this session only
    session_id: int | None = None
    participant_id: int | None = None
    entered: bool = False


_seats: dict[str, Seat] = {}
_lock = threading.Lock()


def _sid() -> str:
    return str(request.sid)  # type: ignore[attr-defined]


def _deliver(events: list[tuple[str, dict[str, Any], str]]) -> None:
    for name, data, room in events:
        try:
            socketio.emit(name, data, to=room, namespace=NAMESPACE)
        except Exception:  # a realtime hiccup must never fail a committed request
            log.exception("could not emit %s", name)


_after_commit: db.AfterCommit[tuple[str, dict[str, Any], str]] = db.AfterCommit(
    "video_signalling_pending", _deliver
)


def emit_after_commit(sess: Any, name: str, data: dict[str, Any], session_id: int) -> None:
    """Tell a session's connected participants something once the transaction commits."""
    _after_commit.add(sess, (name, data, session_room(session_id)))


def evict(session_id: int, participant_id: int, sockets: list[str]) -> None:
    """Take a participant out of a session now (a revoked guest link): their sockets are
    disconnected (through the message queue when the socket is on another web process), the
    others' browsers drop the media connection, and the page learns why."""
    socketio.emit(
        "revoked",
        {"participant_id": participant_id},
        to=participant_room(session_id, participant_id),
        namespace=NAMESPACE,
    )
    socketio.emit(
        "peer-left",
        {"participant_id": participant_id, "reason": "revoked"},
        to=session_room(session_id),
        namespace=NAMESPACE,
    )
    for sid in sockets:
        socketio.server.disconnect(sid, namespace=NAMESPACE)


def recorder_token(secret_key: str, session_id: int) -> str:
    """A short-lived credential that lets the media worker join one session as its recorder."""
    return URLSafeTimedSerializer(secret_key, salt=RECORDER_SALT).dumps({"session": session_id})


def _recorder_session(token: str) -> int | None:
    serializer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RECORDER_SALT)
    try:
        data = serializer.loads(token, max_age=120)
    except BadSignature:
        return None
    return int(data["session"]) if isinstance(data, dict) and "session" in data else None


def _on_connect(auth: Any = None) -> bool:
    seat = Seat()
    if isinstance(auth, dict) and isinstance(auth.get("guest"), str):
        with db.transaction() as sess:
            person = services.guest_by_token(sess, auth["guest"])
            if person is None:
                return False
            seat.guest_id = person.id
    elif isinstance(auth, dict) and isinstance(auth.get("recorder"), str):
        seat.recorder_session = _recorder_session(auth["recorder"])
        if seat.recorder_session is None:
            return False
    else:
        principal = _authenticate(auth)
        if principal is None or principal.kind != "user":
            return False
        seat.principal = principal
    with _lock:
        _seats[_sid()] = seat
    return True


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def _actor(seat: Seat, person: VideoParticipant | None) -> Principal:
    if seat.principal is not None:
        return seat.principal
    if seat.recorder_session is not None:
        return Principal(kind="system", via="media_worker")
    if person is not None:
        return services.guest_principal(person)
    return Principal(kind="anonymous", via="video_socket")


def _place(sess: Any, seat: Seat, session_id: int) -> VideoParticipant:
    """The seat's participant in ``session_id``, or AccessDenied (audited by the caller)."""
    if seat.principal is not None:
        return services.joinable(sess, seat.principal, session_id)
    video = sess.get(VideoSession, session_id)
    if video is None:
        raise AccessDenied(action="video:session:joined", hide=True)
    if seat.guest_id is not None:
        person = sess.get(VideoParticipant, seat.guest_id)
        if person is None or person.session_id != session_id:
            raise AccessDenied(action="video:session:joined", hide=True)
        if person.guest_expires_at is None or person.guest_expires_at < utcnow():
            raise AccessDenied("This link has expired.", action="video:session:joined")
    elif seat.recorder_session == session_id:
        person = next((p for p in video.participants if p.role is ParticipantRole.RECORDER), None)
        if person is None:
            person = VideoParticipant(
                session_id=video.id, role=ParticipantRole.RECORDER, admitted_at=utcnow()
            )
            sess.add(person)
            sess.flush()
    else:
        raise AccessDenied(action="video:session:joined", hide=True)
    if video.status.value != "open":
        raise HubError("This video session has ended.", code="session_ended")
    return person


def _who(person: VideoParticipant) -> dict[str, Any]:
    """How the others' pages name a participant: staff by their name, a patient's guest link
    by the role alone (the patient's name stays with the consult)."""
    return {
        "participant_id": person.id,
        "role": person.role.value,
        "name": person.user.full_name if person.user is not None else None,
    }


def _peers(sess: Any, video: VideoSession, me: int) -> list[dict[str, Any]]:
    live = services.connected(sess, video)
    return [_who(p) for p in video.participants if p.id in live and p.id != me]


def _waiting(sess: Any, video: VideoSession) -> list[dict[str, Any]]:
    waiting = timeline.waiting(sess, video)
    return [_who(p) for p in video.participants if p.id in waiting and p.admitted_at is None]


def on_join(data: Any) -> dict[str, Any]:
    """Enter a session (or its waiting room); answers with the peers and the ICE config."""
    sid = _sid()
    seat = _seats.get(sid)
    if seat is None:
        return _error("unauthorized", "Not connected.")
    session_id = data.get("session_id") if isinstance(data, dict) else None
    if not isinstance(session_id, int) or isinstance(session_id, bool) or session_id <= 0:
        return _error("bad_request", "session_id must be a positive integer.")
    settings = current_app.config["HUB_SETTINGS"].video
    try:
        with db.transaction() as sess:
            person = _place(sess, seat, session_id)
            video = person.session
            seat.session_id, seat.participant_id = video.id, person.id
            join_room(participant_room(video.id, person.id), namespace=NAMESPACE)
            actor = _actor(seat, person)
            if person.admitted_at is None:
                timeline.add(sess, video, "waiting", person, sid=sid)
                audit.record(
                    sess,
                    actor,
                    "video:session:waited",
                    object_type="video_session",
                    object_id=video.id,
                    details={"participant_id": person.id},
                )
                notice = _who(person)
                answer = {"ok": True, "status": "waiting", "participant_id": person.id}
            else:
                rejoined = timeline.has_joined(sess, video, person.id)
                timeline.add(sess, video, "joined", person, sid=sid, rejoined=rejoined)
                audit.record(
                    sess,
                    actor,
                    "video:session:joined",
                    object_type="video_session",
                    object_id=video.id,
                    details={"participant_id": person.id, "rejoined": rejoined},
                )
                join_room(session_room(video.id), namespace=NAMESPACE)
                seat.entered = True
                notice = {**_who(person), "rejoined": rejoined}
                answer = {
                    "ok": True,
                    "status": "joined",
                    "participant_id": person.id,
                    "role": person.role.value,
                    "rejoined": rejoined,
                    "peers": _peers(sess, video, person.id),
                    "waiting": _waiting(sess, video) if person.role in services.HOSTS else [],
                    "ice": turn.ice_config(settings, f"p{person.id}"),
                    "max_bitrate": settings.max_bitrate,
                }
    except AccessDenied as exc:
        services.refuse(_actor(seat, None), session_id, exc.code)
        return _error("not_found" if exc.hide else "forbidden", exc.message)
    except HubError as exc:
        return _error(exc.code, exc.message)
    if answer["status"] == "waiting":
        socketio.emit("waiting", notice, to=session_room(session_id), namespace=NAMESPACE)
    else:
        socketio.emit(
            "peer-joined",
            notice,
            to=session_room(session_id),
            skip_sid=sid,
            namespace=NAMESPACE,
        )
    return answer


def on_admit(data: Any) -> dict[str, Any]:
    """The specialist's side lets a waiting participant in."""
    seat = _seats.get(_sid())
    target = data.get("participant_id") if isinstance(data, dict) else None
    if seat is None or not seat.entered or seat.principal is None or seat.session_id is None:
        return _error("forbidden", "Join the session first.")
    if not isinstance(target, int) or isinstance(target, bool):
        return _error("bad_request", "participant_id must be an integer.")
    with db.transaction() as sess:
        video = sess.get_one(VideoSession, seat.session_id)
        me = services.participant_of(video, seat.principal)
        person = sess.get(VideoParticipant, target)
        refused = me is None or me.role not in services.HOSTS
        if me is None or refused or person is None or person.session_id != video.id:
            reason = "not_host" if refused else "unknown_participant"
            audit.record(
                sess,
                seat.principal,
                "video:participant:admitted",
                object_type="video_session",
                object_id=video.id,
                outcome="denied",
                details={"reason": reason},
            )
            return _error("forbidden", "Only the specialist's side admits participants.")
        if person.admitted_at is None:
            person.admitted_at = utcnow()
            timeline.add(sess, video, "admitted", person, by=me.id)
            audit.record(
                sess,
                seat.principal,
                "video:participant:admitted",
                object_type="video_session",
                object_id=video.id,
                details={"participant_id": person.id},
            )
    socketio.emit(
        "admitted",
        {"participant_id": target},
        to=participant_room(seat.session_id, target),
        namespace=NAMESPACE,
    )
    return {"ok": True}


def on_signal(data: Any) -> dict[str, Any]:
    """Relay an offer, answer or ICE candidate to one participant of the sender's session."""
    seat = _seats.get(_sid())
    if seat is None or not seat.entered or seat.session_id is None:
        return _error("forbidden", "Join the session first.")
    if not isinstance(data, dict) or not isinstance(data.get("to"), int):
        return _error("bad_request", "A signal needs 'to' (a participant id).")
    description, candidate = data.get("description"), data.get("candidate")
    prefs = data.get("prefs")
    if description is None and "candidate" not in data and prefs is None:
        return _error("bad_request", "A signal carries a description, a candidate or prefs.")
    if prefs is not None and not (
        isinstance(prefs, dict)
        and prefs
        and set(prefs) <= PREFS
        and all(isinstance(v, bool) for v in prefs.values())
    ):
        return _error("bad_request", "prefs must be {audio_only, camera_off, muted: true|false}.")
    pc_id = data.get("pc")
    if pc_id is not None and not (isinstance(pc_id, str) and 0 < len(pc_id) <= 64):
        return _error("bad_request", "pc must be a short string.")
    if description is not None and not (
        isinstance(description, dict)
        and description.get("type") in ("offer", "answer")
        and isinstance(description.get("sdp"), str)
        and len(description["sdp"]) <= MAX_SIGNAL_BYTES
    ):
        return _error("bad_request", "description must be {type: offer|answer, sdp}.")
    if candidate is not None and not (isinstance(candidate, dict) and len(str(candidate)) < 4096):
        return _error("bad_request", "candidate must be an RTCIceCandidateInit object.")
    target = int(data["to"])
    if not _in_session(seat.session_id, target):
        return _error("not_found", "No such participant in this session.")
    message: dict[str, Any] = {"from": seat.participant_id, "pc": pc_id}
    if prefs is not None:
        message["prefs"] = {key: prefs[key] for key in sorted(PREFS) if key in prefs}
    if description is not None:
        message["description"] = {"type": description["type"], "sdp": description["sdp"]}
    if "candidate" in data:
        message["candidate"] = candidate
    socketio.emit(
        "signal", message, to=participant_room(seat.session_id, target), namespace=NAMESPACE
    )
    return {"ok": True}


_members: dict[int, tuple[float, frozenset[int]]] = {}


def _in_session(session_id: int, participant_id: int) -> bool:
    """Whether ``participant_id`` belongs to the session (cached briefly: signals are many)."""
    now = time.monotonic()
    cached = _members.get(session_id)
    if cached is None or now - cached[0] > 2 or participant_id not in cached[1]:
        with db.transaction() as sess:
            video = sess.get(VideoSession, session_id)
            ids = frozenset(p.id for p in video.participants) if video else frozenset()
        _members[session_id] = (now, ids)
        cached = _members[session_id]
    return participant_id in cached[1]


def on_quality(data: Any) -> dict[str, Any]:
    """A client's periodic getStats() summary, kept on the timeline (numbers only)."""
    seat = _seats.get(_sid())
    if seat is None or not seat.entered or seat.session_id is None:
        return _error("forbidden", "Join the session first.")
    if not isinstance(data, dict):
        return _error("bad_request", "quality must be an object.")
    sample: dict[str, Any] = {}
    for key in ("bitrate_kbps", "packet_loss", "rtt_ms", "fps", "width", "height", "peer"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e9:
            sample[key] = round(float(value), 3)
    if isinstance(data.get("audio_only"), bool):
        sample["audio_only"] = data["audio_only"]
    with db.transaction() as sess:
        video = sess.get_one(VideoSession, seat.session_id)
        person = sess.get(VideoParticipant, seat.participant_id)
        timeline.add(sess, video, "quality", person, **sample)
    return {"ok": True}


def on_consent(data: Any) -> dict[str, Any]:
    """The patient (guest link) gives or withdraws consent to the session being recorded."""
    seat = _seats.get(_sid())
    consent = data.get("consent") if isinstance(data, dict) else None
    if seat is None or seat.guest_id is None or seat.session_id is None:
        return _error("forbidden", "Guests consent here; staff use the API.")
    if not isinstance(consent, bool):
        return _error("bad_request", "consent must be true or false.")
    with db.transaction() as sess:
        person = sess.get_one(VideoParticipant, seat.guest_id)
        services.guest_consent_to_recording(sess, person, consent)
    return {"ok": True}


def _leave(sid: str, seat: Seat, kind: str) -> None:
    if seat.session_id is None or seat.participant_id is None:
        return
    session_id, participant_id = seat.session_id, seat.participant_id
    was_entered = seat.entered
    seat.entered = False
    try:
        with db.transaction() as sess:
            video = sess.get_one(VideoSession, session_id)
            person = sess.get_one(VideoParticipant, participant_id)
            timeline.add(sess, video, kind, person, sid=sid)
            still_here = participant_id in services.connected(sess, video)
            still_waiting = participant_id in timeline.waiting(sess, video)
            was_waiting = not was_entered and person.admitted_at is None
    except Exception:  # a closing socket must not take the worker thread down
        log.exception("could not record %s of a video participant", kind)
        return
    if was_waiting and not still_waiting:
        # The hosts' waiting room lists them no longer.
        socketio.emit(
            "waiting-left",
            {"participant_id": participant_id},
            to=session_room(session_id),
            namespace=NAMESPACE,
        )
    if was_entered and not still_here:
        socketio.emit(
            "peer-left",
            {"participant_id": participant_id, "reason": kind},
            to=session_room(session_id),
            namespace=NAMESPACE,
        )


def on_leave(_data: Any = None) -> dict[str, Any]:
    sid = _sid()
    seat = _seats.get(sid)
    if seat is None:
        return _error("forbidden", "Not connected.")
    if seat.session_id is not None:
        leave_room(session_room(seat.session_id), namespace=NAMESPACE)
    _leave(sid, seat, "left")
    seat.session_id = seat.participant_id = None
    return {"ok": True}


def on_disconnect(*_args: Any) -> None:
    sid = _sid()
    with _lock:
        seat = _seats.pop(sid, None)
    if seat is not None:
        _leave(sid, seat, "disconnected")


def checked(handler: Callable[[Any], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """An event handler that answers any payload with an acknowledgement: none at all, extra
    arguments, an id no column holds or text that is not Unicode get an error answer, never an
    unhandled exception (the client would wait for an answer that never comes)."""

    @wraps(handler)
    def handle(*args: Any) -> dict[str, Any]:
        data = args[0] if args else None
        try:
            limits.check_values(data, what="message")
        except ValidationFailed as exc:
            return _error("bad_request", f"{exc.message} ({exc.details[0]['problem']})")
        return handler(data)

    return handle


def init_app() -> None:
    socketio.on_event("connect", _on_connect, namespace=NAMESPACE)
    socketio.on_event("disconnect", on_disconnect, namespace=NAMESPACE)
    for name, handler in (
        ("join", on_join),
        ("admit", on_admit),
        ("signal", on_signal),
        ("quality", on_quality),
        ("leave", on_leave),
        ("consent", on_consent),
    ):
        socketio.on_event(name, checked(handler), namespace=NAMESPACE)
