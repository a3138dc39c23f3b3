"""The test run's CA (created in the app's temporary data dir) and signing helpers."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.config import Settings
from hub.models import Role, User
from hub.pki import ca
from tests.consult.support import Site, bearer, on_call, submit
from tests.support import factories as f


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.config["HUB_SETTINGS"]
    return settings


@pytest.fixture(scope="session")
def pki(app: Flask) -> ca.Authority:
    """The hub's CA, created once per backend's app (``hub pki init`` does the same)."""
    settings = settings_of(app)
    if ca.is_initialised(settings.pki):
        return ca.load(settings.pki)
    return ca.initialise(settings.pki, settings.base_url, name="Test Hub", country="IR")


def clinician(
    session: Session, role: Role, *, at: Any, specialty: str | None = None, licence: bool = True
) -> User:
    user = f.user(session, role, at=at, specialty=specialty)
    if licence:
        user.licence_number = f.unique("LIC")
    return user


@dataclass
class Answered:
    """A consult answered by its specialist, waiting for signatures."""

    site: Site
    consult_id: int
    specialist: User
    specialist_headers: dict[str, str]
    requester_headers: dict[str, str]


OUTCOME_BODY: dict[str, Any] = {
    "assessment": "Community-acquired pneumonia, CURB-65 score 1.",
    "recommendation": "Amoxicillin for seven days; review in 48 hours or earlier if worse.",
    "disposition": "manage_locally",
    "prescription": [
        {
            "medicine": "Amoxicillin",
            "dose": "1 g",
            "route": "oral",
            "frequency": "three times a day",
            "duration_days": 7,
        }
    ],
    "follow_up_tasks": [{"description": "Check SpO2 and temperature in 48 hours"}],
}


def answered_consult(
    app: Flask,
    client: FlaskClient,
    session: Session,
    *,
    outcome: dict[str, Any] | None = None,
    requester_locale: str | None = None,
    specialist_licence: bool = True,
) -> Answered:
    site = Site(app, session)
    site.chw.licence_number = f.unique("CHW")
    site.chw.locale = requester_locale
    doctor = clinician(
        session, Role.SPECIALIST, at=site.l2, specialty="pulmonology", licence=specialist_licence
    )
    on_call(session, doctor, site.l2)
    headers = bearer(session, doctor)
    session.commit()
    consult = submit(client, site.chw_headers, site.patient.id)
    claim = client.post(f"/api/v1/consults/{consult['id']}/claim", headers=headers)
    assert claim.status_code == 200, claim.get_json()
    answer = client.post(
        f"/api/v1/consults/{consult['id']}/outcome", headers=headers, json=outcome or OUTCOME_BODY
    )
    assert answer.status_code == 201, answer.get_json()
    return Answered(site, consult["id"], doctor, headers, site.chw_headers)


def pdfsig(path: str) -> str:
    done = subprocess.run(["pdfsig", path], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout + done.stderr


def pdftotext(path: str) -> str:
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", path, "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout
