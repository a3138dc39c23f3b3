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


def test_sign_countersign_verify(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority, tmp_path: Path
) -> None:
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
    assert not verify_detached(doc["jws"], canonical_json({**doc["payload"], "x": 1}), pki.root)

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
        revisions = sess.scalars(
            select(DocumentRevision)
            .where(DocumentRevision.document_id == row.id)
            .order_by(DocumentRevision.seq)
        ).all()
        assert [r.seq for r in revisions] == [1, 2]
        assert row.retain_until.year - row.certified_at.year >= 10
        assert sess.get_one(Consult, case.consult_id).status.value == "signed"


def test_persian_document_text_is_extractable(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority, tmp_path: Path
) -> None:
    case = answered_consult(app, client, session, requester_locale="fa")
    resp = client.post(f"/api/v1/consults/{case.consult_id}/sign", headers=case.specialist_headers)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["locale"] == "fa"
    pdf = client.get(
        f"/api/v1/consults/{case.consult_id}/outcome.pdf", headers=case.requester_headers
    ).data
    path = tmp_path / "fa.pdf"
    path.write_bytes(pdf)
    text = pdftotext(str(path))
    for word in ("مشاوره", "بیمار", "کد ملی", "ارزیابی"):
        assert word in text, word
    assert "Amoxicillin" in text  # Latin inside the Persian document survives too
    assert settings_of(app).pki.passphrase is not None


def _issue(app: Flask, username: str, **kwargs: object) -> str:
    from hub.pki import services as pki_services

    with app.app_context(), db.transaction() as sess:
        user = pki_services.find_user(sess, username)
        row = pki_services.issue_for_user(sess, settings_of(app), user, via="cli", **kwargs)  # type: ignore[arg-type]
        return row.serial


