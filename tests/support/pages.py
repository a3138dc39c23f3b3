"""A test client logged in through the real login form, for page tests."""

from __future__ import annotations

import re
import secrets

from flask import Flask
from flask.testing import FlaskClient

from hub import db
from hub.models import Role
from hub.services.users import create_user
from tests.support import factories as f

FORM_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def logged_in(app: Flask, role: Role, facility_code: str) -> FlaskClient:
    """A new user of ``role`` at the facility, logged in with a session cookie."""
    with app.app_context(), db.transaction() as sess:
        username = create_user(
            sess,
            f"page{secrets.token_hex(5)}",
            full_name="Page Reader",
            role=role,
            facility_code=facility_code,
            password=f.PASSWORD,
        ).username
    client = app.test_client()
    match = FORM_CSRF.search(client.get("/login").get_data(as_text=True))
    assert match, "no CSRF token on the login form"
    resp = client.post(
        "/login", data={"csrf_token": match.group(1), "username": username, "password": f.PASSWORD}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client
