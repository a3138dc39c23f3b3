"""Patients by real name, their consents and merging of duplicates.

Every access is permission-checked and audited.
"""

from __future__ import annotations

from datetime import UTC, date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit, hooks
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Consent, ConsentScope, Facility, Membership, Patient, Role, utcnow
from hub.national_id import InvalidNationalId, fold, normalise
from hub.permissions import PATIENT_MERGERS, PATIENT_WRITERS, patient_visibility, require
from hub.realtime import emit_after_commit, facility_room
from hub.schemas import ConsentIn, MembershipEndIn, MergeIn, PatientIn, PatientPatch


def _facility_by_code(session: Session, code: str) -> Facility:
    facility = session.scalar(select(Facility).where(Facility.code == code))
    if facility is None:
        raise ValidationFailed("Unknown facility.", details={"home_facility": code})
    return facility


def _country_code(facility: Facility) -> str:
    return facility.region.country.code


def create_patient(session: Session, principal: Principal, data: PatientIn) -> Patient:
    """Register a patient at a facility within the caller's scope."""
    action = "hub:patient:created"
    require(principal, "patients:write", roles=PATIENT_WRITERS, action=action)
    if data.home_facility:
        facility = _facility_by_code(session, data.home_facility)
    elif principal.facility_id is not None:
        facility = session.get_one(Facility, principal.facility_id)
    else:
        raise ValidationFailed(
            "home_facility is required for your account.", details={"home_facility": "required"}
        )
    if not principal.has_role(Role.NATIONAL_ADMIN) and facility.id != principal.facility_id:
        raise AccessDenied(
            "You can register patients only at your own facility.",
            action=action,
            object_type="facility",
            object_id=facility.id,
        )
    country = (data.id_country or _country_code(facility)).upper()
    try:
        national_id = normalise(country, data.national_id)
    except InvalidNationalId as exc:
        raise ValidationFailed(str(exc), details={"national_id": str(exc)}) from None
    existing = session.scalar(
        select(Patient.id).where(Patient.id_country == country, Patient.national_id == national_id)
    )
    if existing is not None:
        raise Conflict(
            "A patient with this national id is already registered.", code="duplicate_national_id"
        )
    patient = Patient(
        id_country=country,
        national_id=national_id,
        given_name=data.given_name,
        family_name=data.family_name,
        date_of_birth=data.date_of_birth,
        sex=data.sex,
        phone=data.phone,
        email=data.email,
        address=data.address,
        home_facility_id=facility.id,
        created_by_id=principal.user_id,
    )
    session.add(patient)
    try:
        session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same person.
        raise Conflict(
            "A patient with this national id is already registered.", code="duplicate_national_id"
        ) from None
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=patient.id,
        details={"facility": facility.code},
    )
    emit_after_commit(
        session, "patient.registered", {"patient_id": patient.id}, [facility_room(facility.id)]
    )
    return patient


def get_patient(
    session: Session, principal: Principal, patient_id: int, *, purpose: str = "viewed"
) -> Patient:
    """A patient the caller may see; others are refused as not found and the attempt audited."""
    action = f"hub:patient:{purpose}"
    require(principal, "patients:read", action=action)
    patient = session.scalar(
        select(Patient).where(Patient.id == patient_id, patient_visibility(principal))
    )
    if patient is None:
        exists = session.scalar(select(Patient.id).where(Patient.id == patient_id))
        if exists is None:
            raise NotFound("Not found.")
        raise AccessDenied(action=action, object_type="patient", object_id=patient_id, hide=True)
    audit.record(session, principal, action, object_type="patient", object_id=patient.id)
    return patient


