"""Periodic jobs of quality control: the weekly senior-review sample and the overdue alert."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app

from hub import db
from hub.errors import Conflict
from hub.models import utcnow
from imaging.reading.qc import review

# Daily: a missed Monday (worker down) is caught the next day; drawing a week twice is a no-op.
SAMPLE_EVERY = timedelta(hours=24)
OVERDUE_EVERY = timedelta(hours=1)


@shared_task(name="imaging.reading.qc.weekly_sample", acks_late=True, ignore_result=True)
def weekly_sample() -> int:
    """Draw last week's senior-review sample (idempotent per week)."""
    imaging = current_app.config["HUB_SETTINGS"].imaging
    week = review.week_of(utcnow() - timedelta(days=7))
    try:
        with db.transaction() as session:
            drawn = review.draw(
                session,
                week,
                share_percent=imaging.qc_review_share_percent,
                review_days=imaging.qc_review_days,
            )
            return len(drawn.assigned)
    except Conflict:
        # No senior reviewer on record yet: the week stays undrawn and tomorrow's run tries again.
        return 0


@shared_task(name="imaging.reading.qc.overdue_reviews", acks_late=True, ignore_result=True)
def overdue_reviews() -> int:
    """Alert the QA physicians of reviews left unscored past their window."""
    with db.transaction() as session:
        return review.alert_overdue(session)
