"""Demo data: health post A and imaging centre A are licensed for teleradiology, each with a
qualified technician on record."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Facility
from imaging.reading.cli import set_site, set_technician

DEMO_SITES = (("HP-A", "TR-HPA-001", "Demo Technician"), ("IMG-A", "TR-IMGA-001", "Demo CT Tech"))


def seed_reading(session: Session) -> None:
    """License the demo sites and record their qualified technicians."""
    for code, licence, technician in DEMO_SITES:
        facility = session.scalar(select(Facility).where(Facility.code == code))
        if facility is None:
            continue
        set_site(session, facility.id, True, licence)
        set_technician(session, facility.id, technician, True)