def test_revoked_certificate_is_refused(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    from hub.pki import services as pki_services

    case = answered_consult(app, client, session)
    serial = _issue(app, case.specialist.username)
    with app.app_context(), db.transaction() as sess:
        pki_services.revoke(sess, serial, "licence_suspended")
    resp = client.post(f"/api/v1/consults/{case.consult_id}/sign", headers=case.specialist_headers)
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "certificate_revoked"
    assert "revoked" in error["message"] and serial in error["message"]
    consult = client.get(
        f"/api/v1/consults/{case.consult_id}", headers=case.requester_headers
    ).get_json()
    assert consult["status"] == "answered"  # nothing half-done
    crl = client.get("/pki/issuing.crl")
    assert crl.status_code == 200
    from cryptography import x509

    revoked = x509.load_der_x509_crl(crl.data).get_revoked_certificate_by_serial_number(
        int(serial, 16)
    )
    assert revoked is not None
    assert x509.load_der_x509_crl(crl.data).is_signature_valid(pki.issuing.public_key())


def test_expired_certificate_is_refused(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    from datetime import timedelta

    from hub.models import utcnow

    case = answered_consult(app, client, session)
    _issue(
        app,
        case.specialist.username,
        not_before=utcnow() - timedelta(days=800),
        not_after=utcnow() - timedelta(days=1),
    )
    resp = client.post(f"/api/v1/consults/{case.consult_id}/sign", headers=case.specialist_headers)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "certificate_expired"
    assert "expired" in resp.get_json()["error"]["message"]


def test_signature_stays_valid_after_a_later_revocation(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    from hub.pki import services as pki_services

    case = answered_consult(app, client, session)
    doc = client.post(
        f"/api/v1/consults/{case.consult_id}/sign", headers=case.specialist_headers
    ).get_json()
    with app.app_context(), db.transaction() as sess:
        row = pki_services.latest_certificate(sess, case.specialist.id)
        assert row is not None
        pki_services.revoke(sess, row.serial, "superseded")
    body = client.get(f"/verify/{doc['id']}", headers={"Accept": "application/json"}).get_json()
    # Time-stamped before the revocation: still valid, and the page says it was revoked since.
    assert body["status"] == "valid", body
    assert body["signatures"][0]["revoked_at"] is not None


def test_who_may_sign_and_countersign(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    from hub.models import Role
    from tests.consult.support import bearer, on_call
    from tests.support.pki import clinician

    case = answered_consult(app, client, session)
    base = f"/api/v1/consults/{case.consult_id}"
    # Another specialist on call for the same pool was offered the consult and can see it.
    other = clinician(session, Role.SPECIALIST, at=case.site.l2, specialty="pulmonology")
    on_call(session, other, case.site.l2)
    colleague = clinician(session, Role.CHW, at=case.site.post)
    other_headers, colleague_headers = bearer(session, other), bearer(session, colleague)
    session.commit()
    early = client.post(f"{base}/countersign", headers=case.requester_headers)
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "not_signed"
    refused = client.post(f"{base}/sign", headers=other_headers)
    assert refused.status_code in (403, 404)  # 404 when the consult is not even visible
    assert client.post(f"{base}/sign", headers=case.requester_headers).status_code == 403
    assert client.post(f"{base}/sign", headers=case.specialist_headers).status_code == 201
    assert client.post(f"{base}/countersign", headers=colleague_headers).status_code == 403
    assert client.post(f"{base}/countersign", headers=case.specialist_headers).status_code == 403


def test_non_assigned_specialist_gets_403(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    """A specialist whose offer is still open (so may read it) but who did not claim it; once
    the offer ends, the consult is not even visible to them."""
    from consult.models import ConsultOffer, OfferState
    from hub.models import Role
    from tests.consult.support import bearer
    from tests.support.pki import clinician

    case = answered_consult(app, client, session)
    other = clinician(session, Role.SPECIALIST, at=case.site.l2, specialty="pulmonology")
    offer = ConsultOffer(consult_id=case.consult_id, specialist_id=other.id, state=OfferState.OPEN)
    session.add(offer)
    headers = bearer(session, other)
    session.commit()
    resp = client.post(f"/api/v1/consults/{case.consult_id}/sign", headers=headers)
    assert resp.status_code == 403
    assert "assigned specialist" in resp.get_json()["error"]["message"]
    offer.state = OfferState.WITHDRAWN
    session.commit()
    resp = client.post(f"/api/v1/consults/{case.consult_id}/sign", headers=headers)
    assert resp.status_code == 404


def test_prescription_is_signed_and_countersigned(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority, tmp_path: Path
) -> None:
    case = answered_consult(app, client, session, requester_locale="zh")
    base = f"/api/v1/consults/{case.consult_id}"
    signed = client.post(f"{base}/prescription/sign?locale=ru", headers=case.specialist_headers)
    assert signed.status_code == 201, signed.get_json()
    assert signed.get_json()["kind"] == "e_prescription"
    assert signed.get_json()["locale"] == "ru"
    # The prescription does not sign the outcome: the consult is still answered.
    assert client.get(base, headers=case.requester_headers).get_json()["status"] == "answered"
    counter = client.post(f"{base}/prescription/countersign", headers=case.requester_headers)
    assert counter.status_code == 200, counter.get_json()
    pdf = client.get(f"{base}/prescription.pdf", headers=case.requester_headers).data
    path = tmp_path / "rx.pdf"
    path.write_bytes(pdf)
    assert pdfsig(str(path)).count("Signature is Valid") == 2
    assert "Amoxicillin" in pdftotext(str(path))
    listed = client.get(f"{base}/documents", headers=case.requester_headers).get_json()
    assert [d["kind"] for d in listed["items"]] == ["e_prescription"]


def test_referral_letter_is_signed_by_both_sides(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority, tmp_path: Path
) -> None:
    from tests.support.pki import OUTCOME_BODY

    body = {**OUTCOME_BODY, "disposition": "transfer_urgently"}
    case = answered_consult(app, client, session, outcome=body, requester_locale="fa")
    base = f"/api/v1/consults/{case.consult_id}"
    draft = client.get(f"{base}/referral.pdf", headers=case.requester_headers)
    assert draft.status_code == 200 and draft.headers["X-Document-Status"] == "draft"
    signed = client.post(f"{base}/referral/sign", headers=case.specialist_headers)
    assert signed.status_code == 201, signed.get_json()
    letter = signed.get_json()
    assert letter["kind"] == "referral_letter" and letter["locale"] == "fa"
    assert letter["payload"]["referral"]["urgent"] is True
    assert letter["payload"]["referral"]["reason"] == OUTCOME_BODY["assessment"]
    again = client.post(f"{base}/referral/sign", headers=case.specialist_headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_signed"
    counter = client.post(f"{base}/referral/countersign", headers=case.requester_headers)
    assert counter.status_code == 200, counter.get_json()
    path = tmp_path / "referral.pdf"
    path.write_bytes(client.get(f"{base}/referral.pdf", headers=case.requester_headers).data)
    assert pdfsig(str(path)).count("Signature is Valid") == 2
    text = pdftotext(str(path))
    assert "نامه ارجاع" in text and "انتقال فوری" in text
    # The letter does not sign the outcome: the consult is still answered.
    assert client.get(base, headers=case.requester_headers).get_json()["status"] == "answered"


def test_no_referral_letter_without_a_referral(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    case = answered_consult(app, client, session)  # disposition: manage locally
    base = f"/api/v1/consults/{case.consult_id}"
    resp = client.post(f"{base}/referral/sign", headers=case.specialist_headers)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "no_referral"
    missing = client.get(f"{base}/referral.pdf", headers=case.requester_headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "no_referral"


def test_nothing_to_prescribe_and_no_outcome(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    from tests.support.pki import OUTCOME_BODY

    case = answered_consult(app, client, session, outcome={**OUTCOME_BODY, "prescription": []})
    base = f"/api/v1/consults/{case.consult_id}"
    resp = client.post(f"{base}/prescription/sign", headers=case.specialist_headers)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "no_prescription"
    assert client.get(f"{base}/prescription.pdf", headers=case.requester_headers).status_code == 404
    bad = client.get(f"{base}/outcome.pdf?locale=xx", headers=case.requester_headers)
    assert bad.status_code == 422


def test_clinician_without_licence_is_told_why(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    case = answered_consult(app, client, session, specialist_licence=False)
    resp = client.post(f"/api/v1/consults/{case.consult_id}/sign", headers=case.specialist_headers)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "licence_missing"
