"""The OAuth2 authorization server (Authlib): client credentials, authorization code + PKCE,
revocation (RFC 7009) and introspection (RFC 7662), plus machine-client management."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidRequestError,
    InvalidScopeError,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import audit, db
from hub.auth.principal import SYSTEM, Principal
from hub.errors import NotFound, ValidationFailed
from hub.models import AuthorizationCode, Insurer, OAuthClient, OAuthToken, User, utcnow
from hub.models.org import Facility
from hub.permissions import SCOPES, scopes_for_roles
from hub.services.tokens import digest

INSURER_SCOPES = "profile patients:read claims:read claims:reconcile"
PACS_PROXY_SCOPES = "profile imaging:read imaging:write"
CODE_TTL = timedelta(minutes=5)


class ClientView(ClientMixin):
    """Adapts an :class:`OAuthClient` row to what Authlib asks of a client."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.row.redirect_uris[0] if self.row.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.scope.split())
        if not scope:
            return " ".join(sorted(allowed))
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.row.secret_hash is None:
            return False
        return hmac.compare_digest(self.row.secret_hash, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.secret_hash is None:
            # A public app may only redeem codes (with PKCE); it cannot revoke or introspect.
            return method == "none" and endpoint == "token"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return self.row.revoked_at is None and grant_type in self.row.grant_types


class TokenView(TokenMixin):
    """Adapts an :class:`OAuthToken` row for Authlib's endpoints and resource protector."""

    def __init__(self, row: OAuthToken) -> None:
        self.row = row

    def check_client(self, client: ClientView) -> bool:
        return self.row.client_pk == client.row.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.row.expires_at - self.row.issued_at).total_seconds()))

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.row.client.revoked_at is not None

    def get_user(self) -> User | None:
        return self.row.user

    def get_client(self) -> ClientView:
        return ClientView(self.row.client)


class CodeView:
    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int | None:
        return None


def _query_client(client_id: str) -> ClientView | None:
    row = db.session().scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if row is None or row.revoked_at is not None:
        return None
    return ClientView(row)


def _save_token(token: dict[str, Any], request: Any) -> None:
    client: ClientView = request.client
    user = request.user if isinstance(getattr(request, "user", None), User) else None
    code = getattr(request, "authorization_code", None)
    now = utcnow()
    sess = db.session()
    row = OAuthToken(
        client_pk=client.row.id,
        user_id=user.id if user else None,
        access_token_hash=digest(token["access_token"]),
        refresh_token_hash=digest(token["refresh_token"]) if token.get("refresh_token") else None,
        scope=token.get("scope", ""),
        issued_at=now,
        expires_at=now + timedelta(seconds=int(token["expires_in"])),
        authorization_code_id=code.row.id if isinstance(code, CodeView) else None,
    )
    sess.add(row)
    sess.flush()
    actor = Principal(kind="client", via="oauth", client_id=client.row.client_id)
    audit.record(
        sess,
        actor,
        "hub:oauth_token:issued",
        object_type="oauth_client",
        object_id=client.row.id,
        details={
            "grant": request.payload.grant_type if request.payload else None,
            "token_id": row.id,
        },
    )


class RegisteredScopes:
    """A grant refuses, with ``invalid_scope``, a request for any scope the client is not
    registered for, rather than quietly issuing less than was asked (RFC 6749 §3.3, §5.2).
    Scopes the user's roles do not allow are still left out (:func:`granted_scopes`)."""

    request: Any

    def validate_requested_scope(self) -> None:
        super().validate_requested_scope()  # type: ignore[misc]
        client: ClientView = self.request.client
        registered = set(client.row.scope.split())
        unknown = [
            s for s in scope_to_list(self.request.payload.scope) or [] if s not in registered
        ]
        if unknown:
            raise InvalidScopeError(
                f"The client is not registered for the scope {unknown[0]!r}.",
                state=self.request.payload.state,
            )


