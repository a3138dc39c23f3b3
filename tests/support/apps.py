"""Apps built for tests: settings from a dict, never from the developer's environment."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from hub import create_app
from hub.config import Settings, load_settings

TEST_SECRET = "test-secret-key-that-is-long-enough-for-the-hub"
# Generated per run: the test CA's keys (in the run's temporary data dir) use no fixed secret.
TEST_PKI_PASSPHRASE = secrets.token_urlsafe(24)


def test_settings(database_url: str, data_dir: Path, **extra: str) -> Settings:
    env = {
        "HUB_DATA_DIR": str(data_dir),
        "HUB_DATABASE_URL": database_url,
        "HUB_BROKER_URL": "memory://",
        "HUB_RESULT_BACKEND": "cache+memory://",
        "HUB_SECRET_KEY": TEST_SECRET,
        "HUB_LOGIN_MAX_FAILURES": "3",
        "HUB_PKI_PASSPHRASE": TEST_PKI_PASSPHRASE,
        **extra,
    }
    return load_settings(env)


def make_app(database_url: str, data_dir: Path, **extra: str) -> Flask:
    app = create_app({"TESTING": True}, settings=test_settings(database_url, data_dir, **extra))
    return app
