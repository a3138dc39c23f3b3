"""Periodic jobs of the consult domain."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from consult.assignment import escalate_due
from hub import db

SLA_SWEEP_EVERY = timedelta(seconds=30)


@shared_task(name="consult.sla.sweep", acks_late=True, ignore_result=True)
def sla_sweep() -> int:
    """Escalate consults past their time to accept; alert command staff of late answers."""
    with db.transaction() as session:
        return escalate_due(session)
