"""Database engine and sessions: one transaction per request, nothing connects at import time."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

T = TypeVar("T")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and write-serialising transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions start (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # FULL: a commit acknowledged to a sender (e.g. a DICOM success status) survives power loss.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
        # another writer committed in between; IMMEDIATE takes the write lock up front and waits
        # on busy_timeout instead, which the hash-chained audit log relies on.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Holds the engine and session factory of one app."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None

    def init_app(self, app: Flask) -> None:
        settings = app.config["HUB_SETTINGS"]
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(settings.database_url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        app.extensions["hub_db"] = self
        app.teardown_appcontext(_close_request_session)

    def new_session(self) -> Session:
        assert self.session_factory is not None, "Database.init_app was not called"
        return self.session_factory()


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["hub_db"]


def session() -> Session:
    """The request's (or app context's) session; created on first use."""
    if "db_session" not in g:
        g.db_session = get_db().new_session()
    return g.db_session


def _close_request_session(exc: BaseException | None) -> None:
    sess: Session | None = g.pop("db_session", None)
    if sess is None:
        return
    try:
        if exc is None and sess.in_transaction():
            # Views commit explicitly; anything left open was read-only or abandoned.
            sess.rollback()
    finally:
        sess.close()


@contextmanager
def transaction(app: Flask | None = None) -> Iterator[Session]:
    """A standalone session committed on success and rolled back on error (CLI, tasks)."""
    sess = get_db(app).new_session()
    try:
        yield sess
        sess.commit()
    except BaseException:
        sess.rollback()
        raise
    finally:
        sess.close()


class _UntilCommit(Generic[T]):
    """Items that belong to a session's outermost transaction and are dropped if the work they
    belong to rolls back.

    SQLAlchemy fires ``after_commit`` when a SAVEPOINT is released and ``after_rollback`` when one
    is rolled back, so each item remembers the savepoint it was added in: releasing a savepoint
    hands its items to the enclosing level, rolling one back drops its items (and only those).
    Subclasses decide when the outermost commit hands them over.
    """

    def __init__(self, key: str) -> None:
        self._key = key
        event.listen(Session, "after_commit", self._after_commit)
        event.listen(Session, "after_rollback", self._after_rollback)
        event.listen(Session, "after_transaction_end", self._after_transaction_end)

    def add(self, session: Session, item: T) -> None:
        if session.get_transaction() is None:
            # Begin now (no connection is taken yet), so a rollback or close before the first
            # query still discards the item rather than leaving it for a later commit.
            session.begin()
        pending = session.info.setdefault(self._key, [])
        pending.append((session.get_nested_transaction(), item))

    def _take(self, session: Session) -> list[T]:
        return [item for _, item in session.info.pop(self._key, [])]

    def _after_commit(self, session: Session) -> None:
        pending = session.info.get(self._key)
        if not pending:
            return
        released = session.get_nested_transaction()
        if released is not None:  # a SAVEPOINT, not the transaction
            outer = _enclosing_savepoint(released)
            session.info[self._key] = [
                (outer if tag is released else tag, item) for tag, item in pending
            ]
            return
        self._committed(self._take(session))

    def _committed(self, items: list[T]) -> None:
        """The outermost transaction committed with ``items`` still pending."""

    def _after_rollback(self, session: Session) -> None:
        pending = session.info.get(self._key)
        if not pending:
            return
        undone = session.get_nested_transaction()
        if undone is None:
            del session.info[self._key]
            return
        session.info[self._key] = [(tag, item) for tag, item in pending if not _inside(tag, undone)]

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # ended without a commit (e.g. closed): drop the rest
            session.info.pop(self._key, None)


class AfterCommit(_UntilCommit[T]):
    """Items (Celery signatures, Socket.IO events) that take effect only once a session's
    outermost transaction commits, delivered in order, and never if their work rolls back."""

    def __init__(self, key: str, deliver: Callable[[list[T]], None]) -> None:
        super().__init__(key)
        self._deliver = deliver

    def _committed(self, items: list[T]) -> None:
        self._deliver(items)


class AtCommit(_UntilCommit[T]):
    """Items written inside the outermost transaction at its very end, just before COMMIT.

    For writes that must commit or roll back with the work but take a contended lock: the lock
    is then held only for the commit itself, not for the whole request.
    """

    def __init__(self, key: str, write: Callable[[Session, list[T]], None]) -> None:
        super().__init__(key)
        self._write = write
        event.listen(Session, "before_commit", self._before_commit)

    def _before_commit(self, session: Session) -> None:
        # ``before_commit`` fires for a SAVEPOINT's release too; only the outermost one writes.
        if session.get_nested_transaction() is not None or not session.info.get(self._key):
            return
        self._write(session, self._take(session))


def _enclosing_savepoint(savepoint: SessionTransaction) -> SessionTransaction | None:
    parent = savepoint.parent
    while parent is not None and not parent.nested:
        parent = parent.parent
    return parent


def _inside(tag: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    while tag is not None:
        if tag is savepoint:
            return True
        tag = tag.parent
    return False
