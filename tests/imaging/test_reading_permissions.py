"""Permission matrix of the reading API: reading requests, worklist, claim, critical results,
the facility's contact list for them (the rows for these routes; see
tests/hub/test_permission_matrix.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub import db
from hub.models import Role, User
from imaging.reading.cli import set_site, set_technician
from imaging.reading.models import CriticalContact
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

# The sending facility's staff (facility A) and national administrators.
FACILITY_A = frozenset({"hw_a", "gp_a", "admin_a"})
NO_PERSONA = frozenset[str]()  # only radiologists (none among the personas) may
KEEPERS_A = frozenset({"admin_a", "national"})  # who keeps facility A's contact list


@dataclass(frozen=True)
class Probe:
    study_uid: str
    request_id: int
    result_id: int
    contact_id: int = 0  # one of facility A's critical-result contacts


def rules(p: Probe) -> list[Rule]:
    request = f"/api/v1/reading-requests/{p.request_id}"
    result = f"/api/v1/critical-results/{p.result_id}"
    return [
        # The probe study already has an open request: its facility gets 409, not a refusal.
        Rule(
            "POST",
            "/api/v1/reading-requests",
            lambda w: "/api/v1/reading-requests",
            FACILITY_A,
            lambda w: {
                "study_instance_uid": p.study_uid,
                "urgency": "routine",
                "clinical_question": "Matrix",
            },
        ),
        Rule(
            "GET",
            "/api/v1/reading-requests/{request_id}",
            lambda w: request,
            FACILITY_A | {"national"},
        ),
        Rule("GET", "/api/v1/reading-worklist", lambda w: "/api/v1/reading-worklist", NO_PERSONA),
        Rule(
            "POST",
            "/api/v1/reading-requests/{request_id}/claim",
            lambda w: f"{request}/claim",
            NO_PERSONA,
        ),
        Rule(
            "POST",
            "/api/v1/reading-requests/{request_id}/critical-results",
            lambda w: f"{request}/critical-results",
            NO_PERSONA,
            lambda w: {"category": 1, "finding": "Matrix"},
        ),
        Rule(
            "GET",
            "/api/v1/critical-results/{result_id}",
            lambda w: result,
            FACILITY_A | {"national"},
        ),
        # The first of the facility's staff acknowledges; the others get 409, not a refusal.
        Rule(
            "POST",
            "/api/v1/critical-results/{result_id}/acknowledge",
            lambda w: f"{result}/acknowledge",
            FACILITY_A,
            lambda w: {"method": "phone", "read_back": "Matrix"},
        ),
        # The facility's contact list: its administrators and national administrators.
        Rule(
            "GET",
            "/api/v1/facilities/{code}/critical-contacts",
            lambda w: f"/api/v1/facilities/{w.facility_a.code}/critical-contacts",
            KEEPERS_A,
        ),
        # The first keeper adds the address; the second gets 409, which is not a refusal.
        Rule(
            "POST",
            "/api/v1/facilities/{code}/critical-contacts",
            lambda w: f"/api/v1/facilities/{w.facility_a.code}/critical-contacts",
            KEEPERS_A,
            lambda w: {"name": "Matrix ward", "email": "matrix-ward@example.org"},
        ),
        # The first keeper removes the probe's contact; for the second it is gone.
        Rule(
            "DELETE",
            "/api/v1/facilities/{code}/critical-contacts/{contact_id}",
            lambda w: f"/api/v1/facilities/{w.facility_a.code}/critical-contacts/{p.contact_id}",
            KEEPERS_A,
            expect=(("national", 404),),
        ),
    ]


@pytest.fixture(scope="session")
def reading_probe(app: Flask, world: World) -> Probe:
    with app.app_context(), db.transaction() as sess:
        set_site(sess, world.facility_a.id, True)
        set_technician(sess, world.facility_a.id, "Matrix Technician", True)
        patient = f.patient(sess, world.facility_a)
        national_id = patient.national_id
        keeper = sess.get_one(User, world["admin_a"].user_id)
        contact = CriticalContact(
            facility_id=world.facility_a.id,
            name="Matrix probe",
            email="matrix-probe@example.org",
            added_by_id=keeper.id,
        )
        sess.add(contact)
        sess.flush()
        contact_id = contact.id
        radiologist = f.user(sess, Role.RADIOLOGIST, at=world.hospital_x)
        reader = {"Authorization": f"Bearer {f.personal_token(sess, radiologist)}"}
    study = ingest(app, world.facility_a, national_id, images=1)
    with app.test_client() as client:
        sent = client.post(
            "/api/v1/reading-requests",
            json={
                "study_instance_uid": study.study_uid,
                "urgency": "routine",
                "clinical_question": "Matrix",
                "technician": "Matrix Technician",
            },
            headers=world["hw_a"].headers,
        )
        assert sent.status_code == 201, sent.get_json()
        request_id = sent.get_json()["id"]
        url = f"/api/v1/reading-requests/{request_id}"
        assert client.post(f"{url}/claim", headers=reader).status_code == 200
        raised = client.post(
            f"{url}/critical-results", json={"category": 3, "finding": "Matrix"}, headers=reader
        )
        assert raised.status_code == 201, raised.get_json()
    return Probe(study.study_uid, request_id, raised.get_json()["id"], contact_id)


def test_reading_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, reading_probe: Probe
) -> None:
    assert run_matrix(app, client, world, rules(reading_probe)) == []
