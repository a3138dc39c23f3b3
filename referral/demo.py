"""Demo clinics: Hospital 2A's pulmonology clinic (in person and virtual), received by
specialist.demo, and Virtual Clinic 1 with a contracted pulmonologist from Hospital 2B; each with
weekly availability and slots for the next 30 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.principal import SYSTEM
from hub.models import Facility, Patient, Specialty, User, utcnow
from insurance import services as insurance
from referral.booking import ensure_slots
from referral.models import (
    Availability,
    Clinic,
    ClinicMember,
    Referral,
    ReferralStatus,
    VisitMode,
)
from referral.services import live_key

FRIDAY = 4  # the weekend in Iran
WORKDAYS = tuple(d for d in range(7) if d != FRIDAY)


@dataclass(frozen=True)
class DemoClinic:
    code: str
    name: str
    facility: str
    specialty: str
    members: tuple[tuple[str, bool], ...]  # (username, contracted)
    # (start, end, slot minutes, mode) on every workday, in the facility's local time
    hours: tuple[tuple[time, time, int, VisitMode], ...]


CLINICS = (
    DemoClinic(
        "HOSP-2A-PULM",
        "Hospital 2A pulmonology clinic",
        "HOSP-2A",
        "pulmonology",
        (("specialist.demo", False),),
        (
            (time(8, 0), time(12, 0), 30, VisitMode.IN_PERSON),
            (time(13, 0), time(16, 0), 20, VisitMode.VIRTUAL),
        ),
    ),
    DemoClinic(
        "VC-1-PULM",
        "Virtual Clinic 1 pulmonology",
        "VC-1",
        "pulmonology",
        (("specialist2.demo", True),),
        ((time(9, 0), time(17, 0), 30, VisitMode.VIRTUAL),),
    ),
)


def seed_referrals(session: Session) -> None:
    """The demo clinics, their clinicians, weekly hours and 30 days of slots (idempotent)."""
    for spec in CLINICS:
        facility = session.scalar(select(Facility).where(Facility.code == spec.facility))
        specialty = session.scalar(select(Specialty).where(Specialty.code == spec.specialty))
        if facility is None or specialty is None:
            continue
        clinic = session.scalar(select(Clinic).where(Clinic.code == spec.code))
        if clinic is None:
            clinic = Clinic(
                code=spec.code,
                name=spec.name,
                facility_id=facility.id,
                specialty_id=specialty.id,
                facility=facility,
            )
            session.add(clinic)
            session.flush()
            for start, end, minutes, mode in spec.hours:
                for weekday in WORKDAYS:
                    session.add(
                        Availability(
                            clinic_id=clinic.id,
                            weekday=weekday,
                            start_time=start,
                            end_time=end,
                            slot_minutes=minutes,
                            mode=mode,
                            valid_from=date(2020, 1, 1),
                        )
                    )
        for username, contracted in spec.members:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                continue
            member = session.scalar(
                select(ClinicMember).where(
                    ClinicMember.clinic_id == clinic.id, ClinicMember.user_id == user.id
                )
            )
            if member is None:
                session.add(
                    ClinicMember(clinic_id=clinic.id, user_id=user.id, contracted=contracted)
                )
        session.flush()
        now = utcnow()
        ensure_slots(session, clinic, now, now + timedelta(days=31))
    session.flush()
    seed_open_loop(session)
    seed_virtual_clinic_contract(session)


VC_CONTRACT = "VC-1-DEMO"


def seed_virtual_clinic_contract(session: Session) -> None:
    """Virtual Clinic 1's own contract with the demo insurer (a virtual clinic contracts
    insurers directly): 80 % of every component, video minutes in full."""
    clinic = session.scalar(select(Facility).where(Facility.code == "VC-1"))
    insurer = insurance.insurer_by_code(session, "DEMO")
    if clinic is None or insurer is None:
        return
    known = insurance.facility_contracts(session, clinic.id, date(2000, 1, 1))
    if any(c.code == VC_CONTRACT for c in known):
        return
    insurance.add_contract(
        session,
        SYSTEM,
        insurer=insurer,
        code=VC_CONTRACT,
        facility=clinic,
        valid_from=date(2026, 1, 1),
        valid_to=None,
        coverages=[
            insurance.CoverageIn("*", 8000),
            insurance.CoverageIn("video_minute", 10000),
        ],
    )


def seed_open_loop(session: Session) -> None:
    """One referral left open: Reza Karimi of HP-A, seen at VC-1 ten days ago by the contracted
    pulmonologist, who has not written back (it shows in the open-loop lists)."""
    patient = session.scalar(
        select(Patient).where(Patient.given_name == "Reza", Patient.family_name == "Karimi")
    )
    clinic = session.scalar(select(Clinic).where(Clinic.code == "VC-1-PULM"))
    requester = session.scalar(select(User).where(User.username == "chw.demo"))
    clinician = session.scalar(select(User).where(User.username == "specialist2.demo"))
    if patient is None or clinic is None or requester is None or clinician is None:
        return
    if requester.facility_id is None:
        return
    known = session.scalar(
        select(Referral.id).where(
            Referral.patient_id == patient.id, Referral.specialty_id == clinic.specialty_id
        )
    )
    if known is not None:
        return
    now = utcnow()
    session.add(
        Referral(
            patient_id=patient.id,
            specialty_id=clinic.specialty_id,
            from_facility_id=requester.facility_id,
            to_facility_id=clinic.facility_id,
            requester_id=requester.id,
            reason="Chronic cough and exertional dyspnoea; spirometry not available locally.",
            status=ReferralStatus.EVENT_COMPLETED,
            live_key=live_key(patient.id, clinic.specialty_id),
            receiving_clinician_id=clinician.id,
            created_at=now - timedelta(days=25),
            accepted_at=now - timedelta(days=24),
            first_visit_at=now - timedelta(days=10),
        )
    )
    session.flush()
