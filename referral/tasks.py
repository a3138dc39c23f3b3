"""Periodic jobs of the referral domain: appointment reminders."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app

from hub import db, notify
from referral import reminders

REMINDERS_EVERY = timedelta(seconds=60)


@shared_task(name="referral.reminders.send", acks_late=True, ignore_result=True)
def send_reminders() -> dict[str, int]:
    """Send the appointment reminders that are due (retrying failed ones with a back-off)."""
    notifier = notify.from_settings(current_app.config["HUB_SETTINGS"].notify)
    with db.transaction() as session:
        return reminders.send_due(session, notifier)
