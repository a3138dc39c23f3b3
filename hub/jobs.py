"""Celery bound to Flask (FlaskTask), periodic-job registration, and enqueue-after-commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.canvas import Signature
from flask import Flask
from sqlalchemy.orm import Session

from hub import db

_PENDING_KEY = "hub_after_commit"


def init_app(app: Flask) -> Celery:
    settings = app.config["HUB_SETTINGS"]

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        # Tasks are idempotent and take ids, so redelivery after a crash is safe and wanted.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        beat_schedule={},
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
        worker_hijack_root_logger=False,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def add_periodic(
    app: Flask, name: str, task: str, every: timedelta, args: tuple[Any, ...] = ()
) -> None:
    """Schedule ``task`` on the beat; domain packages call this from their ``init_app``."""
    app.extensions["celery"].conf.beat_schedule[name] = {
        "task": task,
        "schedule": every.total_seconds(),
        "args": args,
    }


def _send(signatures: list[Signature]) -> None:
    for signature in signatures:
        signature.apply_async()


_after_commit: db.AfterCommit[Signature] = db.AfterCommit(_PENDING_KEY, _send)


def enqueue_after_commit(session: Session, signature: Signature) -> None:
    """Send ``signature`` only once ``session`` commits; dropped if it rolls back.

    Inside a SAVEPOINT (``begin_nested``) it waits for the outermost commit and is dropped if the
    savepoint rolls back. For messages whose loss is unacceptable, write an outbox row instead
    (hub.outbox).
    """
    _after_commit.add(session, signature)
