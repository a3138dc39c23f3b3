"""Consult test helpers: on-call specialists, consents and submitted consults."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import Shift
from hub.models import (
    Consent,
    ConsentMethod,
    ConsentScope,
    Facility,
    FacilityKind,
    Role,
    Specialty,
    University,
    User,
    utcnow,
)
from tests.support import factories as f


def on_call(
    session: Session, who: User, at: Facility, specialty: str = "pulmonology", hours: int = 24
) -> Shift:
    spec = session.scalar(select(Specialty).where(Specialty.code == specialty))
    assert spec is not None
    now = utcnow()
    shift = Shift(
        specialist_id=who.id,
        specialty_id=spec.id,
        facility_id=at.id,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=hours),
    )
    session.add(shift)
    session.flush()
    return shift


def consent(session: Session, patient_id: int, *scopes: ConsentScope) -> None:
    recorder = session.scalar(select(User.id).limit(1))
    for scope in scopes or (ConsentScope.CONSULT,):
        session.add(
            Consent(
                patient_id=patient_id,
                scope=scope,
                method=ConsentMethod.WRITTEN,
                given_by_name="Patient",
                given_at=utcnow(),
                recorded_by_id=recorder,
            )
        )
    session.flush()


def hospital(session: Session, uni: University, level: int = 2) -> Facility:
    return f.facility(session, uni, FacilityKind.HOSPITAL, level)


def specialist(session: Session, at: Facility, specialty: str = "pulmonology") -> User:
    user = f.user(session, Role.SPECIALIST, at=at, specialty=specialty)
    on_call(session, user, at, specialty)
    return user


def bearer(session: Session, who: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {f.personal_token(session, who)}"}


def consult_body(patient_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": patient_id,
        "specialty": "pulmonology",
        "urgency": "urgent",
        "mode": "async",
        "question": "Productive cough for three weeks, fever at night.",
        "vitals": {"temperature_c": 38.2, "spo2": 93},
    }
    body.update(overrides)
    return body


def submit(
    client: FlaskClient, headers: dict[str, str], patient_id: int, **overrides: Any
) -> dict[str, Any]:
    resp = client.post(
        "/api/v1/consults", json=consult_body(patient_id, **overrides), headers=headers
    )
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


class Site:
    """A fresh region with one university: a health post, level-2 and level-3 hospitals."""

    def __init__(self, app: Flask, session: Session) -> None:
        self.region = f.region(session)
        self.uni = f.university(session, self.region)
        self.post = f.facility(session, self.uni)
        self.l2 = hospital(session, self.uni, 2)
        self.l3 = hospital(session, self.uni, 3)
        self.chw = f.user(session, Role.CHW, at=self.post)
        self.patient = f.patient(session, self.post)
        consent(session, self.patient.id)
        self.chw_headers = bearer(session, self.chw)
