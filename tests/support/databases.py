"""Throw-away databases: a SQLite file, or a uniquely named PostgreSQL database dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from hub.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("HUB_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


def _pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


@contextmanager
def temporary_database(kind: str, directory: Path, migrate: bool = True) -> Iterator[str]:
    """Yield the SQLAlchemy URL of a new, migrated database of ``kind``; remove it afterwards."""
    if kind == "sqlite":
        path = directory / f"hub-{uuid.uuid4().hex[:8]}.sqlite"
        url = f"sqlite:///{path}"
        if migrate:
            upgrade(url)
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if kind != "postgresql":
        raise ValueError(kind)
    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = _pg_url(name)
        if migrate:
            upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
