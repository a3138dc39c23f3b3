"""A consult outcome that refers becomes a referral when its referral letter is signed (the
``document_signed`` seam), to the signing specialist's facility when it offers the specialty."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Specialty
from hub.pki import ca
from referral.models import Referral, ReferralStatus
from tests.referral.support import clinic
from tests.support.pki import OUTCOME_BODY, answered_consult, pki

__all__ = ["pki"]  # the fixture, imported so pytest finds it


def test_signed_referral_letter_becomes_a_referral(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    case = answered_consult(app, client, session, outcome={**OUTCOME_BODY, "disposition": "refer"})
    spec = session.scalar(select(Specialty).where(Specialty.code == "pulmonology"))
    assert spec is not None
    clinic(session, case.site.l2.id, spec.id, (case.specialist.id,))
    session.commit()
    patient_id, l2, post = case.site.patient.id, case.site.l2.code, case.site.post.code
    base = f"/api/v1/consults/{case.consult_id}"
    # Signing the outcome alone refers nobody: the letter is the referral's document.
    assert client.post(f"{base}/sign", headers=case.specialist_headers).status_code == 201
    assert session.scalar(select(Referral.id).where(Referral.consult_id == case.consult_id)) is None
    session.rollback()  # SQLite: let the next request write
    letter = client.post(f"{base}/referral/sign", headers=case.specialist_headers)
    assert letter.status_code == 201, letter.get_json()
    listed = client.get(
        f"/api/v1/referrals?patient_id={patient_id}", headers=case.requester_headers
    ).get_json()["items"]
    assert len(listed) == 1
    ref = listed[0]
    assert ref["status"] == ReferralStatus.CREATED.value
    assert ref["consult_id"] == case.consult_id
    assert ref["letter_document_id"] == letter.get_json()["id"]
    assert ref["to_facility"] == l2 and ref["from_facility"] == post
    # The receiving specialist sees it among the incoming ones and accepts it.
    incoming = client.get("/api/v1/referrals?side=incoming", headers=case.specialist_headers)
    assert ref["id"] in {r["id"] for r in incoming.get_json()["items"]}
    accepted = client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=case.specialist_headers)
    assert accepted.status_code == 200
    # Referring directly with the consult now points at the live one.
    again = client.post(
        "/api/v1/referrals",
        json={
            "patient_id": patient_id,
            "specialty": "pulmonology",
            "to_facility": l2,
            "reason": "Again",
            "consult_id": case.consult_id,
        },
        headers=case.requester_headers,
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["details"]["referral_id"] == ref["id"]
