"""Transactional outbox: a message is a row written with the change it announces, delivered by
a periodic Celery job until its handler succeeds, so it survives broker and worker failures."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db, hooks
from hub.models import OutboxMessage, utcnow

log = logging.getLogger("hub.outbox")
Handler = hooks.OutboxHandler
MAX_BACKOFF = timedelta(minutes=30)
POLL_EVERY = timedelta(seconds=5)


class RetryableError(Exception):
    """The receiver is unavailable for now; try again later."""


class PermanentError(Exception):
    """The message can never be delivered as it is; stop retrying and keep it for review."""


def add(
    session: Session, topic: str, payload: dict[str, Any], available_at: datetime | None = None
) -> OutboxMessage:
    """Queue a message in the caller's transaction."""
    msg = OutboxMessage(topic=topic, payload=payload, available_at=available_at or utcnow())
    session.add(msg)
    return msg


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 11)))


def drain(session: Session, limit: int = 100) -> int:
    """Deliver up to ``limit`` due messages; returns how many were delivered."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.dispatched_at.is_(None),
            OutboxMessage.failed_permanently.is_(False),
            OutboxMessage.available_at <= utcnow(),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several workers drain side by side without taking the same message.
        stmt = stmt.with_for_update(skip_locked=True)
    delivered = 0
    for msg in session.scalars(stmt).all():
        fn = hooks.outbox_handlers.get(msg.topic)
        msg.attempts += 1
        if fn is None:
            msg.last_error = f"no handler for topic {msg.topic!r}"
            msg.available_at = utcnow() + backoff(msg.attempts)
            continue
        try:
            with session.begin_nested():
                fn(session, msg.payload)
        except PermanentError as exc:
            msg.failed_permanently = True
            msg.last_error = f"permanent: {exc}"[:2000]
            log.warning("outbox message %s failed permanently", msg.id)
        except Exception as exc:  # retryable by default: a bug must not drop a message
            msg.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            msg.available_at = utcnow() + backoff(msg.attempts)
        else:
            msg.dispatched_at = utcnow()
            msg.last_error = None
            delivered += 1
    return delivered


@shared_task(name="hub.outbox.drain", acks_late=True, ignore_result=True)
def drain_task() -> int:
    """Periodic job: deliver due outbox messages."""
    with db.transaction() as session:
        return drain(session)
