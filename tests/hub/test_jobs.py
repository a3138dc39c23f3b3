"""Celery jobs and the transactional outbox: enqueue-after-commit over a real Redis broker, outbox
delivery, retries with backoff, permanent failures, and the drain task run by a real worker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from celery import Celery
from celery.canvas import Signature
from celery.contrib.testing.worker import start_worker
from flask import Flask
from kombu import Exchange, Queue
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub import db, hooks, outbox
from hub.jobs import enqueue_after_commit
from hub.models import OutboxMessage
from tests.conftest import REDIS_URL
from tests.support import factories as f
from tests.support.apps import make_app

# --- a real Redis broker, isolated by a unique queue and key prefix --------------------------


@dataclass
class Broker:
    celery: Celery
    queue: str

    def signature(self, *args: Any) -> Signature:
        return self.celery.signature("hub.test.echo", args=args)

    def queued(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Take every message waiting in the queue: (task name, args)."""
        found: list[tuple[str, tuple[Any, ...]]] = []
        with self.celery.connection_for_read() as conn, conn.channel() as channel:
            queue = Queue(self.queue, Exchange(self.queue), routing_key=self.queue, channel=channel)
            while (message := queue.get(no_ack=True, accept=["json"])) is not None:
                args, _kwargs, _embed = message.decode()
                found.append((message.headers["task"], tuple(args)))
        return found


def _isolated_celery(celery: Celery, name: str) -> None:
    """Point ``celery`` at a queue and Redis key prefix of its own."""
    celery.conf.update(
        broker_url=REDIS_URL,
        task_default_queue=name,
        broker_transport_options={"global_keyprefix": f"{name}:"},
        broker_connection_retry_on_startup=False,
        worker_enable_remote_control=False,
    )


