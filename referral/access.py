"""Who may see and act on a referral, an appointment or a clinic's calendar.

Two sides: the referring facility (its health workers and doctors) and the receiving one (the
staff of the facility the referral goes to, and the clinicians of its clinic for the specialty,
who may be contracted from another facility). Command staff of either facility's region read.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.models import Facility, Patient, Role
from hub.permissions import CLINICAL_ROLES, REGION_ROLES, REQUESTER_ROLES
from referral.models import Clinic, ClinicMember, Referral

STAFF_ROLES = CLINICAL_ROLES | {Role.FACILITY_ADMIN}


def _member_of_clinic(user_id: int) -> ColumnElement[bool]:
    """True for referrals to a facility and specialty whose clinic the user works for."""
    return exists(
        select(Clinic.id)
        .join(ClinicMember, ClinicMember.clinic_id == Clinic.id)
        .where(
            ClinicMember.user_id == user_id,
            Clinic.facility_id == Referral.to_facility_id,
            Clinic.specialty_id == Referral.specialty_id,
        )
    )


def referral_visibility(principal: Principal) -> ColumnElement[bool]:
    """A SQL condition on :class:`Referral`, true for the referrals the principal may read."""
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if principal.facility_id is not None and principal.roles & STAFF_ROLES:
        clauses.append(
            or_(
                Referral.from_facility_id == principal.facility_id,
                Referral.to_facility_id == principal.facility_id,
            )
        )
    if principal.user_id is not None and principal.roles & CLINICAL_ROLES:
        clauses.append(Referral.receiving_clinician_id == principal.user_id)
        clauses.append(_member_of_clinic(principal.user_id))
    if principal.region_id is not None and principal.roles & REGION_ROLES:
        in_region = select(Facility.id).where(Facility.region_id == principal.region_id)
        clauses.append(
            or_(Referral.from_facility_id.in_(in_region), Referral.to_facility_id.in_(in_region))
        )
    return or_(*clauses) if clauses else false()


def receiving_condition(principal: Principal) -> ColumnElement[bool]:
    """Referrals the principal receives (the "incoming" side)."""
    clauses: list[ColumnElement[bool]] = []
    if principal.facility_id is not None and principal.roles & STAFF_ROLES:
        clauses.append(Referral.to_facility_id == principal.facility_id)
    if principal.user_id is not None and principal.roles & CLINICAL_ROLES:
        clauses.append(Referral.receiving_clinician_id == principal.user_id)
        clauses.append(_member_of_clinic(principal.user_id))
    return or_(*clauses) if clauses else false()


def on_referring_side(principal: Principal, referral: Referral) -> bool:
    return principal.facility_id == referral.from_facility_id and bool(
        principal.roles & REQUESTER_ROLES
    )


def clinic_member(
    session: Session, user_id: int | None, facility_id: int, specialty_id: int
) -> bool:
    if user_id is None:
        return False
    found = session.scalar(
        select(ClinicMember.id)
        .join(Clinic, Clinic.id == ClinicMember.clinic_id)
        .where(
            ClinicMember.user_id == user_id,
            Clinic.facility_id == facility_id,
            Clinic.specialty_id == specialty_id,
        )
        .limit(1)
    )
    return found is not None


def on_receiving_side(session: Session, principal: Principal, referral: Referral) -> bool:
    """Staff of the receiving facility, its clinic's clinicians, or the receiving clinician."""
    if principal.user_id is not None and principal.user_id == referral.receiving_clinician_id:
        return True
    if principal.facility_id == referral.to_facility_id and principal.roles & STAFF_ROLES:
        return True
    return bool(principal.roles & CLINICAL_ROLES) and clinic_member(
        session, principal.user_id, referral.to_facility_id, referral.specialty_id
    )


def keeps_calendar(session: Session, principal: Principal, clinic: Clinic) -> bool:
    """Staff of the clinic's facility or one of its clinicians: they see who is booked."""
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return True
    if principal.facility_id == clinic.facility_id and principal.roles & STAFF_ROLES:
        return True
    if principal.user_id is None:
        return False
    return (
        session.scalar(
            select(ClinicMember.id).where(
                ClinicMember.clinic_id == clinic.id, ClinicMember.user_id == principal.user_id
            )
        )
        is not None
    )


def patients_of_my_referrals(principal: Principal) -> ColumnElement[bool] | None:
    """The ``patient_grants`` listener: the receiving side sees the patients referred to it."""
    if principal.user_id is None or not principal.roles & STAFF_ROLES:
        return None
    receiving = receiving_condition(principal)
    return Patient.id.in_(select(Referral.patient_id).where(receiving))
