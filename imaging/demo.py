"""Demo data: health post A's modality may send as calling AE title DEMOPOST."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Facility
from imaging.models import AeKind, CallingAe

DEMO_TITLES = (("DEMOPOST", "HP-A", AeKind.MODALITY),)


def seed_titles(session: Session) -> None:
    for title, code, kind in DEMO_TITLES:
        facility = session.scalar(select(Facility).where(Facility.code == code))
        if facility is None:
            continue
        if session.scalar(select(CallingAe.id).where(CallingAe.ae_title == title)) is None:
            session.add(CallingAe(ae_title=title, facility_id=facility.id, kind=kind))
    session.flush()
