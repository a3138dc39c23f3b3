"""Periodic jobs of teleradiology."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from hub import db
from imaging.reading.critical import escalate_due

SWEEP_EVERY = timedelta(seconds=30)


@shared_task(name="imaging.reading.critical_sweep", acks_late=True, ignore_result=True)
def critical_sweep() -> int:
    """Escalate critical results not acknowledged within their window."""
    with db.transaction() as session:
        return escalate_due(session)
