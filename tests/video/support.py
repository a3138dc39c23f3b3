"""Video test helpers: a video-mode consult accepted by a specialist, and its session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
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
from hub import db
from hub.models import ConsentScope, Facility, Role, Specialty, User, utcnow
from tests.consult.support import consent
from tests.support import factories as f
from tests.support.personas import World


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


def persona_user(app: Flask, world: World, name: str) -> int:
    """The user id behind a persona's token."""
    with app.test_client() as client:
        username = client.get("/api/v1/me", headers=world[name].headers).get_json()["username"]
    with app.app_context(), db.transaction() as sess:
        user_id = sess.scalar(select(User.id).where(User.username == username))
    assert user_id is not None
    return int(user_id)


def world_video_consult(app: Flask, world: World, *, recording_consent: bool = False) -> int:
    """An accepted video consult of a new facility-A patient requested by hw_a, answered by the
    world's specialist."""
    hw_a, specialist = persona_user(app, world, "hw_a"), persona_user(app, world, "specialist")
    with app.app_context(), db.transaction() as sess:
        consult = video_consult(
            sess,
            world.facility_a,
            sess.get_one(User, hw_a),
            sess.get_one(User, specialist),
            recording_consent=recording_consent,
        )
        return consult.id


def open_session(app: Flask, world: World, consult_id: int, **body: Any) -> dict[str, Any]:
    with app.test_client() as client:
        resp = client.post(
            f"/api/v1/consults/{consult_id}/video-sessions",
            json=body,
            headers=world["hw_a"].headers,
        )
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())
