"""``hub sla ...``: the per-region SLA targets of consults."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from consult import sla
from consult.assignment import DEFAULT_SLA, sla_targets
from consult.models import Urgency
from hub import db
from hub.auth.principal import SYSTEM
from hub.models import MacroRegion

sla_group = AppGroup("sla", help="Consult time-to-accept and time-to-answer targets.")


@sla_group.command("set")
@click.option(
    "--region",
    "region_code",
    default=None,
    help="Macro-region code; omit for the national default.",
)
@click.option("--urgency", required=True, type=click.Choice([u.value for u in Urgency]))
@click.option("--accept-minutes", type=click.IntRange(1, sla.ACCEPT_MAX), required=True)
@click.option("--answer-minutes", type=click.IntRange(1, sla.ANSWER_MAX), required=True)
@with_appcontext
def sla_set(
    region_code: str | None, urgency: str, accept_minutes: int, answer_minutes: int
) -> None:
    """Set the targets for one urgency, for a region or nationally."""
    if answer_minutes < accept_minutes:
        raise click.BadParameter("the time to answer cannot be shorter than the time to accept")
    with db.transaction() as sess:
        region = None
        if region_code:
            region = sess.scalar(select(MacroRegion).where(MacroRegion.code == region_code))
            if region is None:
                raise click.BadParameter(f"unknown region {region_code!r}", param_hint="--region")
        sla.write(
            sess,
            SYSTEM,
            region=region,
            urgency=Urgency(urgency),
            accept_minutes=accept_minutes,
            answer_minutes=answer_minutes,
        )
    click.echo(
        f"{region_code or 'national'} {urgency}: accept {accept_minutes} min, "
        f"answer {answer_minutes} min"
    )


@sla_group.command("show")
@click.option("--region", "region_code", default=None)
@with_appcontext
def sla_show(region_code: str | None) -> None:
    """Print the targets in force for a region (or the national defaults)."""
    with db.transaction() as sess:
        region_id = 0
        if region_code:
            region = sess.scalar(select(MacroRegion).where(MacroRegion.code == region_code))
            if region is None:
                raise click.BadParameter(f"unknown region {region_code!r}", param_hint="--region")
            region_id = region.id
        for urgency in DEFAULT_SLA:
            accept, answer = sla_targets(sess, region_id, urgency)
            click.echo(
                f"{urgency.value:<10} accept {int(accept.total_seconds() // 60):>5} min"
                f"  answer {int(answer.total_seconds() // 60):>5} min"
            )
