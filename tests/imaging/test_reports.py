"""The radiologist's signed imaging report on SQLite and PostgreSQL: draft, sign, receipt by the
sending facility, verification; and the refusals, each leaving nothing signed."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from pydicom.uid import generate_uid
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Role, SignedDocument
from hub.pki import ca
from tests.consult.support import bearer
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import clinician, pdfsig, pdftotext, pki

__all__ = ["pki"]
BODY = {
    "findings": "Consolidation in the right lower lobe; no pleural effusion.",
    "impression": "Right lower lobe pneumonia.",
    "critical": True,
}


@dataclass
class Case:
    url: str
    radiologist: dict[str, str]
    receiver: dict[str, str]
    other_radiologist: dict[str, str]
    outsider: dict[str, str]


def _case(app: Flask, session: Session, world: World, *, linked: bool = True) -> Case:
    """A study sent by facility A, its radiologist and health worker, and people who are not."""
    patient = f.patient(session, world.facility_a)
    radiologist = clinician(session, Role.RADIOLOGIST, at=world.facility_a)
    radiologist.locale = "fa"
    people = {
        "radiologist": bearer(session, radiologist),
        "receiver": bearer(session, clinician(session, Role.CHW, at=world.facility_a)),
        "other_radiologist": bearer(
            session, clinician(session, Role.RADIOLOGIST, at=world.facility_a)
        ),
        "outsider": bearer(session, clinician(session, Role.CHW, at=world.facility_b)),
    }
    session.commit()
    study = ingest(app, world.facility_a, patient.national_id if linked else "UNKNOWN-ID", images=1)
    return Case(url=f"/api/v1/studies/{study.study_uid}/report", **people)


def _signed_reports(session: Session) -> int:
    session.rollback()
    count = session.scalar(
        select(func.count())
        .select_from(SignedDocument)
        .where(SignedDocument.kind == "imaging_report")
    )
    session.rollback()  # release SQLite's read snapshot before the next request writes
    return int(count or 0)


def test_report_is_written_signed_received_and_verifiable(
    app: Flask,
    client: FlaskClient,
    session: Session,
    world: World,
    pki: ca.Authority,
    tmp_path: Path,
) -> None:
    case = _case(app, session, world)
    assert client.get(case.url, headers=case.receiver).status_code == 404

    first = client.put(case.url, json={**BODY, "critical": False}, headers=case.radiologist)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "draft"
    changed = client.put(case.url, json=BODY, headers=case.radiologist)
    assert changed.get_json()["critical"] is True
    seen = client.get(case.url, headers=case.receiver).get_json()
    assert seen["findings"] == BODY["findings"] and seen["status"] == "draft"
    draft = client.get(f"{case.url}.pdf", headers=case.receiver)
    assert draft.status_code == 200 and draft.headers["X-Document-Status"] == "draft"

    signed = client.post(f"{case.url}/sign", headers=case.radiologist)
    assert signed.status_code == 201, signed.get_json()
    doc = signed.get_json()
    assert doc["kind"] == "imaging_report" and doc["locale"] == "fa"
    assert doc["payload"]["report"] == {**BODY, "version": 1}
    assert doc["payload"]["study"]["modalities"] == ["CT"]
    assert client.get(case.url, headers=case.receiver).get_json()["status"] == "signed"
    # A signed report never changes, and is signed once.
    frozen = client.put(case.url, json=BODY, headers=case.radiologist)
    assert frozen.status_code == 409 and frozen.get_json()["error"]["code"] == "signed"
    again = client.post(f"{case.url}/sign", headers=case.radiologist)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_signed"

    received = client.post(f"{case.url}/countersign", headers=case.receiver)
    assert received.status_code == 200, received.get_json()
    assert received.get_json()["status"] == "countersigned"
    path = tmp_path / "report.pdf"
    path.write_bytes(client.get(f"{case.url}.pdf", headers=case.receiver).data)
    assert pdfsig(str(path)).count("Signature is Valid") == 2
    text = pdftotext(str(path))
    assert "گزارش تصویربرداری" in text and "Right lower lobe pneumonia." in text
    # The CD/download package carries the signed report, byte for byte.
    study_url = case.url.rsplit("/", 1)[0]
    package = client.get(f"{study_url}/package", headers=case.receiver)
    assert package.status_code == 200
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert archive.read("REPORT.PDF") == path.read_bytes()
        assert "DICOMDIR" in archive.namelist()


def test_who_may_write_sign_and_receive(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    case = _case(app, session, world)
    before = _signed_reports(session)
    # Health workers do not write reports; another facility does not even see the study.
    assert client.put(case.url, json=BODY, headers=case.receiver).status_code == 403
    assert client.put(case.url, json=BODY, headers=case.outsider).status_code == 403
    unsigned = client.post(f"{case.url}/sign", headers=case.radiologist)
    assert unsigned.status_code == 409 and unsigned.get_json()["error"]["code"] == "no_report"
    assert client.put(case.url, json=BODY, headers=case.radiologist).status_code == 200
    taken = client.put(case.url, json=BODY, headers=case.other_radiologist)
    assert (
        taken.status_code == 403 and "Another radiologist" in taken.get_json()["error"]["message"]
    )
    not_author = client.post(f"{case.url}/sign", headers=case.other_radiologist)
    assert not_author.status_code == 403
    early = client.post(f"{case.url}/countersign", headers=case.receiver)
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "not_signed"
    assert client.post(f"{case.url}/sign", headers=case.radiologist).status_code == 201
    assert client.post(f"{case.url}/countersign", headers=case.outsider).status_code == 404
    assert client.post(f"{case.url}/countersign", headers=case.other_radiologist).status_code == 403
    assert _signed_reports(session) == before + 1


def test_bad_input_is_refused_without_a_report(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    case = _case(app, session, world, linked=False)
    before = _signed_reports(session)
    for body in ({**BODY, "findings": ""}, {"findings": "x"}, {**BODY, "extra": 1}):
        resp = client.put(case.url, json=body, headers=case.radiologist)
        assert resp.status_code == 422, body
    assert client.get(case.url, headers=case.radiologist).status_code == 404
    # A study not linked to a registered patient cannot carry a signed report.
    assert client.put(case.url, json=BODY, headers=case.radiologist).status_code == 200
    orphan = client.post(f"{case.url}/sign", headers=case.radiologist)
    assert orphan.status_code == 409 and orphan.get_json()["error"]["code"] == "no_patient"
    assert _signed_reports(session) == before
    unknown = f"/api/v1/studies/{generate_uid()}/report"
    assert client.put(unknown, json=BODY, headers=case.radiologist).status_code == 404
    assert (
        client.get("/api/v1/studies/not-a-uid/report", headers=case.radiologist).status_code == 404
    )
