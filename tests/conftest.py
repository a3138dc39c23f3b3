"""Fixtures shared by every package's tests.

Database tests run twice: on SQLite and on a uniquely named database of the PostgreSQL server on
127.0.0.1:5432, created for the run and dropped after it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub import db
from tests.support.apps import make_app
from tests.support.databases import BACKENDS, temporary_database
from tests.support.personas import World, build_world

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = "/usr/bin/chromium"
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database per backend, shared by the session's tests (their data is unique)."""
    with temporary_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def fresh_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> Iterator[str]:
    """A database of its own, for tests that damage it on purpose (e.g. audit tampering)."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with temporary_database(kind, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return make_app(database_url, tmp_path_factory.mktemp("data"))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session outside any request; commit what a test needs the app to see."""
    sess = db.get_db(app).new_session()
    try:
        yield sess
    finally:
        sess.rollback()
        sess.close()


@pytest.fixture(scope="session")
def world(app: Flask) -> World:
    sess = db.get_db(app).new_session()
    try:
        with app.app_context():
            return build_world(app, sess)
    finally:
        sess.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium package")
    return CHROMIUM
