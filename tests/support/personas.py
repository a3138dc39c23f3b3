"""Role personas for permission checks: two regions, facilities in each, one person per role."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.models import Facility, FacilityKind, Insurer, MacroRegion, Patient, Role
from tests.support import factories as f


@dataclass
class Persona:
    name: str
    token: str
    role: Role | None
    user_id: int | None = None  # None for machine clients (insurers)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """Region X holds facilities A and B (two universities) and a hospital; region Y holds C."""

    region_x: MacroRegion
    region_y: MacroRegion
    facility_a: Facility
    facility_b: Facility
    facility_c: Facility
    hospital_x: Facility
    insurer_a: Insurer
    insurer_b: Insurer
    patient_a: Patient  # home A, member of insurer A
    patient_b: Patient  # home B, member of insurer B
    patient_c: Patient  # home C (region Y), no insurer
    personas: dict[str, Persona] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Persona:
        return self.personas[name]


def _oauth_token(client: FlaskClient, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return str(resp.get_json()["access_token"])


def build_world(app: Flask, session: Session) -> World:
    region_x, region_y = f.region(session), f.region(session)
    uni_x1, uni_x2, uni_y = (
        f.university(session, region_x),
        f.university(session, region_x),
        f.university(session, region_y),
    )
    facility_a, facility_b = f.facility(session, uni_x1), f.facility(session, uni_x2)
    facility_c = f.facility(session, uni_y)
    hospital_x = f.facility(session, uni_x1, FacilityKind.HOSPITAL, 2)
    insurer_a, insurer_b = f.insurer(session), f.insurer(session)
    world = World(
        region_x=region_x,
        region_y=region_y,
        facility_a=facility_a,
        facility_b=facility_b,
        facility_c=facility_c,
        hospital_x=hospital_x,
        insurer_a=insurer_a,
        insurer_b=insurer_b,
        patient_a=f.patient(session, facility_a, member_of=insurer_a),
        patient_b=f.patient(session, facility_b, member_of=insurer_b),
        patient_c=f.patient(session, facility_c),
    )
    people = {
        "hw_a": f.user(session, Role.CHW, at=facility_a),
        "hw_b": f.user(session, Role.CHW, at=facility_b),
        "gp_a": f.user(session, Role.GP, at=facility_a),
        "specialist": f.user(session, Role.SPECIALIST, at=hospital_x, specialty="pulmonology"),
        "command_x": f.user(session, Role.COMMAND, region_of=region_x),
        "command_y": f.user(session, Role.COMMAND, region_of=region_y),
        "admin_a": f.user(session, Role.FACILITY_ADMIN, at=facility_a),
        "national": f.user(session, Role.NATIONAL_ADMIN),
    }
    for name, person in people.items():
        world.personas[name] = Persona(
            name, f.personal_token(session, person), next(iter(person.role_set)), person.id
        )
    clients = {
        "insurer_a": f.insurer_client(session, insurer_a),
        "insurer_b": f.insurer_client(session, insurer_b),
    }
    session.commit()
    with app.test_client() as client:
        for name, (client_id, secret) in clients.items():
            world.personas[name] = Persona(
                name, _oauth_token(client, client_id, secret), Role.INSURER
            )
    return world
