"""Who is calling this request: a bearer token (personal or OAuth2) or a logged-in session."""

from __future__ import annotations

from flask import g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms import ValidationError

from hub import db
from hub.auth.oauth import TokenView
from hub.auth.principal import Principal, client_principal, user_principal
from hub.errors import AccessDenied, Unauthorized
from hub.models import OAuthToken, User, utcnow
from hub.services.tokens import PERSONAL_PREFIX, digest, find_personal_token

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
INVALID_TOKEN = "The access token is missing, invalid, expired or revoked."  # noqa: S105


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="invalid_token")
    return value.strip()


def _from_token(token: str) -> Principal:
    sess = db.session()
    if token.startswith(PERSONAL_PREFIX):
        row = find_personal_token(sess, token)
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= utcnow()
            or not row.user.is_active
        ):
            raise Unauthorized(INVALID_TOKEN, code="invalid_token")
        # The session holds its rows weakly: keeping the caller's user (with facility and
        # roles, loaded with the token) for the request spares services loading them again.
        g.token_user = row.user
        return user_principal(row.user, "personal_token")
    oauth = sess.scalar(select(OAuthToken).where(OAuthToken.access_token_hash == digest(token)))
    if oauth is None:
        raise Unauthorized(INVALID_TOKEN, code="invalid_token")
    view = TokenView(oauth)
    if view.is_expired() or view.is_revoked():
        raise Unauthorized(INVALID_TOKEN, code="invalid_token")
    scopes = frozenset(oauth.scope.split())
    if oauth.user is not None:
        if not oauth.user.is_active:
            raise Unauthorized(INVALID_TOKEN, code="invalid_token")
        return user_principal(oauth.user, "oauth", scopes)
    return client_principal(oauth.client, scopes)


def api_principal() -> Principal:
    """The caller of an API request; a session caller must send the CSRF token on writes."""
    cached = g.get("principal")
    if cached is not None:
        return cached
    token = _bearer()
    if token is not None:
        principal = _from_token(token)
    elif current_user.is_authenticated:
        if request.method not in _SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except (ValidationError, CSRFError):
                raise AccessDenied(
                    "Missing or invalid CSRF token.", action="hub:csrf:rejected"
                ) from None
        principal = user_principal(current_user.user, "session")
    else:
        raise Unauthorized("Authentication required.", code="unauthenticated")
    g.principal = principal
    return principal


def session_user() -> User | None:
    return current_user.user if current_user.is_authenticated else None