def _remove_keys(name: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{name}:*"))
        if keys:
            client.delete(*keys)
        assert not list(client.scan_iter(match=f"{name}:*"))
    finally:
        client.close()


@pytest.fixture
def broker() -> Iterator[Broker]:
    name = f"hub-test-{uuid.uuid4().hex[:12]}"
    celery = Celery(name, set_as_current=False)
    _isolated_celery(celery, name)
    try:
        yield Broker(celery, name)
    finally:
        celery.close()
        _remove_keys(name)


@pytest.mark.redis
def test_enqueued_signature_is_sent_only_when_the_transaction_commits(
    broker: Broker, session: Session
) -> None:
    f.region(session)
    enqueue_after_commit(session, broker.signature("first", 1))
    enqueue_after_commit(session, broker.signature("second", 2))
    session.flush()
    assert broker.queued() == []
    session.commit()
    assert broker.queued() == [("hub.test.echo", ("first", 1)), ("hub.test.echo", ("second", 2))]
    # Sent once: a later commit of the same session sends nothing again.
    f.region(session)
    session.commit()
    assert broker.queued() == []


@pytest.mark.redis
def test_enqueued_signature_is_dropped_on_rollback(broker: Broker, session: Session) -> None:
    f.region(session)
    enqueue_after_commit(session, broker.signature("rolled back"))
    session.rollback()
    f.region(session)
    session.commit()
    assert broker.queued() == []


@pytest.mark.redis
def test_signature_enqueued_before_any_query_is_dropped_on_rollback(
    broker: Broker, session: Session
) -> None:
    # The session has no transaction yet: a rollback must still discard the signature.
    enqueue_after_commit(session, broker.signature("early"))
    session.rollback()
    f.region(session)
    session.commit()
    assert broker.queued() == []


@pytest.mark.redis
def test_releasing_a_savepoint_does_not_send(broker: Broker, session: Session) -> None:
    f.region(session)
    enqueue_after_commit(session, broker.signature("outer"))
    with session.begin_nested():
        f.region(session)
        enqueue_after_commit(session, broker.signature("inner"))
    assert broker.queued() == [], "sent when the SAVEPOINT was released, before the commit"
    session.rollback()
    f.region(session)
    session.commit()
    assert broker.queued() == []


@pytest.mark.redis
def test_signatures_of_a_released_savepoint_go_out_with_the_commit(
    broker: Broker, session: Session
) -> None:
    f.region(session)
    enqueue_after_commit(session, broker.signature("outer"))
    with session.begin_nested():
        enqueue_after_commit(session, broker.signature("inner"))
        with session.begin_nested():
            enqueue_after_commit(session, broker.signature("innermost"))
    session.commit()
    assert broker.queued() == [
        ("hub.test.echo", ("outer",)),
        ("hub.test.echo", ("inner",)),
        ("hub.test.echo", ("innermost",)),
    ]


@pytest.mark.redis
def test_savepoint_rollback_drops_only_its_own_signatures(broker: Broker, session: Session) -> None:
    f.region(session)
    enqueue_after_commit(session, broker.signature("before"))
    try:
        with session.begin_nested():
            enqueue_after_commit(session, broker.signature("inside"))
            with session.begin_nested():
                enqueue_after_commit(session, broker.signature("deeper"))
            raise RuntimeError("undo the savepoint")
    except RuntimeError:
        pass
    enqueue_after_commit(session, broker.signature("after"))
    session.commit()
    assert broker.queued() == [("hub.test.echo", ("before",)), ("hub.test.echo", ("after",))]


# --- the outbox ------------------------------------------------------------------------------

T0 = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


class Clock:
    """hub.outbox's notion of now. Messages of these tests are dated around 2001, so a drain at
    this clock never touches other tests' messages, which are due at the real time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(outbox, "utcnow", fake)
    return fake


@dataclass
class Topics:
    """Unique topic names for one test; their messages are deleted afterwards."""

    app: Flask
    made: list[str] = field(default_factory=list)

    def new(self, name: str = "topic") -> str:
        topic = f"test.{name}.{uuid.uuid4().hex[:10]}"
        self.made.append(topic)
        return topic


@pytest.fixture
def topics(app: Flask, session: Session) -> Iterator[Topics]:
    made = Topics(app)
    yield made
    session.rollback()  # release its locks (SQLite: the write lock) before cleaning up
    if made.made:
        with db.transaction(app) as sess:
            sess.execute(delete(OutboxMessage).where(OutboxMessage.topic.in_(made.made)))


def stored(app: Flask, message_id: int) -> OutboxMessage:
    """The message as committed, read in a session of its own."""
    with db.transaction(app) as sess:
        row = sess.get_one(OutboxMessage, message_id)
        sess.expunge(row)
    return row


def recorder(
    calls: list[dict[str, Any]],
    fail: Callable[[int], Exception | None] = lambda n: None,
) -> Callable[[Session, dict[str, Any]], None]:
    """A handler that records payloads and raises ``fail(n)`` on its n-th call (from 1)."""

    def handle(_session: Session, payload: dict[str, Any]) -> None:
        calls.append(payload)
        error = fail(len(calls))
        if error is not None:
            raise error

    return handle


def test_added_message_is_delivered_exactly_once(
    app: Flask, session: Session, clock: Clock, topics: Topics
) -> None:
    topic = topics.new()
    calls: list[dict[str, Any]] = []
    hooks.outbox_handlers.register(topic, recorder(calls))
    msg = outbox.add(session, topic, {"patient_id": 8})
    session.commit()
    assert stored(app, msg.id).dispatched_at is None
    assert outbox.drain(session) == 1
    session.commit()
    row = stored(app, msg.id)
    assert row.dispatched_at == T0
    assert (row.attempts, row.last_error, row.failed_permanently) == (1, None, False)

    clock.advance(timedelta(days=1))
    assert outbox.drain(session) == 0
    session.commit()
    assert calls == [{"patient_id": 8}]
    assert stored(app, msg.id).attempts == 1


def test_failing_handler_is_retried_with_backoff_and_nothing_is_lost(
    app: Flask, session: Session, clock: Clock, topics: Topics
) -> None:
    topic, marker = topics.new("flaky"), topics.new("marker")
    calls: list[dict[str, Any]] = []
    handle = recorder(calls, fail=lambda n: ConnectionError("receiver down") if n < 3 else None)

    def flaky(sess: Session, payload: dict[str, Any]) -> None:
        outbox.add(sess, marker, {"from": payload["n"]})  # a write the failure must undo
        handle(sess, payload)

    hooks.outbox_handlers.register(topic, flaky)

    msg = outbox.add(session, topic, {"n": 1})
    session.commit()

    assert outbox.drain(session) == 0
    session.commit()
    row = stored(app, msg.id)
    assert row.attempts == 1
    assert row.last_error == "ConnectionError: receiver down"
    assert row.available_at == T0 + timedelta(seconds=2)
    assert row.dispatched_at is None and not row.failed_permanently

    clock.advance(timedelta(seconds=1))  # not due yet
    assert outbox.drain(session) == 0
    session.commit()
    assert len(calls) == 1 and stored(app, msg.id).attempts == 1

    clock.advance(timedelta(seconds=1))
    assert outbox.drain(session) == 0
    session.commit()
    row = stored(app, msg.id)
    assert row.attempts == 2
    assert row.available_at == T0 + timedelta(seconds=2 + 4)  # the backoff doubles

    clock.advance(timedelta(seconds=4))
    assert outbox.drain(session) == 1
    session.commit()
    row = stored(app, msg.id)
    assert row.attempts == 3 and row.dispatched_at == clock.now and row.last_error is None
    assert calls == [{"n": 1}] * 3
    # The failed attempts' writes were rolled back with their savepoints; the successful one
    # stayed.
    markers = session.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.topic == marker)
    ).all()
    assert markers == [{"from": 1}]


def test_one_failure_does_not_hold_back_other_messages(
    app: Flask, session: Session, clock: Clock, topics: Topics
) -> None:
    good, bad = topics.new("good"), topics.new("bad")
    delivered: list[dict[str, Any]] = []
    hooks.outbox_handlers.register(good, recorder(delivered))
    hooks.outbox_handlers.register(bad, recorder([], fail=lambda n: ValueError("bug in handler")))
    first = outbox.add(session, good, {"n": 1})
    broken = outbox.add(session, bad, {"n": 2})
    last = outbox.add(session, good, {"n": 3})
    session.commit()
    assert outbox.drain(session) == 2
    session.commit()
    assert delivered == [{"n": 1}, {"n": 3}]
    assert stored(app, first.id).dispatched_at == T0
    assert stored(app, last.id).dispatched_at == T0
    assert stored(app, broken.id).last_error == "ValueError: bug in handler"


def test_permanent_error_stops_retries(
    app: Flask, session: Session, clock: Clock, topics: Topics
) -> None:
    topic = topics.new("permanent")
    calls: list[dict[str, Any]] = []
    hooks.outbox_handlers.register(
        topic, recorder(calls, fail=lambda n: outbox.PermanentError("bad payload"))
    )
    msg = outbox.add(session, topic, {"n": 1})
    session.commit()
    assert outbox.drain(session) == 0
    session.commit()
    row = stored(app, msg.id)
    assert row.failed_permanently
    assert row.last_error == "permanent: bad payload"
    assert row.dispatched_at is None and row.attempts == 1

    clock.advance(timedelta(days=30))
    assert outbox.drain(session) == 0
    session.commit()
    assert len(calls) == 1
    assert stored(app, msg.id).attempts == 1


def test_message_without_handler_stays_pending(
    app: Flask, session: Session, clock: Clock, topics: Topics
) -> None:
    topic = topics.new("unhandled")
    msg = outbox.add(session, topic, {"n": 1})
    session.commit()
    assert outbox.drain(session) == 0
    session.commit()
    row = stored(app, msg.id)
    assert row.dispatched_at is None and not row.failed_permanently
    assert row.attempts == 1
    assert row.last_error is not None and topic in row.last_error
    assert row.available_at == T0 + timedelta(seconds=2)

    # Once a handler exists (e.g. after a deploy) the message is delivered.
    calls: list[dict[str, Any]] = []
    hooks.outbox_handlers.register(topic, recorder(calls))
    clock.advance(timedelta(seconds=2))
    assert outbox.drain(session) == 1
    session.commit()
    assert calls == [{"n": 1}]
    assert stored(app, msg.id).dispatched_at == clock.now


def test_a_topic_has_one_handler(topics: Topics) -> None:
    topic = topics.new()
    first = recorder([])
    hooks.outbox_handlers.register(topic, first)
    hooks.outbox_handlers.register(topic, first)  # registering the same function again is harmless
    with pytest.raises(ValueError, match="already registered differently"):
        hooks.outbox_handlers.register(topic, recorder([]))


def test_jobs_enqueued_by_handlers_survive_a_later_failure(
    app: Flask, session: Session, clock: Clock, topics: Topics
) -> None:
    """A handler's enqueue_after_commit is sent once the drain commits, not when its savepoint is
    released, and a later handler's failure (a savepoint rollback) does not drop it."""
    good, bad = topics.new("enqueues"), topics.new("fails")
    sent: list[Any] = []

    class Recorded:
        def __init__(self, value: Any) -> None:
            self.value = value

        def apply_async(self) -> None:
            sent.append(self.value)

    hooks.outbox_handlers.register(
        good, lambda sess, payload: enqueue_after_commit(sess, cast(Signature, Recorded(payload)))
    )
    hooks.outbox_handlers.register(bad, recorder([], fail=lambda n: RuntimeError("down")))
    outbox.add(session, good, {"n": 1})
    outbox.add(session, bad, {"n": 2})
    session.commit()
    assert outbox.drain(session) == 1
    assert sent == [], "sent before the drain's transaction committed"
    session.commit()
    assert sent == [{"n": 1}]


@pytest.mark.postgres
def test_concurrent_drains_take_each_message_once(
    app: Flask, session: Session, clock: Clock, topics: Topics
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; concurrent drains are a PostgreSQL matter")
    topic = topics.new("concurrent")
    calls: list[dict[str, Any]] = []
    hooks.outbox_handlers.register(topic, recorder(calls))
    for n in range(3):
        outbox.add(session, topic, {"n": n})
    session.commit()
    other = db.get_db(app).new_session()
    try:
        assert outbox.drain(session) == 3  # holds its rows locked until it commits
        assert outbox.drain(other) == 0  # skips the locked rows instead of waiting
        session.commit()
        other.rollback()
        assert outbox.drain(other) == 0  # and sees them delivered afterwards
        other.commit()
    finally:
        other.close()
    assert sorted(c["n"] for c in calls) == [0, 1, 2]


# --- the drain task, run by a real worker over Redis -----------------------------------------


@pytest.fixture
def redis_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A hub app whose Celery talks to Redis, on a queue and key prefix of its own."""
    import celery as celery_module

    previous = celery_module.current_app._get_current_object()
    name = f"hub-test-{uuid.uuid4().hex[:12]}"
    app = make_app(database_url, tmp_path, HUB_BROKER_URL=REDIS_URL)
    celery: Celery = app.extensions["celery"]
    _isolated_celery(celery, name)
    try:
        yield app
    finally:
        celery.close()
        _remove_keys(name)
        previous.set_default()
        previous.set_current()
        app.extensions["hub_db"].engine.dispose()


@pytest.mark.redis
def test_drain_task_on_a_real_worker_delivers_the_message(redis_app: Flask, topics: Topics) -> None:
    topic = topics.new("worker")
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    def deliver(_sess: Session, payload: dict[str, Any]) -> None:
        received.append(payload)
        arrived.set()

    hooks.outbox_handlers.register(topic, deliver)

    with redis_app.app_context(), db.transaction() as sess:
        msg = outbox.add(sess, topic, {"patient_id": 42})
        sess.flush()
        message_id = msg.id
    celery: Celery = redis_app.extensions["celery"]
    assert "hub.outbox.drain" in celery.tasks
    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        celery.send_task("hub.outbox.drain")
        assert arrived.wait(30), "the worker did not run hub.outbox.drain"
        deadline = time.monotonic() + 15
        while stored(redis_app, message_id).dispatched_at is None:
            assert time.monotonic() < deadline, "delivered but never marked dispatched"
            time.sleep(0.05)
    assert received == [{"patient_id": 42}]
    row = stored(redis_app, message_id)
    assert row.attempts == 1 and row.last_error is None
