"""``hub critical-results set``: the acknowledgement window of an ACR category;
``hub reading site``/``technician``: the teleradiology licence and qualified technicians."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, db
from hub.auth.principal import SYSTEM
from hub.errors import HubError
from hub.models import Facility, utcnow
from imaging.reading.critical import set_window
from imaging.reading.models import ReadingSite, Technician


@click.group("critical-results", cls=AppGroup)
def critical_group() -> None:
    """Critical results: acknowledgement windows per ACR category."""


@critical_group.command("set")
@click.option("--category", type=click.IntRange(1, 3), required=True)
@click.option("--ack-minutes", type=click.IntRange(1, 30 * 24 * 60), required=True)
def set_command(category: int, ack_minutes: int) -> None:
    """Set how long the sending facility has to acknowledge a category's critical result."""
    with db.transaction() as session:
        try:
            set_window(session, category, ack_minutes)
        except HubError as exc:
            raise click.ClickException(exc.message) from None
        audit.record(
            session,
            SYSTEM,
            "imaging:critical:window_set",
            object_type="critical_window",
            object_id=category,
            details={"ack_minutes": ack_minutes},
        )
    click.echo(f"category {category}: acknowledge within {ack_minutes} min")


@click.group("reading", cls=AppGroup)
def reading_group() -> None:
    """Teleradiology: facility licences and qualified technicians (SEEDS 004)."""


def _facility(session: Session, code: str) -> Facility:
    facility = session.scalar(select(Facility).where(Facility.code == code))
    if facility is None:
        raise click.ClickException(f"no facility {code!r}")
    return facility


@reading_group.command("site")
@click.argument("facility_code")
@click.option("--licensed/--not-licensed", required=True)
@click.option("--licence-number", default="")
def site_command(facility_code: str, licensed: bool, licence_number: str) -> None:
    """Record whether a facility is licensed to send studies for teleradiology."""
    with db.transaction() as session:
        facility = _facility(session, facility_code)
        set_site(session, facility.id, licensed, licence_number)
        audit.record(
            session,
            SYSTEM,
            "imaging:reading:site_set",
            object_type="facility",
            object_id=facility.id,
            details={"licensed": licensed},
        )
    click.echo(f"{facility_code}: {'licensed' if licensed else 'not licensed'}")


@reading_group.command("technician")
@click.argument("facility_code")
@click.argument("name")
@click.option("--qualified/--not-qualified", required=True)
def technician_command(facility_code: str, name: str, qualified: bool) -> None:
    """Record a facility's technician and whether they are qualified."""
    with db.transaction() as session:
        facility = _facility(session, facility_code)
        set_technician(session, facility.id, name, qualified)
        audit.record(
            session,
            SYSTEM,
            "imaging:reading:technician_set",
            object_type="facility",
            object_id=facility.id,
            details={"qualified": qualified},
        )
    click.echo(f"{facility_code}: {name} {'qualified' if qualified else 'not qualified'}")


def set_site(session: Session, facility_id: int, licensed: bool, number: str = "") -> None:
    """Create or change a facility's teleradiology licence."""
    site = session.scalar(select(ReadingSite).where(ReadingSite.facility_id == facility_id))
    if site is None:
        site = ReadingSite(facility_id=facility_id)
        session.add(site)
    site.licensed, site.licence_number, site.updated_at = licensed, number, utcnow()
    session.flush()


def set_technician(session: Session, facility_id: int, name: str, qualified: bool) -> None:
    """Create or change a technician's qualification at a facility."""
    row = session.scalar(
        select(Technician).where(Technician.facility_id == facility_id, Technician.name == name)
    )
    if row is None:
        row = Technician(facility_id=facility_id, name=name)
        session.add(row)
    row.qualified = qualified
    session.flush()
