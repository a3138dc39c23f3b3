"""Celery jobs of the video domain."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app

from hub import db
from video.retention import sweep

RETENTION_EVERY = timedelta(hours=24)


@shared_task(name="video.retention.sweep", acks_late=True, ignore_result=True)
def retention_sweep() -> int:
    """Daily: remove the files of recordings past their retention date."""
    factory = db.get_db().session_factory
    assert factory is not None
    return sweep(factory, current_app.config["HUB_SETTINGS"].video)
