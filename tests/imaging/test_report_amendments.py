"""Amending a signed imaging report, and its FHIR DiagnosticReport, on SQLite and PostgreSQL: the
amendment is a new signed version, the signed original stays byte for byte and is shown as
superseded; the refusals leave nothing behind."""

from __future__ import annotations

import base64
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import SignedDocument
from hub.pki import ca
from imaging.models import ImagingReport
from tests.imaging.test_reports import BODY, _case
from tests.support.personas import World
from tests.support.pki import pdfsig, pdftotext, pki

__all__ = ["pki"]
AMENDED = "Right lower lobe pneumonia with a small parapneumonic effusion."


def _count(session: Session, model: type, *where: object) -> int:
    session.rollback()
    n = session.scalar(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]
    session.rollback()  # release SQLite's read snapshot before the next request writes
    return int(n or 0)


def test_amendment_is_a_new_signed_version_and_the_original_is_kept(
    app: Flask,
    client: FlaskClient,
    session: Session,
    world: World,
    pki: ca.Authority,
    tmp_path: Path,
) -> None:
    case = _case(app, session, world)
    documents = _count(session, SignedDocument)
    assert client.put(case.url, json=BODY, headers=case.radiologist).status_code == 200
    assert client.post(f"{case.url}/sign", headers=case.radiologist).status_code == 201
    original = client.get(f"{case.url}.pdf", headers=case.receiver).data

    started = client.post(
        f"{case.url}/amend",
        json={"reason": "Effusion missed on first read.", "impression": AMENDED},
        headers=case.radiologist,
    )
    assert started.status_code == 201, started.get_json()
    draft = started.get_json()
    assert draft["version"] == 2 and draft["status"] == "draft"
    assert draft["impression"] == AMENDED and draft["findings"] == BODY["findings"]
    assert [(v["version"], v["state"]) for v in draft["versions"]] == [(1, "signed"), (2, "draft")]
    # While the amendment is a draft, the signed version is what a reader gets.
    assert client.get(f"{case.url}.pdf", headers=case.receiver).headers["X-Document-Status"] == (
        "draft"
    )
    assert client.get(f"{case.url}/versions/1.pdf", headers=case.receiver).data == original
    fhir = client.get(f"{case.url}/fhir", headers=case.receiver)
    assert fhir.status_code == 200 and fhir.mimetype == "application/fhir+json"
    assert fhir.get_json()["status"] == "final"
    assert fhir.get_json()["conclusion"] == BODY["impression"]

    # A second amendment cannot start while one is open.
    again = client.post(f"{case.url}/amend", json={"reason": "x"}, headers=case.radiologist)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "draft_open"
    # The draft amendment is written like any draft, then signed.
    changed = client.put(
        case.url, json={**BODY, "impression": AMENDED, "critical": False}, headers=case.radiologist
    )
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    signed = client.post(f"{case.url}/sign", headers=case.radiologist)
    assert signed.status_code == 201, signed.get_json()
    assert signed.get_json()["kind"] == "imaging_report_amendment"

    seen = client.get(case.url, headers=case.receiver).get_json()
    assert seen["version"] == 2 and seen["status"] == "signed"
    assert seen["amendment_reason"] == "Effusion missed on first read."
    states = [(v["version"], v["state"]) for v in seen["versions"]]
    assert states == [(1, "superseded"), (2, "signed")]
    assert all(v["document_id"] for v in seen["versions"])
    # The original is untouched, byte for byte, and still verifies.
    assert client.get(f"{case.url}/versions/1.pdf", headers=case.receiver).data == original
    path = tmp_path / "amended.pdf"
    path.write_bytes(client.get(f"{case.url}.pdf", headers=case.receiver).data)
    assert pdfsig(str(path)).count("Signature is Valid") == 1
    text = pdftotext(str(path))
    assert "Effusion missed on first read" in text and "parapneumonic effusion" in text
    # The package for a CD and the FHIR export carry the newest signed version.
    resource = client.get(f"{case.url}/fhir", headers=case.receiver).get_json()
    assert resource["status"] == "amended" and resource["conclusion"] == AMENDED
    pdf = base64.b64decode(resource["presentedForm"][0]["data"])
    assert pdf == path.read_bytes()
    # The sending facility receives the amendment as it received the original.
    received = client.post(f"{case.url}/countersign", headers=case.receiver)
    assert received.status_code == 200 and received.get_json()["kind"] == (
        "imaging_report_amendment"
    )
    assert _count(session, SignedDocument) == documents + 2


def test_amendment_refusals_leave_nothing(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    case = _case(app, session, world)
    before = _count(session, ImagingReport)
    no_report = client.post(f"{case.url}/amend", json={"reason": "r"}, headers=case.radiologist)
    assert no_report.status_code == 409 and no_report.get_json()["error"]["code"] == "no_report"
    assert client.put(case.url, json=BODY, headers=case.radiologist).status_code == 200
    unsigned = client.post(f"{case.url}/amend", json={"reason": "r"}, headers=case.radiologist)
    assert unsigned.status_code == 409 and unsigned.get_json()["error"]["code"] == "draft_open"
    assert client.post(f"{case.url}/sign", headers=case.radiologist).status_code == 201
    # Editing the signed report points at the amendment.
    frozen = client.put(case.url, json=BODY, headers=case.radiologist)
    assert frozen.status_code == 409
    assert frozen.get_json()["error"]["details"]["amend"] == f"{case.url}/amend"
    for body in ({}, {"reason": ""}, {"reason": "r", "extra": 1}, {"reason": "r", "findings": ""}):
        resp = client.post(f"{case.url}/amend", json=body, headers=case.radiologist)
        assert resp.status_code == 422, body
    assert (
        client.post(f"{case.url}/amend", json={"reason": "r"}, headers=case.receiver).status_code
        == 403
    )
    assert client.post(
        f"{case.url}/amend", json={"reason": "r"}, headers=case.outsider
    ).status_code in (
        403,
        404,
    )
    assert client.get(f"{case.url}/versions/7.pdf", headers=case.receiver).status_code == 404
    assert client.get(f"{case.url}/fhir", headers=case.outsider).status_code == 404
    assert _count(session, ImagingReport) == before + 1
