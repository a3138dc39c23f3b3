"""Personal API tokens (``hub token create``, ``list``, ``revoke``); only their SHA-256 digests
are stored, so a token is found again by its id or by the token itself."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import QueryableAttribute, Session, joinedload
from sqlalchemy.orm.interfaces import LoaderOption

from hub import audit
from hub.auth.principal import SYSTEM, Principal
from hub.errors import NotFound, ValidationFailed
from hub.models import OAuthToken, PersonalToken, User, utcnow

PERSONAL_PREFIX = "hubpat_"
# Beyond any setting: ``timedelta`` overflows near 10**9 days, and no token should live 10 years.
HARD_MAX_TTL_SECONDS = 3650 * 86400


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_personal_token(
    session: Session,
    username: str,
    ttl_seconds: int,
    name: str = "cli",
    actor: Principal = SYSTEM,
    max_ttl_seconds: int = HARD_MAX_TTL_SECONDS,
) -> str:
    """A new bearer token for ``username``; the plain token is returned once and never stored."""
    longest = min(max_ttl_seconds, HARD_MAX_TTL_SECONDS)
    if ttl_seconds > longest:
        raise ValidationFailed(
            f"A token lives at most {longest // 86400} days ({longest} seconds).",
            code="ttl_too_long",
        )
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


def principal_user(relationship: QueryableAttribute[User]) -> LoaderOption:
    """Load ``relationship``'s user with what a principal is built from (facility, roles,
    specialties) in the same query: the lookup of every authenticated request."""
    return joinedload(relationship).options(
        joinedload(User.facility), joinedload(User.roles), joinedload(User.specialties)
    )


def find_personal_token(session: Session, token: str) -> PersonalToken | None:
    """The token with its user as a principal needs them, in one query (every API request)."""
    return (
        session.scalars(
            select(PersonalToken)
            .where(PersonalToken.token_hash == digest(token))
            .options(principal_user(PersonalToken.user))
        )
        .unique()
        .one_or_none()
    )


def list_personal_tokens(session: Session, username: str) -> list[PersonalToken]:
    """Every personal token of ``username``, newest first (ids for ``hub token revoke``)."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user {username!r}.")
    return list(
        session.scalars(
            select(PersonalToken)
            .where(PersonalToken.user_id == user.id)
            .order_by(PersonalToken.id.desc())
        )
    )


def revoke_personal_token(session: Session, ref: str, actor: Principal = SYSTEM) -> PersonalToken:
    """Revoke a personal token given by its id or by the token itself (audited)."""
    ref = ref.strip()
    if ref.startswith(PERSONAL_PREFIX):
        row = session.scalar(select(PersonalToken).where(PersonalToken.token_hash == digest(ref)))
    elif ref.isdigit():
        row = session.get(PersonalToken, int(ref))
    else:
        raise ValidationFailed("Give a token id (see `hub token list USER`) or the token itself.")
    if row is None:
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            actor,
            "hub:token:revoked",
            object_type="user",
            object_id=row.user_id,
            details={"token_id": row.id},
        )
    return row


def revoke_user_tokens(session: Session, user_id: int) -> tuple[int, int]:
    """Revoke every live personal and OAuth2 token of a user; returns how many of each."""
    now = utcnow()
    personal = session.execute(
        update(PersonalToken)
        .where(PersonalToken.user_id == user_id, PersonalToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    oauth = session.execute(
        update(OAuthToken)
        .where(OAuthToken.user_id == user_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return _count(personal), _count(oauth)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def tokens_of_user(session: Session, user_id: int) -> list[PersonalToken]:
    """Every personal token of one account, newest first (never the tokens themselves)."""
    return list(
        session.scalars(
            select(PersonalToken)
            .where(PersonalToken.user_id == user_id)
            .order_by(PersonalToken.id.desc())
        )
    )


def token_state(row: PersonalToken, now: datetime | None = None) -> str:
    """``revoked``, ``expired`` or ``active``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= (now or utcnow()):
        return "expired"
    return "active"
