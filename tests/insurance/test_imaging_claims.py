"""A signed imaging report is billed: a reading per modality and the report (SQLite, PostgreSQL)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.models import Role
from hub.pki import ca
from insurance.models import Claim, ClaimStatus
from tests.consult.support import bearer
from tests.imaging.support import ingest
from tests.insurance.support import insurer_with_contract, join
from tests.insurance.test_exports import pull
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import clinician, pki

__all__ = ["pki"]
BODY = {"findings": "Consolidation in the right lower lobe.", "impression": "Pneumonia."}


def test_signed_report_is_billed_once(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    ins = insurer_with_contract(
        app, client, session, coverages=(("image_reading:*", 8000, 0, None),)
    )
    patient = f.patient(session, world.facility_a)
    join(session, patient.id, ins.insurer_id)
    radiologist = clinician(session, Role.RADIOLOGIST, at=world.facility_a)
    headers = bearer(session, radiologist)
    session.commit()
    study = ingest(app, world.facility_a, patient.national_id, images=1)
    url = f"/api/v1/studies/{study.study_uid}/report"
    assert client.put(url, json=BODY, headers=headers).status_code == 200
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(select(Claim.id).where(Claim.patient_id == patient.id)) is None
    signed = client.post(f"{url}/sign", headers=headers)
    assert signed.status_code == 201, signed.get_json()
    with app.app_context(), db.transaction() as sess:
        (claim,) = sess.scalars(select(Claim).where(Claim.patient_id == patient.id)).all()
        assert claim.service_type == "imaging_report" and claim.consult_id is None
        assert claim.status is ClaimStatus.READY
        assert claim.facility_id == world.facility_a.id  # the reading facility bills
        assert [(ln["component"], ln["amount_minor"], ln["basic_minor"]) for ln in claim.lines] == [
            ("image_reading:ct", 3_000_000, 2_400_000),
            ("report", 400_000, 0),  # the contract covers readings only
        ]
        assert claim.document_public_id == signed.get_json()["id"]
    _, rows, _ = pull(client, ins, "jsonl")
    assert [r["service_type"] for r in rows] == ["imaging_report"]
