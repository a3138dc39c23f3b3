"""Referral test helpers: a health post referring to a hospital clinic and a virtual clinic."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import FacilityKind, Role, Specialty
from referral.models import Availability, Clinic, ClinicMember, VisitMode
from tests.consult.support import bearer, consent
from tests.support import factories as f
from tests.support.pages import FORM_CSRF


def clinic(
    session: Session,
    facility_id: int,
    specialty_id: int,
    members: tuple[int, ...],
    *,
    mode: VisitMode = VisitMode.VIRTUAL,
    minutes: int = 30,
) -> Clinic:
    """A clinic open every day 08:00-16:00 (the facility's time) in slots of ``minutes``."""
    row = Clinic(
        code=f.unique("CL"), name="Clinic", facility_id=facility_id, specialty_id=specialty_id
    )
    session.add(row)
    session.flush()
    for weekday in range(7):
        session.add(
            Availability(
                clinic_id=row.id,
                weekday=weekday,
                start_time=time(8, 0),
                end_time=time(16, 0),
                slot_minutes=minutes,
                mode=mode,
                valid_from=date(2020, 1, 1),
            )
        )
    for user_id in members:
        session.add(ClinicMember(clinic_id=row.id, user_id=user_id))
    session.flush()
    return row


class Network:
    """A fresh region: health post P (CHW, GP, a patient), hospital H with a pulmonology clinic
    and its specialist, hospital N offering nothing, virtual clinic V with a specialist of
    hospital N contracted; and health post Q elsewhere."""

    def __init__(self, session: Session) -> None:
        self.region = f.region(session)
        uni = f.university(session, self.region)
        self.post = f.facility(session, uni)
        self.other_post = f.facility(session, uni)
        self.hospital = f.facility(session, uni, FacilityKind.HOSPITAL, 2)
        self.plain = f.facility(session, uni, FacilityKind.HOSPITAL, 2)
        self.virtual = f.facility(session, uni, FacilityKind.VIRTUAL_CLINIC, 2)
        self.chw = f.user(session, Role.CHW, at=self.post)
        self.gp = f.user(session, Role.GP, at=self.post)
        self.other_chw = f.user(session, Role.CHW, at=self.other_post)
        self.specialist = f.user(
            session, Role.SPECIALIST, at=self.hospital, specialty="pulmonology"
        )
        self.colleague = f.user(session, Role.SPECIALIST, at=self.hospital, specialty="pulmonology")
        self.contracted = f.user(session, Role.SPECIALIST, at=self.plain, specialty="pulmonology")
        self.command = f.user(session, Role.COMMAND, region_of=self.region)
        self.patient = f.patient(session, self.post)
        self.patient2 = f.patient(session, self.post)
        consent(session, self.patient.id)
        spec = session.scalar(select(Specialty).where(Specialty.code == "pulmonology"))
        assert spec is not None
        self.specialty_id = spec.id
        self.clinic = clinic(session, self.hospital.id, spec.id, (self.specialist.id,))
        self.vclinic = clinic(session, self.virtual.id, spec.id, (self.contracted.id,))
        self.h = {
            name: bearer(session, who)
            for name, who in (
                ("chw", self.chw),
                ("gp", self.gp),
                ("other_chw", self.other_chw),
                ("specialist", self.specialist),
                ("colleague", self.colleague),
                ("contracted", self.contracted),
                ("command", self.command),
            )
        }
        # Its rows stay readable after the commit without a new read (on SQLite a read would
        # hold the lock the app's requests need to write).
        session.expire_on_commit = False
        session.commit()

    def refer(
        self,
        client: FlaskClient,
        *,
        to: str | None = None,
        patient_id: int | None = None,
        expect: int = 201,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "patient_id": patient_id or self.patient.id,
            "specialty": "pulmonology",
            "to_facility": to or self.hospital.code,
            "reason": "Suspected interstitial lung disease; needs HRCT and review.",
            **extra,
        }
        resp = client.post("/api/v1/referrals", json=body, headers=self.h["chw"])
        assert resp.status_code == expect, resp.get_json()
        return dict(resp.get_json())


def log_in(app: Flask, username: str) -> FlaskClient:
    """A test client with the user's session cookie, through the real login form."""
    client = app.test_client()
    match = FORM_CSRF.search(client.get("/login").get_data(as_text=True))
    assert match, "no CSRF token on the login form"
    resp = client.post(
        "/login", data={"csrf_token": match.group(1), "username": username, "password": f.PASSWORD}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client
