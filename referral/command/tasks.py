"""Periodic jobs of the command centre."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from hub import db
from referral.command import snapshots

SNAPSHOT_EVERY = timedelta(hours=1)  # the job itself takes each day once


@shared_task(name="command.progress.snapshot", acks_late=True, ignore_result=True)
def progress_snapshot() -> int:
    """Keep yesterday's progress snapshot of every region and university (once per day)."""
    with db.transaction() as session:
        return snapshots.take_missing(session)