def list_patients(
    session: Session,
    principal: Principal,
    *,
    query: str | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> list[Patient]:
    """Patients within scope, by id; ``query`` matches national id exactly or a name prefix."""
    require(principal, "patients:read", action="hub:patient:listed")
    stmt = select(Patient).where(
        patient_visibility(principal), Patient.id > after_id, Patient.merged_into_id.is_(None)
    )
    if query:
        prefix = query.strip().lower()
        stmt = stmt.where(
            # Ids are stored folded (ASCII digits, no dashes): a search typed in Persian digits
            # finds them too.
            (Patient.national_id == fold(query))
            | func.lower(Patient.family_name).startswith(prefix, autoescape=True)
            | func.lower(Patient.given_name).startswith(prefix, autoescape=True)
        )
    patients = list(session.scalars(stmt.order_by(Patient.id).limit(limit)))
    audit.record(
        session,
        principal,
        "hub:patient:listed",
        object_type="patient",
        details={"ids": [p.id for p in patients]},
    )
    return patients


def update_patient(
    session: Session, principal: Principal, patient_id: int, data: PatientPatch
) -> Patient:
    action = "hub:patient:updated"
    require(principal, "patients:write", roles=PATIENT_WRITERS, action=action)
    patient = get_patient(session, principal, patient_id, purpose="viewed")
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise ValidationFailed("Nothing to change.")
    required = {"national_id", "given_name", "family_name", "date_of_birth", "sex"}
    for name, value in changes.items():
        if value is None and name in required:
            raise ValidationFailed(f"{name} cannot be empty.", details={name: "required"})
    if "national_id" in changes:
        changes["national_id"] = _corrected_national_id(session, patient, changes["national_id"])
    for name, value in changes.items():
        setattr(patient, name, value)
    try:
        session.flush()
    except IntegrityError:
        # Lost a race with a registration or correction to the same number.
        raise Conflict(
            "A patient with this national id is already registered.", code="duplicate_national_id"
        ) from None
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=patient.id,
        details={"fields": sorted(changes)},
    )
    return patient


def _corrected_national_id(session: Session, patient: Patient, value: str) -> str:
    """A mistyped national id corrected: the new one passes the checksum of the id's country
    and belongs to nobody else."""
    try:
        national_id = normalise(patient.id_country, value)
    except InvalidNationalId as exc:
        raise ValidationFailed(str(exc), details={"national_id": str(exc)}) from None
    other = session.scalar(
        select(Patient.id).where(
            Patient.id_country == patient.id_country,
            Patient.national_id == national_id,
            Patient.id != patient.id,
        )
    )
    if other is not None:
        raise Conflict(
            "A patient with this national id is already registered.", code="duplicate_national_id"
        )
    return national_id


def merge_patients(
    session: Session, principal: Principal, survivor_id: int, data: MergeIn
) -> Patient:
    """Fold a duplicate record into the survivor; the duplicate stays, pointing at the survivor."""
    action = "hub:patient:merged"
    require(principal, "patients:write", roles=PATIENT_MERGERS, action=action)
    if survivor_id == data.duplicate_id:
        raise ValidationFailed("A patient cannot be merged into itself.")
    survivor = get_patient(session, principal, survivor_id)
    duplicate = get_patient(session, principal, data.duplicate_id)
    if survivor.merged_into_id is not None:
        raise Conflict("The surviving record was itself merged away.", code="already_merged")
    if duplicate.merged_into_id is not None:
        raise Conflict("The duplicate was already merged.", code="already_merged")
    session.execute(
        update(Consent).where(Consent.patient_id == duplicate.id).values(patient_id=survivor.id)
    )
    for membership in list(duplicate.memberships):
        clash = session.scalar(
            select(Membership.id).where(
                Membership.patient_id == survivor.id, Membership.insurer_id == membership.insurer_id
            )
        )
        if clash is None:
            membership.patient_id = survivor.id
    # Packages move their own records (studies, keys) from the duplicate to the survivor.
    hooks.patient_merged.run(
        session, principal, hooks.PatientMerge(survivor_id=survivor.id, duplicate_id=duplicate.id)
    )
    duplicate.merged_into_id = survivor.id
    duplicate.merged_at = utcnow()
    session.flush()
    session.expire(survivor)
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=survivor.id,
        details={"duplicate_id": duplicate.id, "reason_length": len(data.reason)},
    )
    return survivor


