"""``hub dicom``: run the DICOM node; ``hub dicom ae ...``: the registry of calling AE titles."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from hub import audit, db
from hub.auth.principal import SYSTEM
from hub.config import ConfigError, ae_title
from hub.models import Facility, utcnow
from imaging import storage
from imaging.dicom.node import run_forever
from imaging.models import AeKind, CallingAe
from imaging.retention import run


@click.group("dicom", cls=AppGroup, invoke_without_command=True)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=None,
    help="Node processes sharing the port (default HUB_DICOM_PROCESSES).",
)
@click.pass_context
@with_appcontext
def dicom_group(ctx: click.Context, processes: int | None) -> None:
    """Run the DICOM node (C-ECHO, C-STORE, C-FIND) until stopped; or manage its AE titles."""
    if ctx.invoked_subcommand is not None:
        return
    # Imported here: hub.cli imports hub.migrate, which imports every package's models (this one's).
    from hub.cli import _real_app

    sys.exit(run_forever(_real_app(), processes))


ae_group = AppGroup("ae", help="Calling AE titles allowed to send and query, per facility.")
dicom_group.add_command(ae_group)


def _title(value: str) -> str:
    try:
        return ae_title(value, "AE")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@ae_group.command("add")
@click.argument("title")
@click.option("--facility", "facility_code", required=True, help="Facility code.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in AeKind]),
    default=AeKind.MODALITY.value,
    show_default=True,
)
@with_appcontext
def ae_add(title: str, facility_code: str, kind: str) -> None:
    """Allow calling AE TITLE for a facility (re-enables a disabled one)."""
    title = _title(title)
    with db.transaction() as sess:
        facility = sess.scalar(select(Facility).where(Facility.code == facility_code))
        if facility is None:
            raise click.BadParameter(f"unknown facility {facility_code!r}", param_hint="--facility")
        row = sess.scalar(select(CallingAe).where(CallingAe.ae_title == title))
        if row is not None and row.disabled_at is None and row.facility_id != facility.id:
            raise click.ClickException(
                f"{title} already belongs to another facility; remove it there first"
            )
        if row is None:
            row = CallingAe(ae_title=title, facility_id=facility.id, kind=AeKind(kind))
            sess.add(row)
        row.facility_id, row.kind, row.disabled_at = facility.id, AeKind(kind), None
        sess.flush()
        audit.record(
            sess,
            SYSTEM,
            "imaging:ae:added",
            object_type="calling_ae",
            object_id=row.id,
            details={"ae_title": title, "facility": facility_code, "kind": kind},
        )
    click.echo(f"{title} may now associate for {facility_code}")


@ae_group.command("remove")
@click.argument("title")
@with_appcontext
def ae_remove(title: str) -> None:
    """Refuse calling AE TITLE from now on (kept for the record)."""
    with db.transaction() as sess:
        row = sess.scalar(select(CallingAe).where(CallingAe.ae_title == title.strip()))
        if row is None or row.disabled_at is not None:
            raise click.ClickException(f"{title} is not registered")
        row.disabled_at = utcnow()
        audit.record(
            sess,
            SYSTEM,
            "imaging:ae:removed",
            object_type="calling_ae",
            object_id=row.id,
            details={"ae_title": row.ae_title},
        )
    click.echo(f"{title} removed")


@ae_group.command("list")
@with_appcontext
def ae_list() -> None:
    """Print the registered calling AE titles."""
    with db.transaction() as sess:
        rows = sess.execute(
            select(CallingAe.ae_title, Facility.code, CallingAe.kind)
            .join(Facility, Facility.id == CallingAe.facility_id)
            .where(CallingAe.disabled_at.is_(None))
            .order_by(CallingAe.ae_title)
        ).all()
    for title, code, kind in rows:
        click.echo(f"{title:<16} {code:<16} {kind.value}")


@dicom_group.command("retention")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Evaluate as of this date (default: today, UTC).",
)
@with_appcontext
def retention(dry_run: bool, today: object) -> None:
    """Delete images past their 5 years and reports past their 10 (legal holds excepted)."""
    settings = current_app.config["HUB_SETTINGS"].imaging
    factory = db.get_db().session_factory
    assert factory is not None
    day = today.date() if isinstance(today, datetime) else None
    store = storage.from_settings(settings)
    report = run(factory, store, settings, today=day, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for item in report.expired:
        click.echo(
            f"{verb} {item.instances:>6} {item.kind.value:<6} {item.study_instance_uid} "
            f"(kept until {item.kept_until}, {item.size} bytes)"
        )
    click.echo(
        f"{verb} {report.instances} instances in "
        f"{len({e.study_id for e in report.expired})} studies; "
        f"{report.held} on legal hold; {report.orphans_removed} orphan files removed"
    )
