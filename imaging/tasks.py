"""Celery jobs of the imaging domain: forwarding to the central archive and retention."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app

from hub import db
from imaging import storage
from imaging.archive.forwarding import drain
from imaging.retention import run

FORWARD_EVERY = timedelta(seconds=5)
RETENTION_EVERY = timedelta(hours=24)


@shared_task(name="imaging.forward.drain", acks_late=True, ignore_result=True)
def forward_drain() -> int:
    """Send due instances to the central archive; returns how many arrived."""
    settings = current_app.config["HUB_SETTINGS"].imaging
    if settings.central_pacs is None:
        return 0
    return drain(current_app._get_current_object(), settings)  # type: ignore[attr-defined]


@shared_task(name="imaging.retention.sweep", acks_late=True, ignore_result=True)
def retention_sweep() -> int:
    """Daily: delete images past 5 years and reports past 10 (legal holds excepted)."""
    settings = current_app.config["HUB_SETTINGS"].imaging
    factory = db.get_db().session_factory
    assert factory is not None
    return run(factory, storage.from_settings(settings), settings).instances
