"""The telemedicine consent form: drafted, signed by the health worker who recorded the consent,
verifiable; the bad paths refused without a document."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Role, SignedDocument
from hub.pki import ca
from tests.consult.support import bearer
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import clinician, pdfsig, pdftotext, pki

__all__ = ["pki"]


def _recorded(
    client: FlaskClient, session: Session, world: World, scopes: list[str]
) -> tuple[str, dict[str, dict[str, str]]]:
    """A consent recorded by a licensed health worker of facility A; (its URL, headers by who)."""
    recorder = clinician(session, Role.CHW, at=world.facility_a)
    recorder.locale = "fa"
    colleague = clinician(session, Role.GP, at=world.facility_a)
    patient = f.patient(session, world.facility_a)
    headers = {"recorder": bearer(session, recorder), "colleague": bearer(session, colleague)}
    session.commit()
    base = f"/api/v1/patients/{patient.id}"
    body = {"scopes": scopes, "method": "written", "given_by_name": "Maryam Ahmadi"}
    resp = client.post(f"{base}/consents", json=body, headers=headers["recorder"])
    assert resp.status_code == 201, resp.get_json()
    return f"{base}/consents/{resp.get_json()['items'][0]['id']}", headers


def _documents(session: Session) -> int:
    session.rollback()
    count = session.scalar(
        select(func.count())
        .select_from(SignedDocument)
        .where(SignedDocument.kind == "telemedicine_consent")
    )
    session.rollback()  # release SQLite's read snapshot before the next request writes
    return int(count or 0)


def test_recorder_signs_the_form_in_their_language(
    app: Flask,
    client: FlaskClient,
    session: Session,
    world: World,
    pki: ca.Authority,
    tmp_path: Path,
) -> None:
    url, headers = _recorded(client, session, world, ["recording"])
    draft = client.get(f"{url}/form.pdf", headers=headers["colleague"])
    assert draft.status_code == 200 and draft.headers["X-Document-Status"] == "draft"

    signed = client.post(f"{url}/form/sign", headers=headers["recorder"])
    assert signed.status_code == 201, signed.get_json()
    doc = signed.get_json()
    assert doc["kind"] == "telemedicine_consent" and doc["locale"] == "fa"
    assert doc["payload"]["consent"]["scope"] == "recording"
    assert doc["payload"]["consent"]["given_by"] == "Maryam Ahmadi"

    pdf = client.get(f"{url}/form.pdf", headers=headers["colleague"])
    assert pdf.headers["X-Document-Status"] == "signed"
    path = tmp_path / "consent.pdf"
    path.write_bytes(pdf.data)
    assert pdfsig(str(path)).count("Signature is Valid") == 1
    text = pdftotext(str(path))
    assert "فرم رضایت" in text and "Maryam Ahmadi" in text
    assert client.post("/verify", data={"file": (path.open("rb"), "c.pdf")}).status_code == 200

    again = client.post(f"{url}/form/sign", headers=headers["recorder"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_signed"


def test_only_the_recorder_signs_and_never_a_withdrawn_consent(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    url, headers = _recorded(client, session, world, ["video"])
    before = _documents(session)
    other = client.post(f"{url}/form/sign", headers=headers["colleague"])
    assert other.status_code == 403
    assert "recorded this consent" in other.get_json()["error"]["message"]
    assert client.post(f"{url}/withdraw", headers=headers["recorder"]).status_code == 200
    withdrawn = client.post(f"{url}/form/sign", headers=headers["recorder"])
    assert withdrawn.status_code == 409 and withdrawn.get_json()["error"]["code"] == "withdrawn"
    assert _documents(session) == before
    missing = client.get(url.rsplit("/", 1)[0] + "/999999/form.pdf", headers=headers["recorder"])
    assert missing.status_code == 404
    bad = client.get(f"{url}/form.pdf?locale=xx", headers=headers["recorder"])
    assert bad.status_code == 422
