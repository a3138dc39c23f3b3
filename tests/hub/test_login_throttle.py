"""Login throttling through the login form: a failed-attempt budget per client address (429 with
Retry-After for every account) and a per-account lock that slows a guesser exponentially but
never refuses the right password from an address that did not fail against the account."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from hub import db
from hub.auth.throttle import LoginPolicy, client_address
from hub.models import AuditEvent, User, utcnow
from hub.models.auth import LoginFailure
from hub.services.users import BAD_CREDENTIALS
from tests.hub.test_auth import Person, is_logged_in, login_error, make_person, post_login
from tests.support import factories as f
from tests.support.apps import make_app
from tests.support.personas import World


def new_address() -> str:
    """A client address of its own, so no other test's failures count against it."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def client_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def locked_for(app: Flask, person: Person) -> timedelta:
    with app.app_context(), db.transaction() as sess:
        until = sess.get_one(User, person.id).locked_until
    assert until is not None
    return until - utcnow()


def test_twenty_failures_across_ten_accounts_stop_that_address(app: Flask, world: World) -> None:
    settings = app.config["HUB_SETTINGS"]
    assert settings.login_address_max_failures == 20  # the default, as deployed
    address = new_address()
    guesser = client_at(app, address)
    people = [make_person(app, world) for _ in range(10)]
    for person in people:
        for n in range(2):  # below the per-account lock
            assert post_login(guesser, person.username, f"guess-{n}-password").status_code == 401

    # The right password of an account that was never tried: refused for the address.
    fresh = make_person(app, world)
    throttled = post_login(guesser, fresh.username)
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["Retry-After"])
    assert 0 < retry_after <= settings.login_address_window_seconds
    assert login_error(throttled) == BAD_CREDENTIALS
    assert not is_logged_in(guesser)
    assert post_login(guesser, people[0].username).status_code == 429

    # Other addresses are not affected, and nobody's account was locked.
    assert post_login(client_at(app, new_address()), fresh.username).status_code == 302
    assert post_login(client_at(app, new_address()), people[0].username).status_code == 302

    with app.app_context(), db.transaction() as sess:
        refusal = sess.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "hub:login:refused",
                AuditEvent.request_id == throttled.headers["X-Request-ID"],
            )
        )
        assert refusal is not None
        assert refusal.details == {"reason": "address_throttled", "address": address}

        # Once the failures leave the window the address may log in again.
        sess.execute(
            update(LoginFailure)
            .where(LoginFailure.address == address)
            .values(
                occurred_at=utcnow() - timedelta(seconds=settings.login_address_window_seconds + 1)
            )
        )
    assert post_login(guesser, fresh.username).status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_budget(app: Flask, world: World) -> None:
    # HUB_TRUSTED_PROXIES is 0: X-Forwarded-For is the client's own word and is ignored.
    guesser = client_at(app, new_address())
    person = make_person(app, world)
    for n in range(20):
        guesser.environ_base["HTTP_X_FORWARDED_FOR"] = new_address()
        resp = post_login(guesser, f"nobody-{n}-{secrets.token_hex(3)}", "guess-password")
        assert resp.status_code == 401
    guesser.environ_base["HTTP_X_FORWARDED_FOR"] = new_address()
    assert post_login(guesser, person.username).status_code == 429


def test_a_stranger_cannot_lock_a_clinician_out(app: Flask, world: World) -> None:
    clinician = make_person(app, world)
    stranger = client_at(app, new_address())
    for n in range(3):  # HUB_LOGIN_MAX_FAILURES=3 in tests
        assert post_login(stranger, clinician.username, f"wrong-{n}-password").status_code == 401
    assert locked_for(app, clinician) > timedelta(0)

    # The stranger's address waits out the lock, even with the right password...
    assert post_login(stranger, clinician.username).status_code == 401
    # ...but the clinician, at their own health post, logs in.
    at_post = client_at(app, new_address())
    assert post_login(at_post, clinician.username).status_code == 302
    assert is_logged_in(at_post)
    with app.app_context(), db.transaction() as sess:
        user = sess.get_one(User, clinician.id)
        assert user.locked_until is None and user.failed_logins == 0


