"""What administrators revoke stops working at once through the API: `hub token revoke`,
`hub user disable`, `hub oauth-client revoke`; each revocation is audited. And `hub token
create` refuses a lifetime beyond HUB_TOKEN_MAX_TTL_DAYS with a clear error."""

from __future__ import annotations

import secrets

from click.testing import Result
from flask import Flask
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent, OAuthClient
from tests.hub.test_auth import (
    App,
    Person,
    assert_invalid_token,
    authorize_url,
    bearer,
    callback_params,
    client_token,
    decide,
    log_in,
    make_app_client,
    make_machine,
    make_person,
    post_login,
    redeem,
)
from tests.support.personas import World


def hub(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def audited(app: Flask, action: str, object_id: object) -> list[AuditEvent]:
    with app.app_context(), db.transaction() as sess:
        return list(
            sess.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == action, AuditEvent.object_id == str(object_id)
                )
            )
        )


def new_token(app: Flask, person: Person) -> str:
    done = hub(app, "token", "create", person.username, "--ttl", "1h", "--name", "script")
    assert done.exit_code == 0, done.output
    return done.output.strip()


def app_token(app: Flask, person: Person, app_client: App) -> str:
    """An OAuth2 access token an app got for ``person`` (authorization code + PKCE)."""
    browser = app.test_client()
    log_in(browser, person)
    verifier = secrets.token_urlsafe(48)
    url = authorize_url(app_client, verifier=verifier, scope="profile")
    params = callback_params(decide(browser, url, "allow"))
    issued = redeem(browser, app_client, params["code"], verifier)
    assert issued.status_code == 200, issued.get_data(as_text=True)
    token: str = issued.get_json()["access_token"]
    return token


def test_token_list_and_revoke_by_id(app: Flask, world: World) -> None:
    person = make_person(app, world)
    token, other = new_token(app, person), new_token(app, person)
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    listed = hub(app, "token", "list", person.username)
    assert listed.exit_code == 0, listed.output
    lines = [line.split("\t") for line in listed.output.splitlines()]
    assert [(line[1], line[4]) for line in lines] == [("script", "active")] * 2
    assert token not in listed.output  # ids and dates only, never a token
    newest, oldest = (line[0] for line in lines)

    done = hub(app, "token", "revoke", oldest)
    assert done.exit_code == 0, done.output
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200
    states = [
        line.split("\t")[4]
        for line in hub(app, "token", "list", person.username).output.splitlines()
    ]
    assert states == ["active", "revoked"]
    [event] = audited(app, "hub:token:revoked", person.id)
    assert event.details == {"token_id": int(oldest)}
    assert newest != oldest


def test_token_revoke_by_the_token_itself(app: Flask, world: World) -> None:
    person = make_person(app, world)
    token = new_token(app, person)
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert hub(app, "token", "revoke", token).exit_code == 0
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))
    # Revoking again is harmless; an unknown id is an error naming no token.
    assert hub(app, "token", "revoke", token).exit_code == 0
    unknown = hub(app, "token", "revoke", "999999999")
    assert unknown.exit_code == 1 and "No such token" in unknown.output
    assert hub(app, "token", "list", "nobody-at-all").exit_code == 1


def test_token_create_refuses_a_ttl_beyond_the_maximum(app: Flask, world: World) -> None:
    person = make_person(app, world)
    for ttl in ("99999999999d", "366d"):
        done = hub(app, "token", "create", person.username, "--ttl", ttl)
        assert done.exit_code == 2, done.output
        assert "365d" in done.output and "HUB_TOKEN_MAX_TTL_DAYS" in done.output
        assert done.exception is None or isinstance(done.exception, SystemExit)
    assert hub(app, "token", "create", person.username, "--ttl", "365d").exit_code == 0


def test_a_disabled_user_loses_sessions_tokens_and_logins(app: Flask, world: World) -> None:
    person = make_person(app, world)
    browser = app.test_client()
    log_in(browser, person)
    token = new_token(app, person)
    oauth = app_token(app, person, make_app_client(app))
    for headers in ({}, bearer(token), bearer(oauth)):
        assert browser.get("/api/v1/me", headers=headers).status_code == 200

    done = hub(app, "user", "disable", person.username)
    assert done.exit_code == 0, done.output
    assert browser.get("/api/v1/me").status_code == 401
    assert_invalid_token(browser.get("/api/v1/me", headers=bearer(token)))
    assert_invalid_token(browser.get("/api/v1/me", headers=bearer(oauth)))
    assert post_login(app.test_client(), person.username).status_code == 401
    [event] = audited(app, "hub:user:disabled", person.id)
    assert event.details == {"sessions": 2, "personal_tokens": 1, "oauth_tokens": 1}

    # Enabled again: the person logs in anew, but what was revoked stays revoked.
    assert hub(app, "user", "enable", person.username).exit_code == 0
    assert_invalid_token(browser.get("/api/v1/me", headers=bearer(token)))
    assert browser.get("/api/v1/me").status_code == 401
    fresh = app.test_client()
    log_in(fresh, person)
    assert fresh.get("/api/v1/me").status_code == 200
    assert hub(app, "user", "disable", "nobody-at-all").exit_code == 1


def test_a_revoked_oauth_client_loses_its_tokens(app: Flask, world: World) -> None:
    machine = make_machine(app, world.insurer_a.code)
    client = app.test_client()
    token = client_token(client, machine)["access_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    listed = hub(app, "oauth-client", "list")
    assert f"{machine.client_id}\t" in listed.output and machine.secret not in listed.output

    done = hub(app, "oauth-client", "revoke", machine.client_id)
    assert done.exit_code == 0, done.output
    assert_invalid_token(client.get("/api/v1/me", headers=bearer(token)))
    again = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=machine.auth
    )
    assert again.status_code == 401 and again.get_json()["error"] == "invalid_client"
    with app.app_context(), db.transaction() as sess:
        row = sess.scalar(select(OAuthClient).where(OAuthClient.client_id == machine.client_id))
        assert row is not None and row.revoked_at is not None
        pk = row.id
    [event] = audited(app, "hub:oauth_client:revoked", pk)
    assert event.details == {"tokens": 1}
    assert hub(app, "oauth-client", "revoke", "no-such-client").exit_code == 1