def record_consent(
    session: Session, principal: Principal, patient_id: int, data: ConsentIn
) -> list[Consent]:
    """Record a telemedicine consent, one row per scope, given by the patient or a guardian."""
    action = "hub:consent:recorded"
    require(principal, "patients:write", roles=PATIENT_WRITERS, action=action)
    patient = get_patient(session, principal, patient_id)
    if patient.merged_into_id is not None:
        raise Conflict(
            "This record was merged; record consent on the surviving record.",
            code="merged",
            details={"merged_into": patient.merged_into_id},
        )
    given_at = data.given_at or utcnow()
    if given_at.tzinfo is None:
        given_at = given_at.replace(tzinfo=UTC)
    if given_at > utcnow():
        raise ValidationFailed(
            "Consent cannot be given in the future.", details={"given_at": "in the future"}
        )
    if principal.user_id is None:
        raise AccessDenied(
            "Consent is recorded by a person, not a machine client.",
            action=action,
            object_type="patient",
            object_id=patient.id,
        )
    given_by = data.given_by_name or f"{patient.given_name} {patient.family_name}"
    consents = [
        Consent(
            patient_id=patient.id,
            scope=scope,
            method=data.method,
            given_by_name=given_by,
            relationship_to_patient=data.relationship_to_patient,
            given_at=given_at,
            recorded_by_id=principal.user_id,
        )
        for scope in data.scopes
    ]
    session.add_all(consents)
    session.flush()
    for consent in consents:
        audit.record(
            session,
            principal,
            action,
            object_type="consent",
            object_id=consent.id,
            details={"patient_id": patient.id, "scope": consent.scope.value},
        )
    return consents


def withdraw_consent(
    session: Session, principal: Principal, patient_id: int, consent_id: int
) -> Consent:
    action = "hub:consent:withdrawn"
    require(principal, "patients:write", roles=PATIENT_WRITERS, action=action)
    patient = get_patient(session, principal, patient_id)
    consent = session.scalar(
        select(Consent).where(Consent.id == consent_id, Consent.patient_id == patient.id)
    )
    if consent is None:
        raise NotFound("Not found.")
    if consent.withdrawn_at is not None:
        raise Conflict("This consent was already withdrawn.", code="already_withdrawn")
    consent.withdrawn_at = utcnow()
    consent.withdrawn_by_id = principal.user_id
    audit.record(
        session,
        principal,
        action,
        object_type="consent",
        object_id=consent.id,
        details={"patient_id": patient.id, "scope": consent.scope.value},
    )
    return consent


def list_consents(session: Session, principal: Principal, patient_id: int) -> list[Consent]:
    patient = get_patient(session, principal, patient_id)
    return list(
        session.scalars(
            select(Consent).where(Consent.patient_id == patient.id).order_by(Consent.given_at)
        )
    )


def has_active_consent(session: Session, patient_id: int, scope: ConsentScope) -> bool:
    """Whether an unwithdrawn consent of this scope exists (used before a consult is submitted)."""
    return (
        session.scalar(
            select(Consent.id)
            .where(
                Consent.patient_id == patient_id,
                Consent.scope == scope,
                Consent.withdrawn_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def end_membership(
    session: Session,
    principal: Principal,
    patient_id: int,
    membership_id: int,
    data: MembershipEndIn,
) -> Membership:
    """End a patient's insurance membership on a day (the card was cancelled or replaced)."""
    action = "hub:membership:ended"
    require(principal, "patients:write", roles=PATIENT_WRITERS, action=action)
    patient = get_patient(session, principal, patient_id)
    membership = session.scalar(
        select(Membership).where(
            Membership.id == membership_id, Membership.patient_id == patient.id
        )
    )
    if membership is None:
        raise NotFound("Not found.")
    valid_to = data.valid_to or date.today()
    if valid_to < membership.valid_from:
        raise ValidationFailed(
            "A membership cannot end before it started.", details={"valid_to": "early"}
        )
    if membership.valid_to is not None and membership.valid_to <= valid_to:
        raise Conflict("This membership already ends by then.", code="already_ended")
    membership.valid_to = valid_to
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=patient.id,
        details={"membership": membership.id},
    )
    return membership
