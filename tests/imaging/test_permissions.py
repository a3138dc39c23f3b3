"""Permission matrix of the imaging API (the rows for its routes; see tests/hub)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import Patient, Role
from tests.imaging.support import ingest
from tests.imaging.test_consults import consult_of_new_patient
from tests.support import factories as f
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

# Everyone whose role carries imaging:read (insurers do not).
READERS = frozenset(
    {"hw_a", "hw_b", "gp_a", "specialist", "command_x", "command_y", "admin_a", "national"}
)
# Who sees a study of a facility-A patient with a consult offered to the specialist.
SEE = frozenset({"hw_a", "gp_a", "specialist", "command_x", "admin_a", "national"})
# Who may mint or revoke its links: its facility and national admins. A specialist with an open
# offer sees the study but does not hand it out (only a consult's assigned specialist would).
SHARE = frozenset({"hw_a", "gp_a", "admin_a", "national"})
ADMINS = frozenset({"admin_a", "national"})
# Roles with imaging:write (health workers, GPs, facility admins, national admins).
UPLOADERS = frozenset({"hw_a", "hw_b", "gp_a", "admin_a", "national"})
ATTACH = frozenset({"hw_a", "gp_a", "specialist", "national"})


@dataclass(frozen=True)
class Probe:
    study_uid: str
    patient_id: int
    link_id: int
    consult_id: int = 0
    national_id: str = ""


def rules(p: Probe) -> list[Rule]:
    study = f"/api/v1/studies/{p.study_uid}"
    report = f"{study}/report"
    return [
        Rule("GET", "/api/v1/studies", lambda w: "/api/v1/studies", READERS),
        Rule("GET", "/api/v1/studies/{study_instance_uid}", lambda w: study, SEE),
        Rule(
            "POST",
            "/api/v1/studies/{study_instance_uid}/links",
            lambda w: f"{study}/links",
            SHARE,
            lambda w: {"ttl_hours": 1},
        ),
        Rule("GET", "/api/v1/studies/{study_instance_uid}/links", lambda w: f"{study}/links", SEE),
        # The first allowed persona revokes it; the rest get 409, which is not a refusal.
        Rule(
            "POST",
            "/api/v1/studies/{study_instance_uid}/links/{link_id}/revoke",
            lambda w: f"{study}/links/{p.link_id}/revoke",
            SHARE,
        ),
        Rule(
            "PUT",
            "/api/v1/studies/{study_instance_uid}/legal-hold",
            lambda w: f"{study}/legal-hold",
            ADMINS,
            lambda w: {"hold": False},
        ),
        Rule(
            "PUT",
            "/api/v1/studies/{study_instance_uid}/patient",
            lambda w: f"{study}/patient",
            ADMINS,
            lambda w: {"patient_id": p.patient_id},
        ),
        # The consult's specialist sees its patient's studies; command staff cannot write.
        Rule(
            "POST",
            "/api/v1/studies/{study_instance_uid}/consults",
            lambda w: f"{study}/consults",
            ATTACH,
            lambda w: {"consult_id": p.consult_id},
        ),
        Rule(
            "GET",
            "/api/v1/consults/{consult_id}/studies",
            lambda w: f"/api/v1/consults/{p.consult_id}/studies",
            frozenset({"hw_a", "gp_a", "specialist", "command_x", "admin_a", "national"}),
        ),
        Rule(
            "GET", "/api/v1/studies/{study_instance_uid}/package", lambda w: f"{study}/package", SEE
        ),
        # Without a central archive (this app) the answer is empty, but still filtered.
        Rule(
            "GET",
            "/api/v1/studies/priors",
            lambda w: f"/api/v1/studies/priors?patient_national_id={p.national_id}",
            READERS,
        ),
        # The probe study has a draft report by a radiologist outside the world's personas, who
        # alone may change or sign it; its facility's health workers receive it (409 here: it
        # is not signed yet, which is not a refusal).
        Rule("GET", "/api/v1/studies/{study_instance_uid}/report", lambda w: report, SEE),
        Rule(
            "PUT",
            "/api/v1/studies/{study_instance_uid}/report",
            lambda w: report,
            frozenset(),
            lambda w: {"findings": "Matrix", "impression": "Matrix"},
        ),
        Rule(
            "GET", "/api/v1/studies/{study_instance_uid}/report.pdf", lambda w: f"{report}.pdf", SEE
        ),
        Rule(
            "POST",
            "/api/v1/studies/{study_instance_uid}/report/sign",
            lambda w: f"{report}/sign",
            frozenset(),
        ),
        Rule(
            "POST",
            "/api/v1/studies/{study_instance_uid}/report/countersign",
            lambda w: f"{report}/countersign",
            frozenset({"hw_a", "gp_a"}),
        ),
        # Only radiologists amend (none among the personas); a draft cannot be amended (409).
        Rule(
            "POST",
            "/api/v1/studies/{study_instance_uid}/report/amend",
            lambda w: f"{report}/amend",
            frozenset(),
            lambda w: {"reason": "Matrix"},
        ),
        Rule(
            "GET",
            "/api/v1/studies/{study_instance_uid}/report/versions/{version}.pdf",
            lambda w: f"{report}/versions/1.pdf",
            SEE,
        ),
        Rule(
            "GET",
            "/api/v1/studies/{study_instance_uid}/report/fhir",
            lambda w: f"{report}/fhir",
            SEE,
        ),
        # Without a central archive (this app) permitted callers get 409, others refusals.
        Rule(
            "POST",
            "/api/v1/studies/priors/retrieve",
            lambda w: "/api/v1/studies/priors/retrieve",
            READERS,
            lambda w: {"study_instance_uid": "1.2.3", "patient_national_id": p.national_id},
        ),
        # A JSON body is no upload: permitted callers get 422 (no file), others refusals.
        Rule("POST", "/api/v1/studies/upload", lambda w: "/api/v1/studies/upload", UPLOADERS),
        # Dose: the study's rules for its dose, the patient's (with imaging:read) for theirs.
        Rule("GET", "/api/v1/studies/{study_instance_uid}/dose", lambda w: f"{study}/dose", SEE),
        Rule(
            "GET",
            "/api/v1/studies/{study_instance_uid}/dose/fhir",
            lambda w: f"{study}/dose/fhir",
            SEE,
        ),
        Rule(
            "GET",
            "/api/v1/patients/{patient_id}/dose",
            lambda w: f"/api/v1/patients/{p.patient_id}/dose",
            SEE,
        ),
        Rule(
            "GET",
            "/api/v1/dose/reference-levels",
            lambda w: "/api/v1/dose/reference-levels",
            READERS,
        ),
        # National levels are the national administrators' (the seeded value is kept).
        Rule(
            "PUT",
            "/api/v1/dose/reference-levels",
            lambda w: "/api/v1/dose/reference-levels",
            frozenset({"national"}),
            lambda w: {
                "exam_type": "ct_head",
                "quantity": "ctdivol_mgy",
                "value": 57.0,
                "source": "Kanal KM et al., Radiology 2017 (permission probe)",
            },
        ),
    ]


@pytest.fixture(scope="session")
def probe(app: Flask, world: World) -> Probe:
    with app.test_client() as client:
        consult_id, national_id = consult_of_new_patient(app, client, world)
    with app.app_context(), db.transaction() as sess:
        patient_id = sess.scalar(select(Patient.id).where(Patient.national_id == national_id))
        assert patient_id is not None
    study = ingest(app, world.facility_a, national_id, images=1)
    with app.test_client() as client:
        resp = client.post(
            f"/api/v1/studies/{study.study_uid}/links", json={}, headers=world["national"].headers
        )
        assert resp.status_code == 201
    with app.app_context(), db.transaction() as sess:
        radiologist = f.user(sess, Role.RADIOLOGIST, at=world.facility_a)
        headers = {"Authorization": f"Bearer {f.personal_token(sess, radiologist)}"}
    with app.test_client() as client:
        body = {"findings": "Probe findings", "impression": "Probe impression"}
        wrote = client.put(f"/api/v1/studies/{study.study_uid}/report", json=body, headers=headers)
        assert wrote.status_code == 200, wrote.get_json()
    return Probe(study.study_uid, patient_id, resp.get_json()["id"], consult_id, national_id)


def test_imaging_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, probe: Probe
) -> None:
    assert run_matrix(app, client, world, rules(probe)) == []
