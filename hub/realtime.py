"""Socket.IO: authenticated connections, rooms per user, facility and region, events after commit.

With ``HUB_REDIS_URL`` set, events go through Redis so every web process delivers to its own
clients; without it (embedded default) delivery is in-process.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, request
from flask_login import current_user
from flask_socketio import SocketIO, join_room
from sqlalchemy.orm import Session

from hub import db
from hub.auth.current import _from_token
from hub.auth.principal import Principal, user_principal
from hub.errors import HubError
from hub.models import Role

log = logging.getLogger("hub.realtime")
socketio = SocketIO()
_PENDING_KEY = "hub_realtime_pending"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def facility_room(facility_id: int) -> str:
    return f"facility:{facility_id}"


def region_room(region_id: int) -> str:
    return f"region:{region_id}"


def command_room(region_id: int) -> str:
    """Only the region's command staff join this room (queues, breaches, alerts)."""
    return f"command:{region_id}"


def rooms_for(principal: Principal) -> list[str]:
    rooms = []
    if principal.user_id is not None:
        rooms.append(user_room(principal.user_id))
    if principal.facility_id is not None:
        rooms.append(facility_room(principal.facility_id))
    if principal.region_id is not None:
        rooms.append(region_room(principal.region_id))
        if Role.COMMAND in principal.roles:
            rooms.append(command_room(principal.region_id))
    return rooms


def _authenticate(auth: Any) -> Principal | None:

    token = auth.get("token") if isinstance(auth, dict) else None
    try:
        if token:
            return _from_token(str(token))
        if current_user.is_authenticated:
            return user_principal(current_user.user, "session")
    except HubError:
        return None
    return None


def _on_connect(auth: Any = None) -> bool:
    principal = _authenticate(auth)
    if principal is None or principal.kind != "user":
        return False  # Socket.IO refuses the connection
    for room in rooms_for(principal):
        join_room(room)
    log.debug("socket %s joined %d rooms", request.sid, len(rooms_for(principal)))  # type: ignore[attr-defined]
    return True


def _emit(events: list[tuple[str, dict[str, Any], list[str]]]) -> None:
    for event_name, data, rooms in events:
        for room in rooms:
            try:
                socketio.emit(event_name, data, to=room)
            except Exception:  # a realtime hiccup must never fail a committed request
                log.exception("could not emit %s", event_name)


_after_commit: db.AfterCommit[tuple[str, dict[str, Any], list[str]]] = db.AfterCommit(
    _PENDING_KEY, _emit
)


def emit_after_commit(
    session: Session, event_name: str, data: dict[str, Any], rooms: list[str]
) -> None:
    """Emit once the transaction commits, so clients never hear of a change that rolled back.

    ``data`` carries ids and states only; clients fetch details through the permission-checked API.
    """
    _after_commit.add(session, (event_name, data, rooms))


def init_app(app: Flask) -> None:
    settings = app.config["HUB_SETTINGS"]
    # Default CORS policy: only pages served by this hub (same origin) may connect.
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=settings.redis_url,
        channel=settings.socketio_channel,
        logger=False,
        engineio_logger=False,
    )
    socketio.on_event("connect", _on_connect)


def after_fork() -> None:
    """In a web worker process forked from the one that set Socket.IO up.

    The message-queue manager names its process with a random id drawn at set-up, and ignores
    messages carrying its own id (it delivered those itself). Forked workers would share the
    parent's id and each ignore the others' events, so each draws its own.
    """
    manager = getattr(socketio.server, "manager", None)
    if manager is not None and hasattr(manager, "host_id"):
        manager.host_id = uuid.uuid4().hex
