"""Demo data: health post A and imaging centre A are licensed for teleradiology, each with a
qualified technician on record; the demo radiologists' years of experience (senior.demo is a
senior reviewer)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Facility, User
from imaging.reading.cli import set_site, set_technician
from imaging.reading.qc.review import set_experience

DEMO_SITES = (("HP-A", "TR-HPA-001", "Demo Technician"), ("IMG-A", "TR-IMGA-001", "Demo CT Tech"))
DEMO_EXPERIENCE = (("radiologist.demo", 6), ("senior.demo", 22))


def seed_reading(session: Session) -> None:
    """License the demo sites, record their qualified technicians and the readers' experience."""
    for code, licence, technician in DEMO_SITES:
        facility = session.scalar(select(Facility).where(Facility.code == code))
        if facility is None:
            continue
        set_site(session, facility.id, True, licence)
        set_technician(session, facility.id, technician, True)
    for username, years in DEMO_EXPERIENCE:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            set_experience(session, user.id, years)
