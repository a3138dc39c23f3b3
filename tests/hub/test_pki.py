"""The hub's PKI and document verification: CLI, CRL, TSA, tampering, bad input."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from asn1crypto import algos, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from flask import Flask
from flask.testing import FlaskClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.models import Role, SigningCertificate
from hub.pki import ca
from tests.support import factories as f
from tests.support.apps import make_app
from tests.support.pki import answered_consult, clinician, pdfsig, pki

__all__ = ["pki"]


def test_init_creates_an_encrypted_ca_once(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["pki", "init", "--name", "Init Test Hub"])
    assert first.exit_code == 0, first.output
    assert "SHA-256 fingerprint" in first.output
    directory = tmp_path / "pki"
    for name in (ca.ROOT_KEY, ca.ISSUING_KEY, ca.TSA_KEY):
        data = (directory / name).read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), name
        assert stat.S_IMODE(os.stat(directory / name).st_mode) == 0o600
    root = x509.load_pem_x509_certificate((directory / ca.ROOT_CERT).read_bytes())
    issuing = x509.load_pem_x509_certificate((directory / ca.ISSUING_CERT).read_bytes())
    issuing.verify_directly_issued_by(root)
    again = runner.invoke(args=["pki", "init"])
    assert again.exit_code != 0 and "never overwritten" in again.output
    assert (directory / ca.ROOT_CERT).read_bytes() == root.public_bytes(serialization.Encoding.PEM)


def test_init_refuses_a_name_too_long_for_a_certificate(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path)
    result = app.test_cli_runner().invoke(args=["pki", "init", "--name", "N" * (ca.MAX_NAME + 1)])
    assert result.exit_code == 2 and "--name" in result.output
    assert not (tmp_path / "pki" / ca.ROOT_CERT).exists()


def test_init_needs_a_passphrase(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path, HUB_PKI_PASSPHRASE="")
    result = app.test_cli_runner().invoke(args=["pki", "init"])
    assert result.exit_code != 0 and "HUB_PKI_PASSPHRASE" in result.output
    assert not (tmp_path / "pki" / ca.ROOT_CERT).exists()


def test_demo_creates_its_own_ca_once_and_its_processes_can_open_it(tmp_path: Path) -> None:
    from hub.config import load_settings
    from hub.pki import demo

    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/d.sqlite"}
    settings = load_settings(env)
    assert settings.pki.passphrase is None
    extra = demo.ensure(settings)
    secret = tmp_path / demo.PASSPHRASE_FILE
    assert extra == {"HUB_PKI_PASSPHRASE_FILE": str(secret)}
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    root = (tmp_path / "pki" / ca.ROOT_CERT).read_bytes()
    # What the children load: the passphrase file opens the issuing key.
    authority = ca.load(load_settings({**env, **extra}).pki)
    assert authority.issuing_key().public_key() == authority.issuing.public_key()
    assert "not for clinical use" in authority.root.subject.rfc4514_string()
    # A second start keeps the same CA and hands out the same file.
    assert demo.ensure(settings) == extra
    assert (tmp_path / "pki" / ca.ROOT_CERT).read_bytes() == root


def test_demo_leaves_an_operators_ca_alone(tmp_path: Path) -> None:
    from hub.config import load_settings
    from hub.pki import demo

    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_PKI_PASSPHRASE": "operator-passphrase-1"}
    settings = load_settings(env)
    ca.initialise(settings.pki, settings.base_url, name="Operator CA", country="TR")
    assert demo.ensure(settings) == {}
    # Started later without the passphrase: no generated one replaces the operator's.
    assert demo.ensure(load_settings({"HUB_DATA_DIR": str(tmp_path)})) == {}
    assert not (tmp_path / demo.PASSPHRASE_FILE).exists()
    assert "Operator CA" in ca.load(settings.pki).root.subject.rfc4514_string()


def test_issue_binds_licence_role_facility_and_revoke_publishes(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    site_uni = f.university(session, f.region(session))
    hospital = f.facility(session, site_uni)
    doctor = clinician(
        session, Role.SPECIALIST, at=hospital, specialty="pulmonology", licence=False
    )
    session.commit()
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["pki", "issue", doctor.username])
    assert missing.exit_code != 0 and "licence" in missing.output
    issued = runner.invoke(args=["pki", "issue", doctor.username, "--licence", "MC-98765"])
    assert issued.exit_code == 0, issued.output
    with app.app_context(), db.transaction() as sess:
        row = sess.scalars(
            select(SigningCertificate).where(SigningCertificate.user_id == doctor.id)
        ).one()
        serial, der, key_pem = row.serial, row.certificate_der, row.key_pem
    assert key_pem is not None and key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    cert = x509.load_der_x509_certificate(der)
    cert.verify_directly_issued_by(pki.issuing)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    subject = cert.subject
    assert subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == "MC-98765"
    assert subject.get_attributes_for_oid(x509.NameOID.TITLE)[0].value == "specialist"
    assert (
        subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
        == hospital.code
    )
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value.endswith("/pki/issuing.crl")

    revoked = runner.invoke(args=["pki", "revoke", serial, "--reason", "key_compromise"])
    assert revoked.exit_code == 0, revoked.output
    crl = x509.load_der_x509_crl(client.get("/pki/issuing.crl").data)
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    listing = runner.invoke(args=["pki", "list", doctor.username])
    assert "revoked" in listing.output
    assert runner.invoke(args=["pki", "revoke", "abcdef"]).exit_code != 0
    assert client.get("/pki/root.crt").status_code == 200
    root_crl = x509.load_der_x509_crl(client.get("/pki/root.crl").data)
    assert root_crl.is_signature_valid(pki.root.public_key())


def _signed_pdf(app: Flask, client: FlaskClient, session: Session) -> bytes:
    case = answered_consult(app, client, session)
    base = f"/api/v1/consults/{case.consult_id}"
    assert client.post(f"{base}/sign", headers=case.specialist_headers).status_code == 201
    assert client.post(f"{base}/countersign", headers=case.requester_headers).status_code == 200
    return client.get(f"{base}/outcome.pdf", headers=case.requester_headers).data


def test_verify_pdf_cli_rejects_changed_bytes_and_appended_updates(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority, tmp_path: Path
) -> None:
    pdf = _signed_pdf(app, client, session)
    runner = app.test_cli_runner()

    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    result = runner.invoke(args=["verify-pdf", str(good)])
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output and "Consultant" in result.output

    # One changed byte inside the signed content (a digit of the visible text stream area).
    flipped = bytearray(pdf)
    flipped[len(pdf) // 3] ^= 0x01
    bad = tmp_path / "flipped.pdf"
    bad.write_bytes(bytes(flipped))
    result = runner.invoke(args=["verify-pdf", str(bad)])
    assert result.exit_code == 1, result.output
    assert "INVALID" in result.output
    assert pdfsig(str(bad)).count("Signature is Valid") < 2  # poppler agrees

    # An incremental update appended after the last signature (e.g. a changed title).
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    info = writer.trailer["/Info"]  # WeasyPrint always writes a document information dict
    info[generic.NameObject("/Title")] = generic.TextStringObject("Changed after signing")
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    appended = tmp_path / "appended.pdf"
    appended.write_bytes(out.getvalue())
    result = runner.invoke(args=["verify-pdf", str(appended)])
    assert result.exit_code == 1, result.output
    assert "after the last signature" in result.output or "modified" in result.output

    # Raw bytes appended after %%EOF are a change too.
    tail = tmp_path / "tail.pdf"
    tail.write_bytes(pdf + b"\n% extra\n")
    assert runner.invoke(args=["verify-pdf", str(tail)]).exit_code == 1


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"hello, not a pdf", "not_signed"),
        (b"%PDF-1.7\n% truncated garbage\n", "invalid"),
    ],
)
def test_bad_files_are_a_result_not_an_error(
    app: Flask, client: FlaskClient, content: bytes, status: str, tmp_path: Path
) -> None:
    resp = client.post(
        "/verify",
        data={"file": (io.BytesIO(content), "x.pdf")},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200
    assert resp.get_json()["status"] in (status, "not_signed")
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["verify-pdf", str(path)])
    # Exit 1 (invalid) or 2 (not signed) with a reason; never a traceback.
    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unsigned_pdf_is_not_signed(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority, tmp_path: Path
) -> None:
    case = answered_consult(app, client, session)
    draft = client.get(
        f"/api/v1/consults/{case.consult_id}/outcome.pdf", headers=case.requester_headers
    ).data
    path = tmp_path / "draft.pdf"
    path.write_bytes(draft)
    result = app.test_cli_runner().invoke(args=["verify-pdf", str(path)])
    assert result.exit_code == 2 and "NOT SIGNED" in result.output
    page = client.post(
        "/verify",
        data={"file": (io.BytesIO(draft), "draft.pdf")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 200 and b"Not signed" in page.data
    assert (
        app.test_cli_runner().invoke(args=["verify-pdf", str(tmp_path / "missing.pdf")]).exit_code
        == 2
    )


def test_verify_page_without_file_or_unknown_id(client: FlaskClient) -> None:
    assert client.get("/verify").status_code == 200
    assert client.post("/verify", data={}, content_type="multipart/form-data").status_code == 400
    assert client.get("/verify/0123456789abcdef").status_code == 404


def test_time_stamp_authority_endpoint(client: FlaskClient, pki: ca.Authority) -> None:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"document")
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                    "hashed_message": digest.finalize(),
                }
            ),
            "nonce": 12345,
            "cert_req": True,
        }
    )
    resp = client.post("/pki/tsa", data=request.dump(), content_type="application/timestamp-query")
    assert resp.status_code == 200
    reply = tsp.TimeStampResp.load(resp.data)
    assert reply["status"]["status"].native == "granted"
    assert (
        client.post(
            "/pki/tsa", data=b"junk", content_type="application/timestamp-query"
        ).status_code
        == 400
    )
    assert client.post("/pki/tsa", data=b"junk", content_type="text/plain").status_code == 415
