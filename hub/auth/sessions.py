"""Login sessions kept on the server: the signed cookie carries a random key, the database its
digest, when it was last used and whether it has ended.

Flask's session cookie is signed, not stored: without a row to end, a copy of the cookie taken
before logout would keep working. Ending the row (logout, idle expiry, a disabled account) ends
every copy at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import SYSTEM, Principal
from hub.models import User, utcnow
from hub.models.auth import UserSession
from hub.services.tokens import digest, principal_user

# How often a live session's last use is written: each request would be one write more, and a
# minute is small against an idle limit counted in minutes.
TOUCH_EVERY = timedelta(seconds=60)


def open_session(session: Session, user: User) -> str:
    """A new login session for ``user``; returns the key for the cookie (stored as a digest)."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(user_id=user.id, key_hash=digest(key), created_at=now, last_seen_at=now)
    )
    session.flush()
    return key


def find_session(session: Session, key: str) -> UserSession | None:
    """The session of this cookie key with its user, as a principal needs them, in one query."""
    return (
        session.scalars(
            select(UserSession)
            .where(UserSession.key_hash == digest(key))
            .options(principal_user(UserSession.user))
        )
        .unique()
        .one_or_none()
    )


def refusal(row: UserSession, idle: timedelta, now: datetime) -> str | None:
    """Why this session may not be used now (``ended``, ``idle``, ``inactive``), or None."""
    if row.revoked_at is not None:
        return "ended"
    if not row.user.is_active:
        return "inactive"
    if now - row.last_seen_at > idle:
        return "idle"
    return None


def needs_touch(row: UserSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def end_session(session: Session, row: UserSession, reason: str, actor: Principal = SYSTEM) -> None:
    """End one session (``logout`` or ``idle``), audited as ``hub:session:ended``."""
    if row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    row.revoked_reason = reason
    audit.record(
        session,
        actor,
        "hub:session:ended",
        object_type="user",
        object_id=row.user_id,
        details={"session_id": row.id, "reason": reason},
    )


def end_user_sessions(session: Session, user_id: int, reason: str) -> int:
    """End every live session of a user (e.g. the account was disabled); returns how many."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)
