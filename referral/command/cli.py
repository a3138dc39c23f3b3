"""``hub command ...``: the command centre's progress snapshots."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from flask.cli import AppGroup, with_appcontext

from hub import db
from hub.models import utcnow
from referral.command import snapshots

command_group = AppGroup("command", help="Regional command centre: progress snapshots.")


@command_group.command("snapshot")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The UTC day to snapshot (YYYY-MM-DD); yesterday by default.",
)
@with_appcontext
def snapshot(day: datetime | None) -> None:
    """Take (or take again) one day's progress snapshot of every region and university."""
    chosen: date = day.date() if day is not None else utcnow().date() - timedelta(days=1)
    if chosen > utcnow().date():
        raise click.BadParameter("the day has not begun yet", param_hint="--date")
    with db.transaction() as session:
        kept = snapshots.take(session, chosen)
    click.echo(f"{chosen.isoformat()}: {kept} snapshot rows kept")
