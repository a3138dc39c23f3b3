"""``hub insurance``: load a tariff schedule from a CSV file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from hub import db
from hub.auth.principal import SYSTEM
from hub.errors import HubError
from insurance import tariffs

insurance_group = AppGroup("insurance", help="Tariffs and billing records.")


@insurance_group.command("load-tariff")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", required=True)
@click.option("--currency", required=True, help="ISO 4217, e.g. IRR")
@click.option("--minor-unit", type=click.IntRange(0, 4), required=True)
@click.option("--effective-from", type=click.DateTime(["%Y-%m-%d"]), required=True)
def load_tariff(
    path: Path, label: str, currency: str, minor_unit: int, effective_from: object
) -> None:
    """Store a new tariff schedule version; a bad file is refused whole, line by line."""
    assert hasattr(effective_from, "date")
    day: date = effective_from.date()
    try:
        with db.transaction() as session:
            schedule = tariffs.upload(
                session,
                SYSTEM,
                data=path.read_bytes(),
                label=label,
                currency=currency,
                minor_unit=minor_unit,
                effective_from=day,
            )
            click.echo(f"schedule {schedule.id} effective {day.isoformat()} stored")
    except HubError as exc:
        click.echo(f"refused: {exc.message}", err=True)
        for problem in exc.details if isinstance(exc.details, list) else [exc.details]:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1) from None
