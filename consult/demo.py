"""Demo rosters: the demo pulmonologists are on call around the clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import Shift
from hub.models import Specialty, User, utcnow

ON_CALL = {
    "specialist.demo": "pulmonology",
    "specialist2.demo": "pulmonology",
    "radiologist.demo": "radiology",
}


def seed_rosters(session: Session) -> None:
    now = utcnow()
    for username, code in ON_CALL.items():
        user = session.scalar(select(User).where(User.username == username))
        specialty = session.scalar(select(Specialty).where(Specialty.code == code))
        if user is None or specialty is None or user.facility_id is None:
            continue
        covered = session.scalar(
            select(Shift.id).where(
                Shift.specialist_id == user.id,
                Shift.specialty_id == specialty.id,
                Shift.starts_at <= now,
                Shift.ends_at > now + timedelta(days=30),
            )
        )
        if covered is None:
            session.add(
                Shift(
                    specialist_id=user.id,
                    specialty_id=specialty.id,
                    facility_id=user.facility_id,
                    starts_at=now - timedelta(hours=1),
                    ends_at=now + timedelta(days=365),
                )
            )
    session.flush()
