"""Celery bound to Flask (FlaskTask), periodic-job registration, and enqueue-after-commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.canvas import Signature
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

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


def add_periodic(app: Flask, name: str, task: str, every: timedelta,
                 args: tuple[Any, ...] = ()) -> None:
    """Schedule ``task`` on the beat; domain packages call this from their ``init_app``."""
    app.extensions["celery"].conf.beat_schedule[name] = {
        "task": task, "schedule": every.total_seconds(), "args": args,
    }


def enqueue_after_commit(session: Session, signature: Signature) -> None:
    """Send ``signature`` only once ``session`` commits; dropped if it rolls back.

    For messages whose loss is unacceptable, write an outbox row instead (hub.outbox).
    """
    session.info.setdefault(_PENDING_KEY, []).append(signature)


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for signature in session.info.pop(_PENDING_KEY, []):
        signature.apply_async()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
