"""Signed consult documents on SQLite and PostgreSQL: sign, countersign, verify, bad paths."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import Consult
from hub import db
from hub.documents.jws import verify_detached
from hub.documents.render import canonical_json
from hub.models import DocumentRevision, SignedDocument
from hub.pki import ca
from tests.support.pki import answered_consult, pdfsig, pdftotext, pki, settings_of

__all__ = ["pki"]  # the fixture, imported so pytest finds it


def test_sign_countersign_verify(app: Flask, client: FlaskClient, session: Session,
                                 pki: ca.Authority, tmp_path: Path) -> None:
    case = answered_consult(app, client, session)
    base = f"/api/v1/consults/{case.consult_id}"

    draft = client.get(f"{base}/outcome.pdf", headers=case.requester_headers)
    assert draft.status_code == 200
    assert draft.headers["X-Document-Status"] == "draft"
    assert draft.data.startswith(b"%PDF-")

    signed = client.post(f"{base}/sign", headers=case.specialist_headers)
    assert signed.status_code == 201, signed.get_json()
    doc = signed.get_json()
    assert doc["status"] == "certified" and doc["revisions"] == 1
    assert doc["verify_url"].endswith(f"/verify/{doc['id']}")
    consult = client.get(base, headers=case.requester_headers).get_json()
    assert consult["status"] == "signed"
    assert consult["outcome"]["status"] == "signed"
    assert verify_detached(doc["jws"], canonical_json(doc["payload"]), pki.root)
    assert not verify_detached(doc["jws"], canonical_json({**doc["payload"], "x": 1}),
                               pki.root)

    again = client.post(f"{base}/sign", headers=case.specialist_headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_signed"

    first = client.get(f"{base}/outcome.pdf", headers=case.requester_headers)
    assert first.headers["X-Document-Status"] == "signed"
    assert hashlib.sha256(first.data).hexdigest() == doc["pdf_sha256"]
    one = tmp_path / "certified.pdf"
    one.write_bytes(first.data)
    assert pdfsig(str(one)).count("Signature is Valid") == 1

    counter = client.post(f"{base}/countersign", headers=case.requester_headers)
    assert counter.status_code == 200, counter.get_json()
    assert counter.get_json()["status"] == "countersigned"
    both = client.get(f"{base}/outcome.pdf", headers=case.requester_headers).data
    assert both.startswith(first.data)  # an incremental update: the certified bytes unchanged
    two = tmp_path / "countersigned.pdf"
    two.write_bytes(both)
    assert pdfsig(str(two)).count("Signature is Valid") == 2

    report = client.get(f"/verify/{doc['id']}", headers={"Accept": "application/json"})
    body = report.get_json()
    assert report.status_code == 200 and body["status"] == "valid", body
    assert [s["field"] for s in body["signatures"]] == ["Consultant", "Requester"]
    assert body["signatures"][0]["certifying"] is True
    assert body["signatures"][0]["licence"] == case.specialist.licence_number
    assert all(s["timestamped"] and s["trusted"] for s in body["signatures"])
    assert body["registered"]["status"] == "countersigned"

    twice = client.post(f"{base}/countersign", headers=case.requester_headers)
    assert twice.status_code == 409
    with app.app_context(), db.transaction() as sess:
        row = sess.scalar(select(SignedDocument).where(SignedDocument.public_id == doc["id"]))
        assert row is not None
        revisions = sess.scalars(select(DocumentRevision).where(
            DocumentRevision.document_id == row.id).order_by(DocumentRevision.seq)).all()
        assert [r.seq for r in revisions] == [1, 2]
        assert row.retain_until.year - row.certified_at.year >= 10
        assert sess.get_one(Consult, case.consult_id).status.value == "signed"


def test_persian_document_text_is_extractable(app: Flask, client: FlaskClient,
                                              session: Session, pki: ca.Authority,
                                              tmp_path: Path) -> None:
    case = answered_consult(app, client, session, requester_locale="fa")
    resp = client.post(f"/api/v1/consults/{case.consult_id}/sign",
                       headers=case.specialist_headers)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["locale"] == "fa"
    pdf = client.get(f"/api/v1/consults/{case.consult_id}/outcome.pdf",
                     headers=case.requester_headers).data
    path = tmp_path / "fa.pdf"
    path.write_bytes(pdf)
    text = pdftotext(str(path))
    for word in ("مشاوره", "بیمار", "کد ملی", "ارزیابی"):
        assert word in text, word
    assert "Amoxicillin" in text  # Latin inside the Persian document survives too
    assert settings_of(app).pki.passphrase is not None
