"""Video test helpers: a video-mode consult accepted by a specialist, and its session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import (
    Consult,
    ConsultOffer,
    ConsultStatus,
    Mode,
    OfferState,
    TechLevel,
    Urgency,
)
from hub.models import ConsentScope, Facility, Role, Specialty, User, utcnow
from tests.consult.support import consent
from tests.support import factories as f


@dataclass
class VideoConsult:
    consult: Consult
    requester: User
    specialist: User
    post: Facility
    hospital: Facility


def video_consult(
    session: Session,
    facility: Facility,
    requester: User,
    specialist: User,
    *,
    recording_consent: bool = False,
) -> Consult:
    """An accepted video consult of a new patient of ``facility`` (written straight to the
    tables: the consult package's own tests cover how consults get there)."""
    patient = f.patient(session, facility)
    scopes = [ConsentScope.CONSULT, ConsentScope.VIDEO]
    if recording_consent:
        scopes.append(ConsentScope.RECORDING)
    consent(session, patient.id, *scopes)
    specialty = session.scalar(select(Specialty).where(Specialty.code == "pulmonology"))
    assert specialty is not None
    consult = Consult(
        patient_id=patient.id,
        requester_id=requester.id,
        requester_facility_id=facility.id,
        region_id=facility.region_id,
        specialty_id=specialty.id,
        urgency=Urgency.URGENT,
        mode=Mode.VIDEO,
        tech_level=TechLevel.STANDARD,
        question="Video review of a rash.",
        vitals={},
        status=ConsultStatus.ACCEPTED,
        assigned_to_id=specialist.id,
        routing_trace=[],
        submitted_at=utcnow(),
        accepted_at=utcnow(),
    )
    session.add(consult)
    session.flush()
    session.add(
        ConsultOffer(consult_id=consult.id, specialist_id=specialist.id, state=OfferState.CLAIMED)
    )
    session.flush()
    return consult


def new_site(session: Session) -> VideoConsult:
    region = f.region(session)
    uni = f.university(session, region)
    post = f.facility(session, uni)
    hospital = f.facility(session, uni)
    requester = f.user(session, Role.GP, at=post)
    specialist = f.user(session, Role.SPECIALIST, at=hospital, specialty="pulmonology")
    consult = video_consult(session, post, requester, specialist)
    return VideoConsult(consult, requester, specialist, post, hospital)
