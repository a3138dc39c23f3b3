"""Demo data of the command centre: the demo region's assisting physician for pulmonology
(the demo pulmonologist), so a transfer of a demo pulmonology consult has someone to consult."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.demo import DEMO_REGION
from hub.models import MacroRegion, Specialty, User, utcnow
from referral.command.models import AssistingPhysician

ASSISTING = {"pulmonology": "specialist.demo"}


def seed_assisting_physicians(session: Session) -> None:
    region = session.scalar(select(MacroRegion).where(MacroRegion.code == DEMO_REGION))
    if region is None:
        return
    for code, username in ASSISTING.items():
        specialty = session.scalar(select(Specialty).where(Specialty.code == code))
        user = session.scalar(select(User).where(User.username == username))
        if specialty is None or user is None:
            continue
        exists = session.scalar(
            select(AssistingPhysician.id).where(
                AssistingPhysician.region_id == region.id,
                AssistingPhysician.specialty_id == specialty.id,
            )
        )
        if exists is None:
            session.add(
                AssistingPhysician(
                    region_id=region.id,
                    specialty_id=specialty.id,
                    user_id=user.id,
                    designated_at=utcnow(),
                )
            )
    session.flush()
