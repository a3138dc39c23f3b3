"""Factory functions for test data; every code and name is unique, so tests share a database."""

from __future__ import annotations

import functools
import itertools
import random
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.oauth import create_client
from hub.models import (
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
)
from hub.national_id import make_iranian
from hub.services.tokens import create_personal_token
from hub.services.users import create_user, hash_password

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)
_used_ids: set[str] = set()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}".upper()


def country(session: Session, code: str = "IR") -> Country:
    row = session.scalar(select(Country).where(Country.code == code))
    if row is None:
        row = Country(code=code, name=code)
        session.add(row)
        session.flush()
    return row


def region(session: Session, country_code: str = "IR") -> MacroRegion:
    row = MacroRegion(
        code=unique("MR"),
        number=next(_counter) % 10 + 1,
        name="Region",
        country_id=country(session, country_code).id,
    )
    session.add(row)
    session.flush()
    return row


def university(session: Session, in_region: MacroRegion) -> University:
    row = University(code=unique("UNI"), name="University", region_id=in_region.id)
    session.add(row)
    session.flush()
    return row


def facility(
    session: Session, uni: University, kind: FacilityKind = FacilityKind.HEALTH_POST, level: int = 1
) -> Facility:
    row = Facility(
        code=unique("FAC"),
        name="Facility",
        kind=kind,
        level=level,
        university_id=uni.id,
        region_id=uni.region_id,
    )
    session.add(row)
    session.flush()
    return row


def insurer(session: Session) -> Insurer:
    row = Insurer(code=unique("INS"), name="Insurer", kind=InsurerKind.BASIC)
    session.add(row)
    session.flush()
    return row


@functools.cache
def _password_hash() -> str:
    # Hashing is slow on purpose (argon2id); every test user shares the one hash of PASSWORD.
    return hash_password(PASSWORD)


def user(
    session: Session,
    role: Role,
    *,
    at: Facility | None = None,
    region_of: MacroRegion | None = None,
    insurer_of: Insurer | None = None,
    specialty: str | None = None,
) -> User:
    """A user who logs in with PASSWORD."""
    row = create_user(
        session,
        f"u{uuid.uuid4().hex[:10]}",
        full_name=f"Test {role.value}",
        role=role,
        facility_code=at.code if at else None,
        region_code=region_of.code if region_of else None,
        insurer_code=insurer_of.code if insurer_of else None,
        specialty_codes=(specialty,) if specialty else (),
    )
    row.password_hash = _password_hash()
    session.flush()
    return row


def national_id() -> str:
    while True:
        candidate = make_iranian(f"{random.randrange(10**8, 10**9):09d}")
        if candidate not in _used_ids and len(set(candidate)) > 1:
            _used_ids.add(candidate)
            return candidate


def patient(session: Session, home: Facility, *, member_of: Insurer | None = None) -> Patient:
    row = Patient(
        id_country="IR",
        national_id=national_id(),
        given_name="Given",
        family_name=f"Family{next(_counter)}",
        date_of_birth=date(1980, 1, 1) + timedelta(days=next(_counter)),
        sex=Sex.FEMALE,
        home_facility_id=home.id,
    )
    session.add(row)
    session.flush()
    if member_of is not None:
        session.add(
            Membership(
                patient_id=row.id,
                insurer_id=member_of.id,
                member_id=unique("M"),
                valid_from=date(2020, 1, 1),
            )
        )
        session.flush()
    return row


def personal_token(session: Session, who: User, ttl: int = 3600) -> str:
    return create_personal_token(session, who.username, ttl)


def insurer_client(session: Session, of: Insurer) -> tuple[str, str]:
    client, secret = create_client(session, name="test insurer", insurer_code=of.code)
    assert secret is not None
    return client.client_id, secret