class ClientCredentialsGrant(RegisteredScopes, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def granted_scopes(client: ClientView, user: User, requested: str | None) -> list[str]:
    """What an app gets for a user, and so what the consent page must show: the scopes asked for
    (or, when none are, those the app is registered for), limited to the app's registration and
    to what the user's roles allow."""
    allowed = scopes_for_roles(user.role_set)
    return [s for s in client.get_allowed_scope(requested).split() if s in allowed]


class RequiredCodeChallenge(CodeChallenge):
    """PKCE that a public app cannot skip, with S256 only.

    An authorization request without a ``code_challenge`` is refused at once: Authlib's
    ``CodeChallenge(required=True)`` only refuses the later token request, after the user was
    shown a consent page and a code was issued. ``plain`` (also what a challenge without a
    method means, RFC 7636 §4.3) is refused: its challenge is the verifier itself, so whoever
    sees the authorization request can redeem the code.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": CodeChallenge.CODE_CHALLENGE_METHODS["S256"]}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        request = grant.request
        client: ClientView = request.client
        challenge = request.payload.data.get("code_challenge")
        if self.required and not challenge and client.row.secret_hash is None:
            raise InvalidRequestError("Missing 'code_challenge': public apps must use PKCE.")
        if challenge and request.payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(RegisteredScopes, grants.AuthorizationCodeGrant):
    # Public apps (no secret) must use PKCE; confidential apps may as well.
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        user: User = request.user
        client: ClientView = request.client
        redirect_uri = request.payload.redirect_uri or client.get_default_redirect_uri() or ""
        scopes = granted_scopes(client, user, request.payload.scope)
        if not scopes:
            # An empty scope would later read as "everything the app is registered for".
            raise InvalidScopeError(redirect_uri=redirect_uri)
        row = AuthorizationCode(
            code_hash=digest(code),
            client_pk=client.row.id,
            user_id=user.id,
            redirect_uri=redirect_uri,
            scope=" ".join(scopes),
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            nonce=request.payload.data.get("nonce"),
            expires_at=utcnow() + CODE_TTL,
        )
        db.session().add(row)

    def query_authorization_code(self, code: str, client: ClientView) -> CodeView | None:
        sess = db.session()
        # Locked: of two redemptions at once, the second waits and then sees the code used.
        row = sess.scalar(
            select(AuthorizationCode)
            .where(
                AuthorizationCode.code_hash == digest(code),
                AuthorizationCode.client_pk == client.row.id,
            )
            .with_for_update()
        )
        if row is None:
            return None
        if row.used_at is not None:
            _revoke_replayed(sess, row, client)
            return None
        if row.expires_at <= utcnow() or (
            row.code_challenge and row.code_challenge_method != "S256"
        ):
            return None
        return CodeView(row)

    def delete_authorization_code(self, authorization_code: CodeView) -> None:
        # Kept (marked used) rather than deleted, so a replayed code is refused and traceable.
        authorization_code.row.used_at = utcnow()

    def authenticate_user(self, authorization_code: CodeView) -> User | None:
        user = authorization_code.row.user
        return user if user.is_active else None


def _revoke_replayed(sess: Session, row: AuthorizationCode, client: ClientView) -> None:
    """A used code presented again: whoever holds it may hold its tokens too, so they are
    revoked (RFC 6749 §4.1.2); the view commits this with the ``invalid_grant`` answer."""
    live = OAuthToken.authorization_code_id == row.id, OAuthToken.revoked_at.is_(None)
    revoked = list(sess.scalars(select(OAuthToken.id).where(*live)))
    sess.execute(update(OAuthToken).where(*live).values(revoked_at=utcnow()))
    actor = Principal(kind="client", via="oauth", client_id=client.row.client_id)
    for token_id in revoked:
        audit.record(
            sess,
            actor,
            "hub:oauth_token:revoked",
            object_type="oauth_token",
            object_id=token_id,
            details={"reason": "code_replayed", "code_id": row.id},
        )


def _query_token(token_string: str, token_type_hint: str | None) -> TokenView | None:
    sess = db.session()
    hashed = digest(token_string)
    row = None
    if token_type_hint != "refresh_token":  # noqa: S105 (a hint name, not a secret)
        row = sess.scalar(select(OAuthToken).where(OAuthToken.access_token_hash == hashed))
    if row is None and token_type_hint != "access_token":  # noqa: S105
        row = sess.scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == hashed))
    return TokenView(row) if row is not None else None


class HubRevocationEndpoint(RevocationEndpoint):
    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return _query_token(token_string, token_type_hint)

    def revoke_token(self, token: TokenView, request: Any) -> None:
        if token.row.revoked_at is None:
            token.row.revoked_at = utcnow()
            actor = Principal(kind="client", via="oauth", client_id=request.client.row.client_id)
            audit.record(
                db.session(),
                actor,
                "hub:oauth_token:revoked",
                object_type="oauth_token",
                object_id=token.row.id,
            )


class HubIntrospectionEndpoint(IntrospectionEndpoint):
    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return _query_token(token_string, token_type_hint)

    def check_permission(self, token: TokenView, client: ClientView, request: Any) -> bool:
        # A client may introspect its own tokens; a national-level resource server (admin scope)
        # may introspect any.
        return token.check_client(client) or "admin" in client.row.scope.split()

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        row = token.row
        return {
            "active": True,
            "client_id": row.client.client_id,
            "token_type": "Bearer",
            "username": row.user.username if row.user else None,
            "scope": row.scope,
            "sub": str(row.user_id) if row.user_id else row.client.client_id,
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.issued_at.timestamp()),
        }


authorization_server = AuthorizationServer()


def init_app(app: Flask) -> None:
    settings = app.config["HUB_SETTINGS"]
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "client_credentials": settings.oauth_token_ttl,
        "authorization_code": settings.oauth_token_ttl,
    }
    authorization_server.init_app(app, query_client=_query_client, save_token=_save_token)
    authorization_server.register_grant(ClientCredentialsGrant)
    authorization_server.register_grant(
        AuthorizationCodeGrant, [RequiredCodeChallenge(required=True)]
    )
    authorization_server.register_endpoint(HubRevocationEndpoint)
    authorization_server.register_endpoint(HubIntrospectionEndpoint)


def create_client(
    session: Session,
    *,
    name: str,
    insurer_code: str | None = None,
    facility_code: str | None = None,
    redirect_uris: tuple[str, ...] = (),
    public: bool = False,
    scope: str | None = None,
    actor: Principal = SYSTEM,
) -> tuple[OAuthClient, str | None]:
    """A machine client (insurer or PACS proxy: client credentials) or an app (code + PKCE).

    Returns the row and the plain secret, which is shown once and stored only as a digest.
    """
    insurer = facility = None
    if insurer_code:
        insurer = session.scalar(select(Insurer).where(Insurer.code == insurer_code))
        if insurer is None:
            raise ValidationFailed(f"Unknown insurer {insurer_code!r}.")
    if facility_code:
        facility = session.scalar(select(Facility).where(Facility.code == facility_code))
        if facility is None:
            raise ValidationFailed(f"Unknown facility {facility_code!r}.")
    if insurer and facility:
        raise ValidationFailed("A client belongs to an insurer or a facility, not both.")
    if redirect_uris:
        grant_types = ["authorization_code"]
        default_scope = "profile patients:read consults:read"
    elif insurer or facility:
        grant_types = ["client_credentials"]
        default_scope = INSURER_SCOPES if insurer else PACS_PROXY_SCOPES
    else:
        raise ValidationFailed(
            "Give --insurer or --facility (machine client) or --redirect-uri (app)."
        )
    requested = (scope or default_scope).split()
    unknown = [s for s in requested if s not in SCOPES]
    if unknown:
        raise ValidationFailed(f"Unknown scope {unknown[0]!r}.")
    if public and not redirect_uris:
        raise ValidationFailed("Only apps (with --redirect-uri) can be public clients.")
    secret = None if public else secrets.token_urlsafe(32)
    row = OAuthClient(
        client_id=secrets.token_urlsafe(18),
        secret_hash=digest(secret) if secret else None,
        name=name,
        grant_types=grant_types,
        redirect_uris=list(redirect_uris),
        scope=" ".join(requested),
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        insurer=insurer,
        facility=facility,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "hub:oauth_client:created",
        object_type="oauth_client",
        object_id=row.id,
        details={"grant_types": grant_types},
    )
    return row, secret


def revoke_client(session: Session, client_id: str, actor: Principal = SYSTEM) -> OAuthClient:
    """Revoke a client: it gets no more tokens and every token it holds stops working (audited)."""
    row = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id.strip()))
    if row is None:
        raise NotFound(f"No OAuth2 client {client_id!r}.")
    now = utcnow()
    tokens = session.execute(
        update(OAuthToken)
        .where(OAuthToken.client_pk == row.id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(
            session,
            actor,
            "hub:oauth_client:revoked",
            object_type="oauth_client",
            object_id=row.id,
            details={"tokens": int(getattr(tokens, "rowcount", 0) or 0)},
        )
    return row


def list_clients(session: Session) -> list[OAuthClient]:
    """Every OAuth2 client, oldest first (client ids for ``hub oauth-client revoke``)."""
    return list(session.scalars(select(OAuthClient).order_by(OAuthClient.id)))
