"""A video-mode consult opened for a booked virtual visit (SEEDS 001 step 4: a virtual clinic's
sessions become video sessions). The referral package books the visit and decides who holds it;
this module gives the visit the consult a video session needs, already accepted by the visit's
clinician, so the video, signing and billing paths work on it as on any consult."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consult.assignment import accept_directly, add_event
from consult.events import consult_changed
from consult.models import (
    Consult,
    ConsultStatus,
    Mode,
    TechLevel,
    Urgency,
)
from hub import audit
from hub.auth.principal import Principal
from hub.errors import Conflict, ValidationFailed
from hub.models import ConsentScope, Patient, Role, Specialty, User, utcnow
from hub.services.patients import has_active_consent


def require_consents(session: Session, patient_id: int, mode: Mode) -> None:
    """409 ``consent_required`` unless the patient consented to consults (and, for a video
    consult, to video), naming what is missing."""
    needed = [ConsentScope.CONSULT] + ([ConsentScope.VIDEO] if mode is Mode.VIDEO else [])
    missing = [s.value for s in needed if not has_active_consent(session, patient_id, s)]
    if missing:
        raise Conflict(
            "The patient's telemedicine consent must be recorded first "
            f"(missing: {', '.join(missing)}).",
            code="consent_required",
            details={"missing_scopes": missing},
        )


def open_for_visit(
    session: Session,
    principal: Principal,
    *,
    patient_id: int,
    specialty_id: int,
    requester_id: int,
    clinician_id: int,
    question: str,
) -> int:
    """Open an accepted video consult of ``clinician_id`` for a visit requested by
    ``requester_id``; its id. The caller (the referral package) has checked that ``principal``
    holds the visit. The patient's consult and video consents are required, as on submission."""
    patient = session.get(Patient, patient_id)
    specialty = session.get(Specialty, specialty_id)
    requester = session.get(User, requester_id)
    clinician = session.get(User, clinician_id)
    if patient is None or specialty is None or requester is None or clinician is None:
        raise ValidationFailed("The visit's patient, specialty or clinicians are unknown.")
    if Role.SPECIALIST not in clinician.role_set or not clinician.is_active:
        raise ValidationFailed("The visit's clinician is not an active specialist.")
    if requester.facility_id is None:
        raise ValidationFailed("The visit's requester belongs to no facility.")
    require_consents(session, patient.id, Mode.VIDEO)
    facility = requester.facility
    assert facility is not None
    now = utcnow()
    consult = Consult(
        patient_id=patient.id,
        requester_id=requester.id,
        requester_facility_id=facility.id,
        region_id=facility.region_id,
        specialty_id=specialty.id,
        urgency=Urgency.ROUTINE,
        mode=Mode.VIDEO,
        tech_level=TechLevel.STANDARD,
        question=question,
        history=None,
        vitals={},
        status=ConsultStatus.SUBMITTED,
        routing_trace=["virtual visit: held by the booked clinic's clinician, not routed"],
        submitted_at=now,
    )
    session.add(consult)
    session.flush()
    add_event(session, consult, "submitted", actor_id=principal.user_id, to_status=consult.status)
    accept_directly(session, consult, clinician.id, "virtual_visit", actor_id=clinician.id)
    audit.record(
        session,
        principal,
        "consult:request:opened_for_visit",
        object_type="consult",
        object_id=consult.id,
        details={"patient_id": patient.id, "clinician_id": clinician.id},
    )
    consult_changed(session, consult)
    return consult.id