def test_each_further_failure_doubles_the_lock(app: Flask, world: World) -> None:
    policy = LoginPolicy.from_settings(app.config["HUB_SETTINGS"])
    person = make_person(app, world)
    guesser = client_at(app, new_address())
    for n in range(policy.max_failures):
        assert post_login(guesser, person.username, f"wrong-{n}-password").status_code == 401
    first = locked_for(app, person)
    assert timedelta(seconds=policy.lockout_first_seconds - 5) < first
    assert first <= timedelta(seconds=policy.lockout_first_seconds)

    # A guess from elsewhere is checked (a lock never refuses a clean address) and costs double.
    assert (
        post_login(client_at(app, new_address()), person.username, "wrong-x-pw").status_code == 401
    )
    second = locked_for(app, person)
    assert timedelta(seconds=2 * policy.lockout_first_seconds - 5) < second
    assert second <= timedelta(seconds=2 * policy.lockout_first_seconds)

    for _ in range(8):
        post_login(client_at(app, new_address()), person.username, "wrong-y-password")
    assert locked_for(app, person) <= timedelta(seconds=policy.lockout_seconds)
    assert locked_for(app, person) > timedelta(seconds=policy.lockout_seconds - 5)


def test_lock_lengths() -> None:
    policy = LoginPolicy(max_failures=5, lockout_seconds=900, lockout_first_seconds=60)
    assert [policy.lock_for(n) for n in range(5)] == [None] * 5
    seconds = [policy.lock_for(n).total_seconds() for n in range(5, 12)]  # type: ignore[union-attr]
    assert seconds == [60, 120, 240, 480, 900, 900, 900]
    assert policy.lock_for(10_000) == timedelta(seconds=900)


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("192.0.2.7", None, 0, "192.0.2.7"),
        ("192.0.2.7", "203.0.113.9", 0, "192.0.2.7"),  # not trusted: ignored
        ("127.0.0.1", "203.0.113.9", 1, "203.0.113.9"),
        ("127.0.0.1", "198.51.100.1, 203.0.113.9", 1, "203.0.113.9"),  # forged first hop
        ("127.0.0.1", "198.51.100.1, 203.0.113.9", 2, "198.51.100.1"),
        ("127.0.0.1", "203.0.113.9", 2, "127.0.0.1"),  # fewer hops than proxies
        ("127.0.0.1", "not-an-address", 1, "127.0.0.1"),
        ("2001:db8:1:2:3:4:5:6", None, 0, "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", None, 0, "192.0.2.7"),
        (None, None, 0, "unknown"),
    ],
)
def test_client_address(
    remote: str | None, forwarded: str | None, proxies: int, expected: str
) -> None:
    assert client_address(remote, forwarded, proxies) == expected


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(
    database_url: str, tmp_path: Path, world: World
) -> None:
    proxied = make_app(
        database_url, tmp_path, HUB_TRUSTED_PROXIES="1", HUB_LOGIN_ADDRESS_MAX_FAILURES="2"
    )
    person = make_person(proxied, world)
    proxy, guesser, colleague = new_address(), new_address(), new_address()

    def login_via_proxy(forwarded: str | None, password: str, username: str = "") -> int:
        client = client_at(proxied, proxy)
        if forwarded is not None:
            client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
        return post_login(client, username or person.username, password).status_code

    # Without the header the connection's address counts: here the proxy's own.
    for _ in range(2):
        assert login_via_proxy(None, "wrong-password", f"nobody-{secrets.token_hex(4)}") == 401
    assert login_via_proxy(None, f.PASSWORD) == 429
    # With it, each client behind the proxy has its own budget.
    assert login_via_proxy(guesser, "wrong-password-1") == 401
    assert login_via_proxy(f"198.51.100.1, {guesser}", "wrong-password-2") == 401
    assert login_via_proxy(guesser, f.PASSWORD) == 429
    assert login_via_proxy(colleague, f.PASSWORD) == 302
