"""Login sessions end on the server: a cookie copied before logout is refused after it, and a
session left idle past HUB_SESSION_IDLE_MINUTES is refused while an active one is not."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from hub import db
from hub.models import AuditEvent, utcnow
from hub.models.auth import UserSession
from tests.hub.test_auth import Person, is_logged_in, log_in, make_person, meta_csrf
from tests.support.personas import World


def session_cookie(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "the client holds no session cookie"
    return cookie.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another browser (same address and agent) holding a copy of the cookie."""
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    return other


def sessions_of(app: Flask, person: Person) -> list[UserSession]:
    with app.app_context(), db.transaction() as sess:
        return list(
            sess.scalars(
                select(UserSession).where(UserSession.user_id == person.id).order_by(UserSession.id)
            )
        )


def set_last_seen(app: Flask, person: Person, ago: timedelta) -> None:
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(UserSession)
            .where(UserSession.user_id == person.id)
            .values(last_seen_at=utcnow() - ago)
        )


def test_a_cookie_copied_before_logout_is_refused_after_it(app: Flask, world: World) -> None:
    client = app.test_client()
    person = make_person(app, world)
    log_in(client, person)
    copy = with_cookie(app, session_cookie(app, client))
    assert copy.get("/api/v1/me").status_code == 200  # the copy works while the session lives

    home = client.get("/home")
    assert client.post("/logout", data={"csrf_token": meta_csrf(home)}).status_code == 302

    refused = copy.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthenticated"
    assert not is_logged_in(copy)
    [row] = sessions_of(app, person)
    assert row.revoked_at is not None and row.revoked_reason == "logout"
    with app.app_context(), db.transaction() as sess:
        event = sess.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "hub:session:ended", AuditEvent.object_id == str(person.id)
            )
        )
        assert event is not None and event.details["reason"] == "logout"


def test_the_cookie_names_a_session_not_the_user(app: Flask, world: World) -> None:
    client = app.test_client()
    person = make_person(app, world)
    log_in(client, person)
    with client.session_transaction() as cookie:
        key = cookie["_user_id"]
        # A cookie signed with the right key but naming the user's row id logs nobody in.
        cookie["_user_id"] = str(person.id)
    assert key != str(person.id)
    assert client.get("/api/v1/me").status_code == 401


def test_an_idle_session_is_refused_and_an_active_one_is_not(app: Flask, world: World) -> None:
    idle = timedelta(minutes=app.config["HUB_SETTINGS"].session_idle_minutes)
    client = app.test_client()
    person = make_person(app, world)
    log_in(client, person)

    # Used a minute before the limit: still valid, and this request counts as use.
    set_last_seen(app, person, idle - timedelta(minutes=1))
    assert client.get("/api/v1/me").status_code == 200
    [row] = sessions_of(app, person)
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)
    assert client.get("/home").status_code == 200

    # Left past the limit: refused, and ended for good.
    set_last_seen(app, person, idle + timedelta(seconds=1))
    assert client.get("/api/v1/me").status_code == 401
    assert not is_logged_in(client)
    [row] = sessions_of(app, person)
    assert row.revoked_at is not None and row.revoked_reason == "idle"
    set_last_seen(app, person, timedelta(0))
    assert client.get("/api/v1/me").status_code == 401

    # Logging in again opens a new session.
    log_in(client, person)
    assert client.get("/api/v1/me").status_code == 200
    assert len(sessions_of(app, person)) == 2


def test_each_login_is_its_own_session(app: Flask, world: World) -> None:
    person = make_person(app, world)
    desk, ward = app.test_client(), app.test_client()
    log_in(desk, person)
    log_in(ward, person)
    home = desk.get("/home")
    assert desk.post("/logout", data={"csrf_token": meta_csrf(home)}).status_code == 302
    # Logging out at one desk leaves the other browser's session alone.
    assert desk.get("/api/v1/me").status_code == 401
    assert ward.get("/api/v1/me").status_code == 200
