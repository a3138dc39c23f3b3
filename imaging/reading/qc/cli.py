"""``hub qc weekly-sample --week YYYY-Www``: draw a week's senior-review sample;
``hub qc reviewer USERNAME --years N``: record a radiologist's years of experience."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from hub import audit, db
from hub.auth.principal import SYSTEM
from hub.errors import HubError
from hub.models import User
from imaging.reading.qc import review


@click.group("qc", cls=AppGroup)
def qc_group() -> None:
    """Teleradiology quality control: senior reviewers and the weekly review sample."""


@qc_group.command("weekly-sample")
@click.option("--week", required=True, help="ISO week, e.g. 2026-W49")
@click.option("--share", type=click.IntRange(1, 100), default=None, help="Percent of reports")
def weekly_sample_command(week: str, share: int | None) -> None:
    """Assign a share of the week's final reports to senior reviewers (idempotent per week)."""
    imaging = current_app.config["HUB_SETTINGS"].imaging
    try:
        with db.transaction() as session:
            drawn = review.draw(
                session,
                week,
                share_percent=share or imaging.qc_review_share_percent,
                review_days=imaging.qc_review_days,
            )
            lines = [
                f"{r.id}: report {r.report_id} -> reviewer {r.reviewer_id}" for r in drawn.assigned
            ]
    except HubError as exc:
        raise click.ClickException(exc.message) from None
    if drawn.already:
        click.echo(f"{week}: already drawn, {len(lines)} review(s); nothing changed")
    else:
        click.echo(f"{week}: {drawn.reports} final report(s), {len(lines)} assigned")
        if drawn.unassignable:
            click.echo(f"{drawn.unassignable} report(s) had no senior reviewer but their author")
    for line in lines:
        click.echo(line)


@qc_group.command("reviewer")
@click.argument("username")
@click.option("--years", type=click.IntRange(0, 70), required=True)
def reviewer_command(username: str, years: int) -> None:
    """Record a radiologist's years of experience (10 or more: senior reviewer)."""
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        review.set_experience(session, user.id, years)
        audit.record(
            session,
            SYSTEM,
            "imaging:qc:reviewer_set",
            object_type="user",
            object_id=user.id,
            details={"years": years},
        )
    senior = "senior reviewer" if years >= review.SENIOR_YEARS else "not senior"
    click.echo(f"{username}: {years} year(s), {senior}")
