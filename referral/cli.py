"""``hub referral target set|list``: regional waiting-time targets;
``hub referral reminders``: send the due appointment reminders now."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from hub import db, notify
from hub.auth.principal import SYSTEM
from hub.errors import HubError
from referral import reminders, targets

referral_group = AppGroup("referral", help="Referrals: waiting-time targets, reminders.")
target_group = AppGroup("target", help="A region's waiting-time target (days to first visit).")
referral_group.add_command(target_group)


@target_group.command("set")
@click.option("--region", required=True, help="The macro-region's code.")
@click.option("--specialty", default=None, help="A specialty code (default: every specialty).")
@click.option("--days", type=int, required=True, help="Days from referral to first visit.")
@click.option("--back-referral-days", type=int, default=None, help="Days from visit to answer.")
@with_appcontext
def set_command(
    region: str, specialty: str | None, days: int, back_referral_days: int | None
) -> None:
    """Set a region's waiting-time target, for one specialty or for all."""
    with db.transaction() as session:
        try:
            row = targets.set_target(
                session,
                SYSTEM,
                region=region,
                specialty=specialty,
                days=days,
                back_referral_days=back_referral_days,
            )
        except HubError as exc:
            raise click.ClickException(f"{exc.message} {exc.details or ''}".strip()) from None
        facts = targets.describe(session, row)
    click.echo(
        f"{facts['region']} {facts['specialty'] or '*'}: first visit within "
        f"{facts['wait_days']} days, back-referral within {facts['back_referral_days']} days"
    )


@target_group.command("list")
@click.option("--region", default=None, help="Only this macro-region.")
@with_appcontext
def list_command(region: str | None) -> None:
    """List the waiting-time targets set."""
    with db.transaction() as session:
        try:
            rows = [
                targets.describe(session, r) for r in targets.list_targets(session, SYSTEM, region)
            ]
        except HubError as exc:
            raise click.ClickException(exc.message) from None
    for facts in rows:
        click.echo(
            f"{facts['region']}\t{facts['specialty'] or '*'}\t{facts['wait_days']}\t"
            f"{facts['back_referral_days']}"
        )


@referral_group.command("reminders")
@with_appcontext
def reminders_command() -> None:
    """Send the appointment reminders that are due (the beat job does this every minute)."""
    notifier = notify.from_settings(current_app.config["HUB_SETTINGS"].notify)
    with db.transaction() as session:
        counts = reminders.send_due(session, notifier)
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
