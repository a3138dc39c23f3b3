"""Personal API tokens (``hub token create``); only their SHA-256 digests are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from hub import audit
from hub.auth.principal import SYSTEM, Principal
from hub.errors import NotFound
from hub.models import PersonalToken, User, utcnow

PERSONAL_PREFIX = "hubpat_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_personal_token(
    session: Session, username: str, ttl_seconds: int, name: str = "cli", actor: Principal = SYSTEM
) -> str:
    """A new bearer token for ``username``; the plain token is returned once and never stored."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise NotFound(f"No active user {username!r}.")
    token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
    row = PersonalToken(
        user_id=user.id,
        token_hash=digest(token),
        name=name,
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "hub:token:created",
        object_type="user",
        object_id=user.id,
        details={"token_id": row.id, "ttl": ttl_seconds},
    )
    return token


def find_personal_token(session: Session, token: str) -> PersonalToken | None:
    """The token with its user as a principal needs them, in one query (every API request)."""
    return (
        session.scalars(
            select(PersonalToken)
            .where(PersonalToken.token_hash == digest(token))
            .options(
                joinedload(PersonalToken.user).options(
                    joinedload(User.facility), joinedload(User.roles), joinedload(User.specialties)
                )
            )
        )
        .unique()
        .one_or_none()
    )
