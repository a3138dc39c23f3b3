"""Dose documents indexed with their instances: the study's dose and the patient's cumulative
dose over the API, each irradiation event counted once, refusals that keep the study whole,
permissions and audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom.uid import generate_uid
from sqlalchemy import func, select

from hub import db
from hub.models import AuditEvent, Patient
from imaging.dose.models import DoseReport
from imaging.models import Instance
from tests.imaging import dosedata
from tests.imaging.conftest import Titles
from tests.imaging.dicomdata import ct_instance
from tests.imaging.dosedata import CtEvent
from tests.imaging.peers import Node, dcmtk
from tests.support import factories as f
from tests.support.personas import World

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "rdsr"


def _patient(app: Flask, world: World) -> Patient:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        sess.expunge(patient)
    return patient


def _dose(client: FlaskClient, world: World, study_uid: str, who: str = "hw_a") -> dict:
    resp = client.get(f"/api/v1/studies/{study_uid}/dose", headers=world[who].headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _images(patient_id: str, study_uid: str, count: int = 2) -> list:
    series = generate_uid()
    return [
        ct_instance(patient_id=patient_id, study_uid=study_uid, series_uid=series, number=n, size=8)
        for n in range(1, count + 1)
    ]


def test_corpus_ct_report_through_ingest(app: Flask, client: FlaskClient, world: World) -> None:
    path = CORPUS / "CT-RDSR-Siemens_Flash-TAP-SS.dcm"
    if not path.exists():
        pytest.skip("the public dose SR corpus is not here")
    patient = _patient(app, world)
    study_uid = generate_uid()
    sr = dosedata.from_file(path, study_uid=study_uid, patient_id=patient.national_id)
    outcomes = dosedata.store(
        app, world.facility_a.id, [*_images(patient.national_id, study_uid), sr]
    )
    assert outcomes == ["stored"] * 3
    body = _dose(client, world, study_uid)
    assert body["modality"] == "CT" and body["source"] == "rdsr"
    assert body["totals"]["ct_dlp_mgycm"] == pytest.approx(724.52)
    assert body["totals"]["dap_gym2"] is None and body["totals"]["agd_mgy"] is None
    assert body["totals"]["dose_rp_gy"] is None
    assert len(body["events"]) == 4
    assert [e["ctdivol_mgy"] for e in body["events"]] == pytest.approx([0.14, 1.2, 3.61, 9.91])
    assert body["national_node"]["state"] == "not_configured"  # this app has no node
    assert body["documents"][0]["state"] == "read"
    # Abdomen target regions: an abdomen-pelvis CT, DLP 724.52 x 0.015 mSv/mGy·cm.
    assert body["exam_type"] == "ct_abdomen_pelvis"
    assert body["effective_dose_msv_estimate"] == pytest.approx(724.52 * 0.015, abs=0.01)


def test_the_same_events_in_two_documents_count_once(
    app: Flask, client: FlaskClient, world: World
) -> None:
    patient = _patient(app, world)
    study_uid = generate_uid()
    uids = [generate_uid(), generate_uid()]
    first = dosedata.ct_rdsr(
        [CtEvent(10.0, 300.0, uid=uids[0]), CtEvent(12.0, 400.0, uid=uids[1])],
        study_uid=study_uid,
        patient_id=patient.national_id,
    )
    # A dose-management system's report of the same study: one event again, one new.
    second = dosedata.ct_rdsr(
        [CtEvent(12.0, 400.0, uid=uids[1]), CtEvent(5.0, 50.0)],
        study_uid=study_uid,
        patient_id=patient.national_id,
    )
    again = dosedata.ct_rdsr(
        [CtEvent(10.0, 300.0, uid=uids[0])],
        study_uid=study_uid,
        patient_id=patient.national_id,
        sop_uid=str(first.SOPInstanceUID),
    )
    outcomes = dosedata.store(app, world.facility_a.id, [first, second, again])
    assert outcomes == ["stored", "stored", "duplicate"]
    body = _dose(client, world, study_uid)
    assert len(body["events"]) == 3
    assert body["totals"]["ct_dlp_mgycm"] == pytest.approx(750.0)
    assert [d["duplicate_events"] for d in body["documents"]] == [0, 1]


def test_a_malformed_report_is_refused_and_the_study_kept(
    app: Flask, client: FlaskClient, world: World
) -> None:
    patient = _patient(app, world)
    study_uid = generate_uid()
    broken = dosedata.ct_rdsr(
        [CtEvent(1.0, 1.0)], study_uid=study_uid, patient_id=patient.national_id
    )
    broken.ContentSequence = broken.ContentSequence[:1]  # the procedure only: no dose at all
    images = _images(patient.national_id, study_uid, 3)
    outcomes = dosedata.store(app, world.facility_a.id, [images[0], broken, *images[1:]])
    assert outcomes == ["stored"] * 4
    with app.app_context(), db.transaction() as sess:
        instances = sess.scalar(
            select(func.count(Instance.id)).where(
                Instance.sop_instance_uid.in_(
                    [str(i.SOPInstanceUID) for i in images] + [str(broken.SOPInstanceUID)]
                )
            )
        )
        assert instances == 4
    body = _dose(client, world, study_uid)
    assert body["documents"][0]["state"] == "refused"
    assert body["documents"][0]["reason"] == (
        "the dose report holds neither irradiation events nor totals"
    )
    assert body["events"] == [] and body["totals"]["ct_dlp_mgycm"] is None


def test_an_ordinary_structured_report_is_not_a_dose_document(app: Flask, world: World) -> None:
    patient = _patient(app, world)
    study_uid = generate_uid()
    report = dosedata.ct_rdsr(
        [CtEvent(1.0, 1.0)], study_uid=study_uid, patient_id=patient.national_id
    )
    report.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    report.ConceptNameCodeSequence[0].CodeValue = "18748-4"
    report.ConceptNameCodeSequence[0].CodingSchemeDesignator = "LN"
    assert dosedata.store(app, world.facility_a.id, [report]) == ["stored"]
    with app.app_context(), db.transaction() as sess:
        found = sess.scalar(
            select(DoseReport.id).where(DoseReport.sop_instance_uid == str(report.SOPInstanceUID))
        )
        assert found is None


def test_patient_cumulative_dose_permissions_and_audit(
    app: Flask, client: FlaskClient, world: World
) -> None:
    patient = _patient(app, world)
    for dlp in (300.0, 200.0):
        study_uid = generate_uid()
        dosedata.store(
            app,
            world.facility_a.id,
            [
                dosedata.ct_rdsr(
                    [CtEvent(10.0, dlp, protocol="HEAD ROUTINE", phantom="113690")],
                    study_uid=study_uid,
                    patient_id=patient.national_id,
                )
            ],
        )
    mammo = dosedata.projection_rdsr(
        [(1e-5, "Gy.m2")], dap_total=(1e-5, "Gy.m2"), patient_id=patient.national_id
    )
    dosedata.store(app, world.facility_a.id, [mammo])
    url = f"/api/v1/patients/{patient.id}/dose"
    resp = client.get(url, headers=world["hw_a"].headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["lifetime"]["studies"] == 3
    assert body["lifetime"]["ct_dlp_mgycm"] == pytest.approx(500.0)
    assert body["lifetime"]["dap_gym2"] == pytest.approx(1e-5)
    assert body["lifetime"]["by_modality"] == {"CT": 2, "DX": 1}
    # Head CT: 500 mGy·cm x 0.0021 mSv/mGy·cm.
    assert body["lifetime"]["effective_dose_msv_estimate"] == pytest.approx(1.05)
    assert [s["exam_type"] for s in body["studies"]][:2] == ["ct_head", "ct_head"]
    with app.app_context(), db.transaction() as sess:
        audited = sess.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "imaging:dose:patient_viewed",
                AuditEvent.request_id == resp.headers["X-Request-ID"],
            )
        )
        assert audited is not None and audited.object_id == str(patient.id)
    assert client.get(url, headers=world["hw_b"].headers).status_code == 404
    assert client.get(url, headers=world["insurer_a"].headers).status_code == 403
    assert (
        client.get(
            "/api/v1/patients/2147483000/dose", headers=world["national"].headers
        ).status_code
        == 404
    )


def test_study_dose_is_hidden_from_other_facilities(
    app: Flask, client: FlaskClient, world: World
) -> None:
    patient = _patient(app, world)
    study_uid = generate_uid()
    dosedata.store(
        app,
        world.facility_a.id,
        [
            dosedata.ct_rdsr(
                [CtEvent(90.0, 900.0)], study_uid=study_uid, patient_id=patient.national_id
            )
        ],
    )
    assert (
        client.get(f"/api/v1/studies/{study_uid}/dose", headers=world["hw_b"].headers).status_code
        == 404
    )
    body = _dose(client, world, study_uid)
    # CTDIvol 90 mGy in the body phantom: above the 80 mGy alert; an abdomen CT (its protocol)
    # above both seeded levels (16 mGy, 781 mGy·cm) at the default factor of 100 %.
    assert [(fl["kind"], fl["quantity"], fl["limit"]) for fl in body["flags"]] == [
        ("ctdivol_alert", "ctdivol_mgy", 80.0),
        ("drl", "ctdivol_mgy", 16.0),
        ("drl", "dlp_mgycm", 781.0),
    ]
    assert body["exam_type"] == "ct_abdomen_pelvis"
    assert (
        client.get("/api/v1/studies/1.2.3/dose", headers=world["hw_a"].headers).status_code == 404
    )
    assert client.get("/api/v1/studies/x!/dose", headers=world["hw_a"].headers).status_code == 404


# File: (modality, totals, irradiation events), as read off the files with dsrdump.
CORPUS_EXPECTED = {
    "CT-RDSR-Siemens_Flash-TAP-SS.dcm": ("CT", {"ct_dlp_mgycm": 724.52}, 4),
    "CT-RDSR-GEPixelMed.dcm": ("CT", {"ct_dlp_mgycm": 586.34}, 2),
    "CT-ESR-GE_VCT.dcm": ("CT", {"ct_dlp_mgycm": 2002.39}, 27),
    "DX-RDSR-Canon_CXDI.dcm": ("DX", {"dap_gym2": 1.07e-05}, 1),
    "MG-RDSR-Hologic_2D.dcm": ("MG", {"agd_mgy": 2.58}, 2),
    "RF-ESR-Siemens-Varic.dcm": ("RF", {"dap_gym2": 2.359e-05}, 0),
}


def test_every_corpus_report_by_c_store_to_the_node(
    app: Flask, client: FlaskClient, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    if not CORPUS.exists():
        pytest.skip("the public dose SR corpus is not here")
    patient = _patient(app, world)
    studies = {}
    for name in CORPUS_EXPECTED:
        study_uid = generate_uid()
        ds = dosedata.from_file(CORPUS / name, study_uid=study_uid, patient_id=patient.national_id)
        path = tmp_path / name
        ds.save_as(path, enforce_file_format=True)
        result = dcmtk(
            "storescu", "-aet", titles.a, "-aec", "HUB", "127.0.0.1", str(node.port), str(path)
        )
        assert result.returncode == 0, result.stdout + result.stderr
        studies[name] = study_uid
    for name, (modality, totals, events) in CORPUS_EXPECTED.items():
        body = _dose(client, world, studies[name])
        assert body["modality"] == modality, name
        assert len(body["events"]) == events, name
        for key in ("ct_dlp_mgycm", "dap_gym2", "agd_mgy", "dose_rp_gy"):
            if key in totals:
                assert body["totals"][key] == pytest.approx(totals[key]), (name, key)
            else:
                assert body["totals"][key] is None, (name, key)
    history = client.get(f"/api/v1/patients/{patient.id}/dose", headers=world["hw_a"].headers)
    assert history.get_json()["lifetime"]["ct_dlp_mgycm"] == pytest.approx(
        724.52 + 586.34 + 2002.39
    )


def test_image_headers_when_no_dose_report_came(
    app: Flask, client: FlaskClient, world: World
) -> None:
    patient = _patient(app, world)
    study_uid = generate_uid()
    images = _images(patient.national_id, study_uid, 3)
    for image, ctdivol in zip(images, (12.5, 14.0, 13.0), strict=True):
        image.CTDIvol = ctdivol
    dosedata.store(app, world.facility_a.id, images)
    body = _dose(client, world, study_uid)
    assert body["source"] == "image_headers" and body["modality"] == "CT"
    assert body["documents"] == [] and body["events"] == []
    assert body["totals"]["ct_dlp_mgycm"] is None  # image headers carry no DLP
    # The series' highest CTDIvol (14 mGy) is no 80 mGy alert, but above the chest CT level
    # (the study is described as a chest CT), 12 mGy.
    assert [(f["kind"], f["quantity"], f["value"], f["limit"]) for f in body["flags"]] == [
        ("drl", "ctdivol_mgy", 14.0, 12.0)
    ]
    assert body["exam_type"] == "ct_chest"
    without = _images(patient.national_id, generate_uid(), 1)
    dosedata.store(app, world.facility_a.id, without)
    assert _dose(client, world, str(without[0].StudyInstanceUID))["source"] == "none"


def test_a_facility_sets_its_local_level_and_exams_are_flagged_against_it(
    app: Flask, client: FlaskClient, world: World
) -> None:
    body = {
        "exam_type": "ct_chest",
        "quantity": "dlp_mgycm",
        "value": 250.0,
        "source": "Facility A audit 2026",
        "local": True,
    }
    assert (
        client.put(
            "/api/v1/dose/reference-levels", json=body, headers=world["hw_a"].headers
        ).status_code
        == 403
    )
    resp = client.put("/api/v1/dose/reference-levels", json=body, headers=world["admin_a"].headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["facility_id"] == world.facility_a.id
    national = {**body, "local": False}
    assert (
        client.put(
            "/api/v1/dose/reference-levels", json=national, headers=world["admin_a"].headers
        ).status_code
        == 403
    )
    bad = {**body, "value": -1}
    assert (
        client.put(
            "/api/v1/dose/reference-levels", json=bad, headers=world["admin_a"].headers
        ).status_code
        == 422
    )
    patient = _patient(app, world)
    study_uid = generate_uid()
    dosedata.store(
        app,
        world.facility_a.id,
        [
            dosedata.ct_rdsr(
                [CtEvent(8.0, 300.0, protocol="CHEST")],
                study_uid=study_uid,
                patient_id=patient.national_id,
            )
        ],
    )
    flags = _dose(client, world, study_uid)["flags"]
    assert [(f["kind"], f["quantity"], f["limit"]) for f in flags] == [
        ("local_drl", "dlp_mgycm", 250.0)
    ]
    levels = client.get("/api/v1/dose/reference-levels", headers=world["admin_a"].headers)
    assert any(
        i["facility_id"] == world.facility_a.id and i["value"] == 250.0
        for i in levels.get_json()["items"]
    )
    others = client.get("/api/v1/dose/reference-levels", headers=world["hw_b"].headers)
    assert all(i["facility_id"] is None for i in others.get_json()["items"])


def test_fhir_radiation_dose_summary(app: Flask, client: FlaskClient, world: World) -> None:
    patient = _patient(app, world)
    study_uid = generate_uid()
    dosedata.store(
        app,
        world.facility_a.id,
        [
            dosedata.ct_rdsr(
                [CtEvent(10.0, 300.0, protocol="HEAD", phantom="113690")],
                study_uid=study_uid,
                patient_id=patient.national_id,
            )
        ],
    )
    resp = client.get(f"/api/v1/studies/{study_uid}/dose/fhir", headers=world["hw_a"].headers)
    assert resp.status_code == 200 and resp.mimetype == "application/fhir+json"
    body = resp.get_json()
    assert body["resourceType"] == "Observation"
    assert body["code"]["coding"][0]["code"] == "73569-6"
    assert body["subject"] == {"reference": f"Patient/{patient.id}"}
    dlp = next(c for c in body["component"] if c["code"]["coding"][0]["code"] == "113813")
    assert dlp["valueQuantity"] == {
        "value": 300.0,
        "unit": "mGy.cm",
        "system": "http://unitsofmeasure.org",
        "code": "mGy.cm",
    }
    estimate = next(c for c in body["component"] if c["code"]["coding"][0]["code"] == "113839")
    assert estimate["valueQuantity"]["value"] == pytest.approx(0.63)  # 300 x 0.0021, an estimate
    hidden = client.get(f"/api/v1/studies/{study_uid}/dose/fhir", headers=world["hw_b"].headers)
    assert hidden.status_code == 404
