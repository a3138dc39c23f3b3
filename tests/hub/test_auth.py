"""Authentication end to end through the Flask app: the login form (CSRF, lockout, redirects),
sessions on the API, personal tokens, and the OAuth2 server (client credentials, revocation,
introspection, authorization code + PKCE)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from hub import db
from hub.auth.oauth import INSURER_SCOPES, create_client
from hub.models import AuditEvent, OAuthClient, PersonalToken, Role, User, utcnow
from hub.services.tokens import create_personal_token, digest
from hub.services.users import BAD_CREDENTIALS, create_user
from tests.support import factories as f
from tests.support.personas import World

FORM_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
LOGIN_ERROR = re.compile(r'<p class="error"[^>]*id="login-error">([^<]*)</p>')
REDIRECT_URI = "http://127.0.0.1:9/cb"


# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    full_name: str


def make_person(app: Flask, world: World, role: Role = Role.CHW) -> Person:
    """A committed account at facility A (or national for admins) with ``f.PASSWORD``."""
    with app.app_context(), db.transaction() as sess:
        user = create_user(
            sess,
            f"p{secrets.token_hex(6)}",
            full_name=f"Person {secrets.token_hex(4)}",
            role=role,
            facility_code=None if role is Role.NATIONAL_ADMIN else world.facility_a.code,
            password=f.PASSWORD,
        )
        return Person(user.id, user.username, user.full_name)


def form_csrf(resp: TestResponse) -> str:
    match = FORM_CSRF.search(resp.get_data(as_text=True))
    assert match, "the page has no CSRF form field"
    return html.unescape(match.group(1))


def meta_csrf(resp: TestResponse) -> str:
    match = META_CSRF.search(resp.get_data(as_text=True))
    assert match, "the page has no <meta name=csrf-token>"
    return html.unescape(match.group(1))


def login_error(resp: TestResponse) -> str:
    match = LOGIN_ERROR.search(resp.get_data(as_text=True))
    assert match, "the login page shows no error"
    return html.unescape(match.group(1)).strip()


def post_login(
    client: FlaskClient, username: str, password: str = f.PASSWORD, next_: str | None = None
) -> TestResponse:
    token = form_csrf(client.get("/login"))
    url = "/login" if next_ is None else "/login?" + urlencode({"next": next_})
    return client.post(url, data={"csrf_token": token, "username": username, "password": password})


def log_in(client: FlaskClient, person: Person) -> None:
    resp = post_login(client, person.username)
    assert resp.status_code == 302, resp.get_data(as_text=True)


def is_logged_in(client: FlaskClient) -> bool:
    resp = client.get("/home")
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def refusals_for(app: Flask, person: Person) -> list[AuditEvent]:
    with app.app_context(), db.transaction() as sess:
        return list(
            sess.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "hub:login:refused", AuditEvent.object_id == str(person.id)
                )
                .order_by(AuditEvent.seq)
            )
        )


def audit_by_request(app: Flask, resp: TestResponse) -> list[AuditEvent]:
    with app.app_context(), db.transaction() as sess:
        return list(
            sess.scalars(
                select(AuditEvent).where(AuditEvent.request_id == resp.headers["X-Request-ID"])
            )
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def new_patient_body() -> dict[str, Any]:
    return {
        "national_id": f.national_id(),
        "given_name": "Leila",
        "family_name": "Sadeghi",
        "date_of_birth": "1991-04-05",
        "sex": "female",
    }


def assert_invalid_token(resp: TestResponse) -> None:
    assert resp.status_code == 401
    assert resp.is_json
    assert resp.get_json()["error"]["code"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


# --- the login form --------------------------------------------------------------------------


def test_login_page_renders_a_form_with_a_csrf_token(client: FlaskClient) -> None:
    resp = client.get("/login")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert '<form method="post"' in body
    assert 'name="username"' in body and 'name="password"' in body
    assert len(form_csrf(resp)) > 20


def test_login_without_csrf_token_is_refused(app: Flask, world: World) -> None:
    # Plain clients: a `with` client would share its preserved request context with the other.
    client, other = app.test_client(), app.test_client()
    person = make_person(app, world)
    client.get("/login")
    resp = client.post("/login", data={"username": person.username, "password": f.PASSWORD})
    assert resp.status_code == 400
    assert not is_logged_in(client)
    # A token from another session does not work either.
    foreign = form_csrf(other.get("/login"))
    resp = client.post(
        "/login", data={"csrf_token": foreign, "username": person.username, "password": f.PASSWORD}
    )
    assert resp.status_code == 400
    assert not is_logged_in(client)


def test_login_with_right_credentials_lands_on_home(
    client: FlaskClient, app: Flask, world: World
) -> None:
    person = make_person(app, world)
    assert client.get("/home").status_code == 302  # not before logging in
    resp = post_login(client, person.username)
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).path == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert person.full_name in home.get_data(as_text=True)
    with app.app_context(), db.transaction() as sess:
        assert (
            sess.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.action == "hub:login:succeeded",
                    AuditEvent.object_id == str(person.id),
                )
            )
            is not None
        )
        user = sess.get_one(User, person.id)
        assert user.last_login_at is not None


def test_username_is_case_and_space_insensitive(
    client: FlaskClient, app: Flask, world: World
) -> None:
    person = make_person(app, world)
    resp = post_login(client, f"  {person.username.upper()} ")
    assert resp.status_code == 302
    assert is_logged_in(client)


def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: FlaskClient, app: Flask, world: World
) -> None:
    person = make_person(app, world)
    wrong = post_login(client, person.username, "not-the-password")
    unknown = post_login(client, f"nobody-{secrets.token_hex(4)}", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert login_error(wrong) == login_error(unknown) == BAD_CREDENTIALS
    # The typed password is never sent back in the page.
    assert "not-the-password" not in wrong.get_data(as_text=True)
    assert not is_logged_in(client)
    [event] = audit_by_request(app, wrong)
    assert event.action == "hub:login:refused" and event.outcome == "denied"
    assert event.object_id == str(person.id)


def test_three_failures_lock_the_account_until_locked_until_passes(
    client: FlaskClient, app: Flask, world: World
) -> None:
    person = make_person(app, world)
    responses = [post_login(client, person.username, f"wrong-password-{n}") for n in range(3)]
    assert [r.status_code for r in responses] == [401, 401, 401]
    with app.app_context(), db.transaction() as sess:
        locked_until = sess.get_one(User, person.id).locked_until
    assert locked_until is not None and locked_until > utcnow()

    # Locked: even the right password is refused, with the same generic message.
    locked = post_login(client, person.username)
    assert locked.status_code == 401
    assert login_error(locked) == BAD_CREDENTIALS
    assert not is_logged_in(client)

    # Every refusal is in the audit log, tied to its request.
    events = refusals_for(app, person)
    assert len(events) == 4
    assert all(e.outcome == "denied" for e in events)
    assert [e.request_id for e in events] == [
        r.headers["X-Request-ID"] for r in [*responses, locked]
    ]
    assert [e.details.get("reason") for e in events] == ["password"] * 3 + ["locked"]
    assert events[2].details.get("locked") is True

    # Once locked_until has passed, the right password works again.
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(User)
            .where(User.id == person.id)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    resp = post_login(client, person.username)
    assert resp.status_code == 302
    assert is_logged_in(client)
    with app.app_context(), db.transaction() as sess:
        user = sess.get_one(User, person.id)
        assert user.locked_until is None and user.failed_logins == 0


def test_a_success_resets_the_failure_count(app: Flask, world: World) -> None:
    client, other = app.test_client(), app.test_client()
    person = make_person(app, world)
    for _ in range(2):
        assert post_login(client, person.username, "wrong-password").status_code == 401
    assert post_login(client, person.username).status_code == 302
    for _ in range(2):
        assert post_login(other, person.username, "wrong-password").status_code == 401
    # Two more failures after a success do not lock: the count started again.
    assert post_login(other, person.username).status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/home",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_never_redirects_off_site(
    client: FlaskClient, app: Flask, world: World, target: str
) -> None:
    person = make_person(app, world)
    resp = post_login(client, person.username, next_=target)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.scheme in ("", "http")
    assert location.path == "/home"
    assert is_logged_in(client)


def test_login_follows_a_local_next(client: FlaskClient, app: Flask, world: World) -> None:
    person = make_person(app, world)
    resp = post_login(client, person.username, next_="/api/v1/docs?x=1")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/api/v1/docs?x=1"


def test_logout_needs_post_with_csrf(client: FlaskClient, app: Flask, world: World) -> None:
    person = make_person(app, world)
    log_in(client, person)
    home = client.get("/home")
    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)
    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)
    resp = client.post("/logout", data={"csrf_token": meta_csrf(home)})
    assert resp.status_code == 302
    assert urlsplit(resp.headers["Location"]).path == "/login"
    assert not is_logged_in(client)
    assert client.get("/api/v1/me").status_code == 401


def test_language_switch_never_redirects_off_site(client: FlaskClient) -> None:
    for target in ("//evil.example", "/\t/evil.example", "https://evil.example/"):
        resp = client.get("/lang/fa?" + urlencode({"next": target}))
        assert resp.status_code == 302
        assert urlsplit(resp.headers["Location"]).netloc in ("", "localhost")
    resp = client.get("/lang/fa?next=/login")
    assert resp.headers["Location"] == "/login"


# --- a session on the API --------------------------------------------------------------------


def test_session_reads_the_api_and_writes_only_with_the_csrf_header(
    client: FlaskClient, app: Flask, world: World
) -> None:
    assert client.get("/api/v1/me").status_code == 401
    person = make_person(app, world)
    log_in(client, person)
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.get_json()["kind"] == "user"
    assert me.get_json()["via"] == "session"
    assert me.get_json()["username"] == person.username

    refused = client.post("/api/v1/patients", json=new_patient_body())
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    [event] = audit_by_request(app, refused)
    assert event.action == "hub:csrf:rejected" and event.outcome == "denied"

    bogus = client.post(
        "/api/v1/patients", json=new_patient_body(), headers={"X-CSRFToken": "not-a-token"}
    )
    assert bogus.status_code == 403

    token = meta_csrf(client.get("/home"))
    created = client.post(
        "/api/v1/patients", json=new_patient_body(), headers={"X-CSRFToken": token}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["home_facility"] == world.facility_a.code


# --- personal tokens -------------------------------------------------------------------------


def _personal_token(app: Flask, person: Person) -> str:
    with app.app_context(), db.transaction() as sess:
        return create_personal_token(sess, person.username, 3600)


def _set_token(app: Flask, token: str, **values: Any) -> None:
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(PersonalToken).where(PersonalToken.token_hash == digest(token)).values(**values)
        )


def test_personal_token_works_until_it_expires(
    client: FlaskClient, app: Flask, world: World
) -> None:
    person = make_person(app, world)
    token = _personal_token(app, person)
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.get_json()["via"] == "personal_token"
    assert me.get_json()["username"] == person.username
    _set_token(app, token, expires_at=utcnow() - timedelta(seconds=1))
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))


def test_revoked_personal_token_is_refused(client: FlaskClient, app: Flask, world: World) -> None:
    person = make_person(app, world)
    token = _personal_token(app, person)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    _set_token(app, token, revoked_at=utcnow())
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))


def test_token_of_a_deactivated_user_is_refused(
    client: FlaskClient, app: Flask, world: World
) -> None:
    person = make_person(app, world)
    token = _personal_token(app, person)
    with app.app_context(), db.transaction() as sess:
        sess.execute(update(User).where(User.id == person.id).values(is_active=False))
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))


@pytest.mark.parametrize(
    "header",
    [
        "Basic eHl6",
        "Bearer",
        "Bearer    ",
        "Token abc",
        "hubpat_abc",
        "Bearer hubpat_not-a-real-token",
        "Bearer not-a-real-oauth-token",
    ],
)
def test_bad_authorization_headers_get_a_json_401(client: FlaskClient, header: str) -> None:
    resp = client.get("/api/v1/me", headers={"Authorization": header})
    assert_invalid_token(resp)
    assert set(resp.get_json()["error"]) == {"code", "message", "details"}


def test_a_bad_token_is_not_rescued_by_a_session(
    client: FlaskClient, app: Flask, world: World
) -> None:
    log_in(client, make_person(app, world))
    assert client.get("/api/v1/me").status_code == 200
    assert_invalid_token(client.get("/api/v1/me", headers=bearer("hubpat_nope")))


# --- OAuth2 client credentials ---------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    client_id: str
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return basic(self.client_id, self.secret)


def make_machine(app: Flask, insurer_code: str) -> Machine:
    with app.app_context(), db.transaction() as sess:
        row, secret = create_client(sess, name="test insurer", insurer_code=insurer_code)
        assert secret is not None
        return Machine(row.client_id, secret)


def client_token(client: FlaskClient, machine: Machine, **extra: str) -> dict[str, Any]:
    resp = client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **extra}, headers=machine.auth
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body: dict[str, Any] = resp.get_json()
    return body


def test_client_credentials_with_basic_auth(client: FlaskClient, app: Flask, world: World) -> None:
    machine = make_machine(app, world.insurer_a.code)
    issued = client_token(client, machine)
    assert issued["token_type"].lower() == "bearer"
    assert issued["expires_in"] > 0
    assert "refresh_token" not in issued
    assert set(issued["scope"].split()) == set(INSURER_SCOPES.split())
    me = client.get("/api/v1/me", headers=bearer(issued["access_token"]))
    assert me.status_code == 200
    body = me.get_json()
    assert body["kind"] == "client"
    assert body["via"] == "oauth"
    assert body["client_id"] == machine.client_id
    assert body["insurer"] == world.insurer_a.code
    assert body["roles"] == ["insurer"]
    assert body["scopes"] == sorted(INSURER_SCOPES.split())
    assert body["username"] is None


def test_client_credentials_with_client_secret_post(
    client: FlaskClient, app: Flask, world: World
) -> None:
    machine = make_machine(app, world.insurer_b.code)
    resp = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": machine.client_id,
            "client_secret": machine.secret,
        },
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    me = client.get("/api/v1/me", headers=bearer(resp.get_json()["access_token"]))
    assert me.status_code == 200
    assert me.get_json()["insurer"] == world.insurer_b.code


def test_wrong_client_secret_is_invalid_client(
    client: FlaskClient, app: Flask, world: World
) -> None:
    machine = make_machine(app, world.insurer_a.code)
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(machine.client_id, "wrong-secret"),
    )
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_client"
    assert "access_token" not in resp.get_json()
    unknown = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic("no-such-client", machine.secret),
    )
    assert unknown.status_code == 401
    assert unknown.get_json()["error"] == "invalid_client"
    posted = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": machine.client_id,
            "client_secret": "wrong-secret",
        },
    )
    assert posted.status_code in (400, 401)
    assert posted.get_json()["error"] == "invalid_client"


def test_unregistered_grant_type_is_refused(client: FlaskClient, app: Flask, world: World) -> None:
    machine = make_machine(app, world.insurer_a.code)
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "x", "password": "y"},
        headers=machine.auth,
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "unsupported_grant_type"


def test_scopes_the_client_lacks_are_invalid_scope(
    client: FlaskClient, app: Flask, world: World
) -> None:
    machine = make_machine(app, world.insurer_a.code)
    issued = client_token(client, machine, scope="claims:read")
    assert issued["scope"].split() == ["claims:read"]
    me = client.get("/api/v1/me", headers=bearer(issued["access_token"])).get_json()
    assert me["scopes"] == ["claims:read"]

    # Asking for more than the registration is refused outright, never quietly cut down.
    for scope in ("claims:read admin patients:write", "admin"):
        refused = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            headers=machine.auth,
        )
        assert refused.status_code == 400
        assert refused.get_json()["error"] == "invalid_scope"
        assert "access_token" not in refused.get_json()


def test_revocation_makes_the_token_unusable(client: FlaskClient, app: Flask, world: World) -> None:
    machine = make_machine(app, world.insurer_a.code)
    token = client_token(client, machine)["access_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    # Revocation needs client authentication.
    anonymous = client.post("/oauth/revoke", data={"token": token})
    assert anonymous.status_code in (400, 401)
    assert anonymous.get_json()["error"] == "invalid_client"
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    resp = client.post(
        "/oauth/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        headers=machine.auth,
    )
    assert resp.status_code == 200
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))
    with app.app_context(), db.transaction() as sess:
        assert (
            sess.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.action == "hub:oauth_token:revoked",
                    AuditEvent.request_id == resp.headers["X-Request-ID"],
                )
            )
            is not None
        )
    # Revoking again, or an unknown token, is a harmless 200 (RFC 7009).
    again = client.post("/oauth/revoke", data={"token": token}, headers=machine.auth)
    assert again.status_code == 200
    unknown = client.post("/oauth/revoke", data={"token": "no-such-token"}, headers=machine.auth)
    assert unknown.status_code == 200


def test_introspection(client: FlaskClient, app: Flask, world: World) -> None:
    machine = make_machine(app, world.insurer_a.code)
    token = client_token(client, machine)["access_token"]
    live = client.post("/oauth/introspect", data={"token": token}, headers=machine.auth)
    assert live.status_code == 200
    body = live.get_json()
    assert body["active"] is True
    assert body["client_id"] == machine.client_id
    assert set(body["scope"].split()) == set(INSURER_SCOPES.split())
    assert body["exp"] > body["iat"]

    unknown = client.post(
        "/oauth/introspect", data={"token": "no-such-token"}, headers=machine.auth
    )
    assert unknown.status_code == 200
    assert unknown.get_json() == {"active": False}

    assert (
        client.post("/oauth/revoke", data={"token": token}, headers=machine.auth).status_code == 200
    )
    revoked = client.post("/oauth/introspect", data={"token": token}, headers=machine.auth)
    assert revoked.get_json() == {"active": False}

    anonymous = client.post("/oauth/introspect", data={"token": token})
    assert anonymous.status_code in (400, 401)
    assert anonymous.get_json()["error"] == "invalid_client"


def test_another_client_cannot_revoke_or_introspect_a_token(
    client: FlaskClient, app: Flask, world: World
) -> None:
    owner = make_machine(app, world.insurer_a.code)
    intruder = make_machine(app, world.insurer_b.code)
    token = client_token(client, owner)["access_token"]

    peek = client.post("/oauth/introspect", data={"token": token}, headers=intruder.auth)
    assert peek.status_code == 200
    assert peek.get_json() == {"active": False}  # nothing about the token leaks

    client.post("/oauth/revoke", data={"token": token}, headers=intruder.auth)
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200  # still alive
    assert me.get_json()["client_id"] == owner.client_id
    own = client.post("/oauth/introspect", data={"token": token}, headers=owner.auth)
    assert own.get_json()["active"] is True


def test_a_revoked_client_gets_no_tokens_and_its_tokens_stop(
    client: FlaskClient, app: Flask, world: World
) -> None:
    machine = make_machine(app, world.insurer_a.code)
    token = client_token(client, machine)["access_token"]
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(OAuthClient)
            .where(OAuthClient.client_id == machine.client_id)
            .values(revoked_at=utcnow())
        )
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))
    resp = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=machine.auth
    )
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "invalid_client"


# --- authorization code + PKCE ---------------------------------------------------------------


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@dataclass(frozen=True)
class App:
    client_id: str
    name: str


def make_app_client(app: Flask) -> App:
    name = f"Test app {secrets.token_hex(3)}"
    with app.app_context(), db.transaction() as sess:
        row, secret = create_client(sess, name=name, redirect_uris=(REDIRECT_URI,), public=True)
        assert secret is None
        return App(row.client_id, name)


def authorize_url(
    app_client: App,
    *,
    verifier: str | None,
    state: str = "st-123",
    scope: str = "profile patients:read",
    **extra: str,
) -> str:
    params = {
        "response_type": "code",
        "client_id": app_client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        **extra,
    }
    if verifier is not None:
        params.update(code_challenge=s256(verifier), code_challenge_method="S256")
    return "/oauth/authorize?" + urlencode(params)


def decide(client: FlaskClient, url: str, decision: str) -> TestResponse:
    consent = client.get(url)
    assert consent.status_code == 200, consent.get_data(as_text=True)
    return client.post(url, data={"csrf_token": form_csrf(consent), "decision": decision})


def consent_scopes(client: FlaskClient, url: str) -> list[str]:
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return re.findall(r"<li><code>([^<]+)</code></li>", page.get_data(as_text=True))


def callback_params(resp: TestResponse) -> dict[str, str]:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def redeem(client: FlaskClient, app_client: App, code: str, verifier: str | None) -> TestResponse:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": app_client.client_id,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    return client.post("/oauth/token", data=data)


@pytest.fixture
def app_client(app: Flask) -> App:
    return make_app_client(app)


def test_authorization_code_with_pkce(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    person = make_person(app, world)
    verifier = secrets.token_urlsafe(48)
    url = authorize_url(app_client, verifier=verifier)

    # Not logged in: to the login form, and back to the consent page afterwards.
    first = client.get(url)
    assert first.status_code == 302
    to_login = urlsplit(first.headers["Location"])
    assert to_login.path == "/login"
    next_ = parse_qs(to_login.query)["next"][0]
    assert next_.startswith("/oauth/authorize?")
    back = post_login(client, person.username, next_=next_)
    assert back.status_code == 302
    assert back.headers["Location"] == next_

    consent = client.get(url)
    assert consent.status_code == 200
    page = consent.get_data(as_text=True)
    assert app_client.name in page
    assert consent_scopes(client, url) == ["profile", "patients:read"]

    # Allowing needs the form's CSRF token.
    assert client.post(url, data={"decision": "allow"}).status_code == 400

    params = callback_params(
        client.post(url, data={"csrf_token": form_csrf(consent), "decision": "allow"})
    )
    assert params["state"] == "st-123"
    code = params["code"]

    wrong = redeem(client, app_client, code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.get_json()["error"] == "invalid_grant"
    missing = redeem(client, app_client, code, None)
    assert missing.status_code == 400
    assert "access_token" not in missing.get_json()

    good = redeem(client, app_client, code, verifier)
    assert good.status_code == 200, good.get_data(as_text=True)
    token = good.get_json()["access_token"]
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200
    body = me.get_json()
    assert body["kind"] == "user"
    assert body["via"] == "oauth"
    assert body["username"] == person.username
    assert body["scopes"] == ["patients:read", "profile"]

    # The token is the app's and the user's: it reads but cannot write patients.
    write = client.post("/api/v1/patients", json=new_patient_body(), headers=bearer(token))
    assert write.status_code == 403

    replay = redeem(client, app_client, code, verifier)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    # Whoever replays a code may hold its token as well: that token is revoked (RFC 6749 4.1.2).
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))


def test_scopes_beyond_the_user_are_not_granted(
    client: FlaskClient, app: Flask, world: World
) -> None:
    name = f"Admin app {secrets.token_hex(3)}"
    with app.app_context(), db.transaction() as sess:
        row, _ = create_client(
            sess,
            name=name,
            redirect_uris=(REDIRECT_URI,),
            public=True,
            scope="profile admin consults:read",
        )
        app_client = App(row.client_id, name)
    person = make_person(app, world, Role.CHW)
    log_in(client, person)
    verifier = secrets.token_urlsafe(48)
    # The app is registered for profile, admin, consults:read; a CHW has no admin.
    url = authorize_url(app_client, verifier=verifier, scope="profile admin consults:read")
    # The consent page shows what the app will really get, not what it asked for.
    assert consent_scopes(client, url) == ["profile", "consults:read"]
    params = callback_params(decide(client, url, "allow"))
    token = redeem(client, app_client, params["code"], verifier).get_json()["access_token"]
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["scopes"] == ["consults:read", "profile"]


def test_without_a_scope_the_app_gets_and_shows_its_registered_scopes(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    log_in(client, make_person(app, world, Role.CHW))
    verifier = secrets.token_urlsafe(48)
    url = authorize_url(app_client, verifier=verifier, scope="")
    shown = consent_scopes(client, url)
    assert sorted(shown) == ["consults:read", "patients:read", "profile"]
    params = callback_params(decide(client, url, "allow"))
    issued = redeem(client, app_client, params["code"], verifier).get_json()
    me = client.get("/api/v1/me", headers=bearer(issued["access_token"])).get_json()
    assert me["scopes"] == sorted(shown)


def test_nothing_grantable_is_invalid_scope(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    log_in(client, make_person(app, world, Role.CHW))
    url = authorize_url(app_client, verifier=secrets.token_urlsafe(48), scope="admin")
    page = client.get(url)
    assert page.status_code == 400
    assert "invalid_scope" in page.get_data(as_text=True)
    # Allowing anyway gets an error, never a code that would read as "every scope".
    resp = client.post(
        url, data={"csrf_token": meta_csrf(client.get("/home")), "decision": "allow"}
    )
    params = callback_params(resp)
    assert params["error"] == "invalid_scope"
    assert "code" not in params


def test_authorization_request_without_code_challenge_is_refused(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    log_in(client, make_person(app, world))
    url = authorize_url(app_client, verifier=None)
    page = client.get(url)
    assert page.status_code == 400
    assert "invalid_request" in page.get_data(as_text=True)
    # Posting the decision anyway gets no code either.
    token = meta_csrf(client.get("/home"))
    resp = client.post(url, data={"csrf_token": token, "decision": "allow"})
    if resp.status_code == 302:
        params = callback_params(resp)
        assert "code" not in params
        assert params["error"] == "invalid_request"
    else:
        assert resp.status_code == 400


def test_scopes_beyond_the_app_are_invalid_scope(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    log_in(client, make_person(app, world, Role.CHW))
    # Registered for profile, patients:read, consults:read: patients:write is beyond it, even
    # though a CHW may write patients.
    url = authorize_url(
        app_client,
        verifier=secrets.token_urlsafe(48),
        scope="profile patients:write consults:read",
        state="scope-state",
    )
    page = client.get(url)
    assert page.status_code == 400
    assert "invalid_scope" in page.get_data(as_text=True)
    assert "code" not in urlsplit(page.headers.get("Location", "")).query
    # Allowing anyway: the app hears invalid_scope at its callback, with its state, and no code.
    resp = client.post(
        url, data={"csrf_token": meta_csrf(client.get("/home")), "decision": "allow"}
    )
    params = callback_params(resp)
    assert params["error"] == "invalid_scope"
    assert params["state"] == "scope-state"
    assert "code" not in params


@pytest.mark.parametrize("method", ["plain", None])
def test_pkce_plain_is_refused(
    client: FlaskClient, app: Flask, world: World, app_client: App, method: str | None
) -> None:
    log_in(client, make_person(app, world))
    verifier = secrets.token_urlsafe(48)
    # plain: the challenge is the verifier; without a method RFC 7636 reads it as plain.
    challenge = {"code_challenge": verifier}
    if method is not None:
        challenge["code_challenge_method"] = method
    url = authorize_url(app_client, verifier=None, **challenge)
    page = client.get(url)
    assert page.status_code == 400
    assert "invalid_request" in page.get_data(as_text=True)
    resp = client.post(
        url, data={"csrf_token": meta_csrf(client.get("/home")), "decision": "allow"}
    )
    params = callback_params(resp)
    assert params["error"] == "invalid_request"
    assert "code" not in params


def test_a_replayed_code_revokes_the_token_it_gave(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    person = make_person(app, world)
    log_in(client, person)
    verifier = secrets.token_urlsafe(48)
    params = callback_params(decide(client, authorize_url(app_client, verifier=verifier), "allow"))
    first = redeem(client, app_client, params["code"], verifier)
    assert first.status_code == 200, first.get_data(as_text=True)
    token = first.get_json()["access_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    # A second, unrelated code of the same user and app keeps its token.
    other_verifier = secrets.token_urlsafe(48)
    other_params = callback_params(
        decide(client, authorize_url(app_client, verifier=other_verifier), "allow")
    )
    other = redeem(client, app_client, other_params["code"], other_verifier).get_json()

    replay = redeem(client, app_client, params["code"], verifier)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    assert "access_token" not in replay.get_json()
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))
    assert client.get("/api/v1/me", headers=bearer(other["access_token"])).status_code == 200
    with app.app_context(), db.transaction() as sess:
        revoked = sess.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "hub:oauth_token:revoked",
                AuditEvent.request_id == replay.headers["X-Request-ID"],
            )
        )
        assert revoked is not None and revoked.details["reason"] == "code_replayed"


def test_unregistered_redirect_uri_is_refused(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    log_in(client, make_person(app, world))
    url = authorize_url(app_client, verifier=secrets.token_urlsafe(48))
    bad = url.replace(
        urlencode({"redirect_uri": REDIRECT_URI}),
        urlencode({"redirect_uri": "https://evil.example/cb"}),
    )
    assert bad != url
    resp = client.get(bad)
    assert resp.status_code == 400
    assert "evil.example" not in resp.headers.get("Location", "")


def test_deny_redirects_with_access_denied(
    client: FlaskClient, app: Flask, world: World, app_client: App
) -> None:
    log_in(client, make_person(app, world))
    url = authorize_url(app_client, verifier=secrets.token_urlsafe(48), state="deny-state")
    params = callback_params(decide(client, url, "deny"))
    assert params["error"] == "access_denied"
    assert params["state"] == "deny-state"
    assert "code" not in params


def test_public_app_cannot_use_client_credentials_or_introspect(
    client: FlaskClient, app_client: App
) -> None:
    resp = client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": app_client.client_id}
    )
    assert resp.status_code in (400, 401)
    assert resp.get_json()["error"] in ("invalid_client", "unauthorized_client")
    peek = client.post("/oauth/introspect", data={"token": "x", "client_id": app_client.client_id})
    assert peek.status_code in (400, 401)
    assert peek.get_json()["error"] == "invalid_client"
