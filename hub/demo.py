"""Demo data for ``make run``: one macro-region with two universities, their facilities, one
account per role, patients and an insurer. Idempotent: a second run changes nothing unless
HUB_DEMO_PASSWORD is set, which then resets every demo account's password to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import hooks
from hub.models import (
    Consent,
    ConsentMethod,
    ConsentScope,
    Country,
    Facility,
    FacilityKind,
    Insurer,
    InsurerKind,
    MacroRegion,
    Membership,
    Patient,
    Role,
    Sex,
    University,
    User,
    utcnow,
)
from hub.national_id import make_iranian
from hub.services.users import create_user, generate_password, set_password

DEMO_REGION = "MR01"
T = TypeVar("T")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    full_name: str
    facility: str | None = None
    region: str | None = None
    insurer: str | None = None
    specialty: str | None = None


ACCOUNTS = (
    DemoAccount("chw.demo", Role.CHW, "Demo Community Health Worker", facility="HP-A"),
    DemoAccount("gp.demo", Role.GP, "Demo General Practitioner", facility="HP-B"),
    # Health post A's head: runs its accounts, contact list and devices, and receives the
    # critical results nobody there acknowledged in time.
    DemoAccount("facility.demo", Role.FACILITY_ADMIN, "Demo Facility Head", facility="HP-A"),
    DemoAccount(
        "specialist.demo",
        Role.SPECIALIST,
        "Demo Pulmonologist",
        facility="HOSP-2A",
        specialty="pulmonology",
    ),
    DemoAccount(
        "specialist2.demo",
        Role.SPECIALIST,
        "Demo Pulmonologist Two",
        facility="HOSP-2B",
        specialty="pulmonology",
    ),
    DemoAccount(
        "radiologist.demo",
        Role.RADIOLOGIST,
        "Demo Radiologist",
        facility="IMG-A",
        specialty="radiology",
    ),
    # A senior radiologist (10+ years, recorded by imaging's demo data) who reviews others' reports.
    DemoAccount(
        "senior.demo",
        Role.RADIOLOGIST,
        "Demo Senior Radiologist",
        facility="HOSP-3A",
        specialty="radiology",
    ),
    DemoAccount("command.demo", Role.COMMAND, "Demo Command Officer", region=DEMO_REGION),
    DemoAccount("qa.demo", Role.QA_PHYSICIAN, "Demo QA Physician", region=DEMO_REGION),
    DemoAccount("admin.demo", Role.NATIONAL_ADMIN, "Demo National Administrator"),
    DemoAccount("insurer.demo", Role.INSURER, "Demo Insurance Analyst", insurer="DEMO"),
)

# code, name, kind, level, university code (None: independent)
FACILITIES = (
    ("HP-A", "Health Post A", FacilityKind.HEALTH_POST, 1, "UNI-A"),
    ("HH-A", "Health House A", FacilityKind.HEALTH_HOUSE, 1, "UNI-A"),
    ("HP-B", "Health Post B", FacilityKind.HEALTH_POST, 1, "UNI-B"),
    ("HOSP-2A", "Hospital 2A", FacilityKind.HOSPITAL, 2, "UNI-A"),
    ("HOSP-2B", "Hospital 2B", FacilityKind.HOSPITAL, 2, "UNI-B"),
    ("HOSP-3A", "University Hospital 3A", FacilityKind.HOSPITAL, 3, "UNI-A"),
    ("IMG-A", "Imaging Centre A", FacilityKind.IMAGING_CENTRE, 2, "UNI-A"),
    ("VC-1", "Virtual Clinic 1", FacilityKind.VIRTUAL_CLINIC, 2, None),
)

# national-id prefix, given, family, birth date, sex, home facility
PATIENTS = (
    ("001000001", "Maryam", "Ahmadi", date(1984, 3, 2), Sex.FEMALE, "HP-A"),
    ("001000002", "Reza", "Karimi", date(1957, 11, 20), Sex.MALE, "HP-A"),
    ("001000003", "Zahra", "Hosseini", date(2016, 6, 9), Sex.FEMALE, "HP-A"),
    ("001000004", "Ali", "Moradi", date(1972, 1, 15), Sex.MALE, "HP-B"),
    ("001000005", "Fatemeh", "Rahimi", date(1990, 8, 30), Sex.FEMALE, "HP-B"),
)


def _get_or_add(session: Session, model: type[T], lookup: dict[str, object], **values: object) -> T:
    row = session.scalar(select(model).filter_by(**lookup))
    if row is None:
        row = model(**lookup, **values)
        session.add(row)
        session.flush()
    return row


def seed_organisation(session: Session) -> None:
    country = _get_or_add(session, Country, {"code": "IR"}, name="Iran")
    regions = {}
    for number in range(1, 11):
        regions[number] = _get_or_add(
            session,
            MacroRegion,
            {"code": f"MR{number:02d}"},
            number=number,
            name=f"Macro-region {number}",
            country_id=country.id,
        )
    region = regions[1]
    universities = {
        code: _get_or_add(session, University, {"code": code}, name=name, region_id=region.id)
        for code, name in (
            ("UNI-A", "University of Medical Sciences A"),
            ("UNI-B", "University of Medical Sciences B"),
        )
    }
    for code, name, kind, level, uni in FACILITIES:
        _get_or_add(
            session,
            Facility,
            {"code": code},
            name=name,
            kind=kind,
            level=level,
            university_id=universities[uni].id if uni else None,
            region_id=region.id,
            timezone="Asia/Tehran",
        )
    _get_or_add(
        session, Insurer, {"code": "DEMO"}, name="Demo Basic Insurance", kind=InsurerKind.BASIC
    )


def seed_patients(session: Session, recorder: User) -> None:
    insurer = session.scalar(select(Insurer).where(Insurer.code == "DEMO"))
    assert insurer is not None
    for prefix, given, family, born, sex, facility_code in PATIENTS:
        national_id = make_iranian(prefix)
        facility = session.scalar(select(Facility).where(Facility.code == facility_code))
        assert facility is not None
        patient = _get_or_add(
            session,
            Patient,
            {"id_country": "IR", "national_id": national_id},
            given_name=given,
            family_name=family,
            date_of_birth=born,
            sex=sex,
            home_facility_id=facility.id,
        )
        _get_or_add(
            session,
            Membership,
            {"insurer_id": insurer.id, "member_id": f"DEMO-{national_id}"},
            patient_id=patient.id,
            valid_from=date(2020, 1, 1),
            valid_to=None,
        )
        if not patient.consents:
            session.add(
                Consent(
                    patient_id=patient.id,
                    scope=ConsentScope.CONSULT,
                    method=ConsentMethod.WRITTEN,
                    given_by_name=f"{given} {family}",
                    given_at=utcnow(),
                    recorded_by_id=recorder.id,
                )
            )


CLINICAL = frozenset({Role.CHW, Role.NURSE, Role.GP, Role.SPECIALIST, Role.RADIOLOGIST})


def demo_licence(account: DemoAccount) -> str | None:
    """Clinicians sign documents, and their certificates name a licence number."""
    if account.role not in CLINICAL:
        return None
    return "DEMO-" + account.username.replace(".demo", "").replace(".", "-").upper()


def seed_demo(session: Session, password: str | None) -> list[tuple[DemoAccount, str | None]]:
    """Create what is missing; returns each account with the password set now (or None)."""
    seed_organisation(session)
    result: list[tuple[DemoAccount, str | None]] = []
    for account in ACCOUNTS:
        user = session.scalar(select(User).where(User.username == account.username))
        if user is None:
            new_password = password or generate_password()
            create_user(
                session,
                account.username,
                full_name=account.full_name,
                role=account.role,
                facility_code=account.facility,
                region_code=account.region,
                insurer_code=account.insurer,
                specialty_codes=(account.specialty,) if account.specialty else (),
                password=new_password,
                licence_number=demo_licence(account),
            )
            result.append((account, new_password))
        elif password is not None:
            user.licence_number = user.licence_number or demo_licence(account)
            set_password(session, user, password)
            result.append((account, password))
        else:
            result.append((account, None))
    chw = session.scalar(select(User).where(User.username == "chw.demo"))
    assert chw is not None
    seed_patients(session, chw)
    hooks.demo_seeders.run(session)  # the packages' own demo data (rosters, tariffs)
    return result


def print_logins(accounts: list[tuple[DemoAccount, str | None]], fixed: str | None) -> None:
    click.echo("Demo logins:")
    for account, password in accounts:
        where = account.facility or account.region or account.insurer or "national"
        shown = password if password is not None else "(unchanged; set HUB_DEMO_PASSWORD)"
        click.echo(f"  {account.username:<18} {account.role.value:<15} {where:<8} {shown}")
    if fixed is None:
        click.echo("Passwords were generated; set HUB_DEMO_PASSWORD to choose one.")
