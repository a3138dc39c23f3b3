"""Credentials other than passwords: login sessions, personal tokens and the OAuth2 server's
clients, codes, tokens; and the failed logins that throttling counts.

Only SHA-256 digests of bearer secrets (and session keys) are stored, so a leaked database does
not leak live tokens or sessions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Model, utcnow
from hub.models.org import Facility, Insurer
from hub.models.people import User


class PersonalToken(Model):
    __tablename__ = "personal_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship()


class OAuthClient(Model):
    __tablename__ = "oauth_client"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    grant_types: Mapped[list[str]]
    redirect_uris: Mapped[list[str]]
    scope: Mapped[str] = mapped_column(Text, default="")
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    # A machine client acts for exactly one organisation: an insurer or a facility (PACS proxy).
    insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurer.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    insurer: Mapped[Insurer | None] = relationship()
    facility: Mapped[Facility | None] = relationship()


class OAuthToken(Model):
    __tablename__ = "oauth_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_pk: Mapped[int] = mapped_column(
        ForeignKey("oauth_client.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The code it was redeemed for: a replayed code revokes these tokens (RFC 6749 4.1.2).
    authorization_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("oauth_authorization_code.id", ondelete="SET NULL"), index=True
    )
    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User | None] = relationship()


class AuthorizationCode(Model):
    __tablename__ = "oauth_authorization_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_client.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    nonce: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()


class UserSession(Model):
    """One browser login: the signed cookie carries only its key, so logging out (or disabling
    the account) ends it on the server, and a copy of the cookie stops working with it."""

    __tablename__ = "user_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(20))
    user: Mapped[User] = relationship()


class LoginFailure(Model):
    """A refused password, by client address (and account when the name was known): what the
    per-address budget and the per-account lock are counted from, shared by every web process."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_address_occurred_at", "address", "occurred_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
