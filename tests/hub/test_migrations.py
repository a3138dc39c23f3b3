"""The schema Alembic builds is the schema the models describe, on both databases: a model
changed without its migration (or the reverse) fails here rather than in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.db import make_engine
from hub.migrate import heads, target_metadata


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, target_metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_one_head() -> None:
    assert len(heads()) == 1
