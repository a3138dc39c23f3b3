"""Session cookies are Secure whenever the page was served over HTTPS (the default ``auto``),
including behind a trusted TLS-terminating proxy; ``true`` and ``false`` force it."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.support.apps import make_app


def _cookie(app: Flask, base_url: str, **headers: str) -> str:
    with app.test_client() as client:
        resp = client.get("/login", base_url=base_url, headers=headers)
    cookies = [v for k, v in resp.headers.items() if k.lower() == "set-cookie"]
    assert cookies, "the login page sets the session cookie (it holds the form's CSRF token)"
    return cookies[0]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_auto_follows_the_scheme(database_url: str, data_dir: Path) -> None:
    app = make_app(database_url, data_dir)
    assert "Secure" not in _cookie(app, "http://localhost")
    assert "Secure" in _cookie(app, "https://localhost")
    # An untrusted client claiming HTTPS in a header is not believed.
    assert "Secure" not in _cookie(app, "http://localhost", **{"X-Forwarded-Proto": "https"})


def test_a_trusted_proxy_says_the_client_used_https(database_url: str, data_dir: Path) -> None:
    app = make_app(database_url, data_dir, HUB_TRUSTED_PROXIES="1")
    assert "Secure" in _cookie(app, "http://localhost", **{"X-Forwarded-Proto": "https"})
    assert "Secure" not in _cookie(app, "http://localhost", **{"X-Forwarded-Proto": "http"})


@pytest.mark.parametrize(("setting", "over_http"), [("true", True), ("false", False)])
def test_the_setting_forces_it(
    database_url: str, data_dir: Path, setting: str, over_http: bool
) -> None:
    app = make_app(database_url, data_dir, HUB_SESSION_COOKIE_SECURE=setting)
    assert ("Secure" in _cookie(app, "http://localhost")) is over_http
    assert ("Secure" in _cookie(app, "https://localhost")) is over_http
