"""The health worker's patient pages: search, register, correct, consent and its form,
memberships, and the home panels; the bad paths said on the form with nothing written."""

from __future__ import annotations

import re
from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import (
    AuditEvent,
    Consent,
    Membership,
    Patient,
    Role,
    SignedDocument,
    User,
)
from hub.national_id import make_iranian
from hub.pki import ca
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import answered_consult, clinician, pki

__all__ = ["pki"]

FORM_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _login(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    match = FORM_CSRF.search(client.get("/login").get_data(as_text=True))
    assert match
    resp = client.post(
        "/login",
        data={"csrf_token": match.group(1), "username": user.username, "password": f.PASSWORD},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


def _worker(
    app: Flask, session: Session, world: World, role: Role = Role.CHW
) -> tuple[FlaskClient, User]:
    user = clinician(session, role, at=world.facility_a)
    session.commit()
    return _login(app, user), user


def _csrf(client: FlaskClient, path: str) -> str:
    match = FORM_CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no form token on {path}"
    return match.group(1)


def _count(session: Session, model: type, *where: object) -> int:
    session.rollback()
    n = session.scalar(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]
    session.rollback()  # release SQLite's snapshot before the next request writes
    return int(n or 0)


def _columns(session: Session, patient_id: int) -> tuple[object, ...]:
    """The stored name, national id and birth date, read afresh."""
    session.rollback()
    row = session.execute(
        select(Patient.given_name, Patient.national_id, Patient.date_of_birth).where(
            Patient.id == patient_id
        )
    ).one()
    session.rollback()
    return tuple(row)


def _registration(**overrides: str) -> dict[str, str]:
    data = {
        "given_name": "Leila",
        "family_name": "Sadeghi",
        "national_id": f.national_id(),
        "id_country": "IR",
        "date_of_birth": "1990-05-14",
        "sex": "female",
        "phone": "",
        "email": "",
        "address": "",
    }
    data.update(overrides)
    return data


# --- search -----------------------------------------------------------------------------------


def test_search_finds_own_patients_by_name_and_national_id(
    app: Flask, session: Session, world: World
) -> None:
    client, _ = _worker(app, session, world)
    page = client.get(f"/patients?q={world.patient_a.national_id}").get_data(as_text=True)
    assert f'data-patient-id="{world.patient_a.id}"' in page
    assert f'data-patient-id="{world.patient_b.id}"' not in page
    page = client.get(f"/patients?q={world.patient_a.family_name}").get_data(as_text=True)
    assert f"/patients/{world.patient_a.id}" in page
    # Patient B lives at facility B: a search for them at facility A finds nobody.
    page = client.get(f"/patients?q={world.patient_b.national_id}").get_data(as_text=True)
    assert 'id="none-found"' in page


# --- register -----------------------------------------------------------------------------------


def test_register_writes_the_patient_and_opens_their_page(
    app: Flask, session: Session, world: World
) -> None:
    client, _user = _worker(app, session, world)
    data = _registration()
    # Typed with Persian digits and a dash: stored folded.
    typed = data["national_id"][:3] + "-" + data["national_id"][3:]
    typed = typed.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    resp = client.post(
        "/patients/new",
        data={**data, "national_id": typed, "csrf_token": _csrf(client, "/patients/new")},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    patient_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    session.rollback()
    patient = session.get_one(Patient, patient_id)
    assert (patient.national_id, patient.given_name, patient.date_of_birth) == (
        data["national_id"],
        "Leila",
        date(1990, 5, 14),
    )
    assert patient.home_facility_id == world.facility_a.id
    session.rollback()
    page = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert "Patient registered." in page
    assert '<time datetime="1990-05-14" data-date>' in page
    assert f"/patients/{patient_id}/consent" in page


def test_bad_national_id_is_said_on_the_form_and_nothing_is_written(
    app: Flask, session: Session, world: World
) -> None:
    client, _ = _worker(app, session, world)
    good = f.national_id()
    wrong_check = good[:9] + str((int(good[9]) + 1) % 10)
    before = _count(session, Patient)
    resp = client.post(
        "/patients/new",
        data={
            **_registration(national_id=wrong_check),
            "csrf_token": _csrf(client, "/patients/new"),
        },
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "This is not a valid national id of Iran" in page
    assert 'aria-invalid="true" aria-describedby="national_id-error' in page
    assert 'value="Leila"' in page  # what was typed stays on the form
    assert _count(session, Patient) == before


def test_register_bad_fields_and_duplicates_are_refused_on_the_form(
    app: Flask, session: Session, world: World
) -> None:
    client, _ = _worker(app, session, world)
    token = _csrf(client, "/patients/new")
    before = _count(session, Patient)
    future = client.post(
        "/patients/new", data={**_registration(date_of_birth="2999-01-01"), "csrf_token": token}
    )
    assert future.status_code == 422
    assert "Enter a real date of birth, not in the future." in future.get_data(as_text=True)
    phone = client.post(
        "/patients/new", data={**_registration(phone="call me"), "csrf_token": token}
    )
    assert "Enter a phone number" in phone.get_data(as_text=True)
    taken = client.post(
        "/patients/new",
        data={**_registration(national_id=world.patient_b.national_id), "csrf_token": token},
    )
    assert taken.status_code == 422
    assert "already registered" in taken.get_data(as_text=True)
    assert _count(session, Patient) == before


def test_a_specialist_cannot_register(app: Flask, session: Session, world: World) -> None:
    user = f.user(session, Role.SPECIALIST, at=world.hospital_x, specialty="pulmonology")
    session.commit()
    client = _login(app, user)
    assert "Register a patient" not in client.get("/patients").get_data(as_text=True)
    before = _count(session, Patient)
    resp = client.post(
        "/patients/new", data={**_registration(), "csrf_token": _csrf(client, "/patients")}
    )
    assert resp.status_code == 403
    assert _count(session, Patient) == before


def test_national_admin_chooses_the_home_facility(
    app: Flask, session: Session, world: World
) -> None:
    admin = f.user(session, Role.NATIONAL_ADMIN)
    session.commit()
    client = _login(app, admin)
    form = client.get("/patients/new").get_data(as_text=True)
    assert f'<option value="{world.facility_a.code}"' in form
    token = _csrf(client, "/patients/new")
    before = _count(session, Patient)
    missing = client.post("/patients/new", data={**_registration(), "csrf_token": token})
    assert missing.status_code == 422
    assert "Choose the patient&#39;s home facility." in missing.get_data(as_text=True)
    assert _count(session, Patient) == before
    resp = client.post(
        "/patients/new",
        data={**_registration(home_facility=world.facility_b.code), "csrf_token": token},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    pid = int(resp.headers["Location"].rsplit("/", 1)[1])
    session.rollback()
    home = session.scalar(select(Patient.home_facility_id).where(Patient.id == pid))
    session.rollback()
    assert home == world.facility_b.id


# --- another facility's patient ----------------------------------------------------------------


def test_another_facilitys_patient_is_not_found_on_every_page(
    app: Flask, session: Session, world: World
) -> None:
    client, user = _worker(app, session, world)
    uid, other = user.id, world.patient_b.id
    for path in (f"/patients/{other}", f"/patients/{other}/edit", f"/patients/{other}/consent"):
        assert client.get(path).status_code == 404, path
    token = _csrf(client, "/patients/new")
    before = _count(session, Consent, Consent.patient_id == other)
    resp = client.post(
        f"/patients/{other}/consent",
        data={
            "csrf_token": token,
            "scopes": "video",
            "method": "verbal",
            "relationship_to_patient": "self",
        },
    )
    assert resp.status_code == 404
    assert _count(session, Consent, Consent.patient_id == other) == before
    resp = client.post(f"/patients/{other}/edit", data={**_registration(), "csrf_token": token})
    assert resp.status_code == 404
    session.rollback()
    assert session.get_one(Patient, other).given_name != "Leila"
    refused = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.actor_id == str(uid),
            AuditEvent.object_id == str(other),
            AuditEvent.outcome == "denied",
        )
    )
    session.rollback()
    assert refused and refused >= 3


# --- correct ------------------------------------------------------------------------------------


def test_edit_corrects_name_birth_date_and_national_id(
    app: Flask, session: Session, world: World
) -> None:
    client, _ = _worker(app, session, world)
    patient = f.patient(session, world.facility_a)
    pid = patient.id
    session.commit()
    path = f"/patients/{pid}/edit"
    token = _csrf(client, path)
    bad = client.post(path, data={**_registration(national_id="1234567890"), "csrf_token": token})
    assert bad.status_code == 422
    assert "This is not a valid national id of Iran" in bad.get_data(as_text=True)
    assert _columns(session, pid)[0] == "Given"
    corrected = make_iranian("009876543")
    resp = client.post(
        path,
        data={
            **_registration(national_id=corrected, date_of_birth="1985-12-31"),
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    assert _columns(session, pid) == ("Leila", corrected, date(1985, 12, 31))


# --- consent ------------------------------------------------------------------------------------


def test_consent_link_preselects_its_scope_and_returns_where_asked(
    app: Flask, session: Session, world: World
) -> None:
    client, user = _worker(app, session, world)
    uid = user.id
    patient = f.patient(session, world.facility_a)
    pid = patient.id
    session.commit()
    path = f"/patients/{pid}/consent?scope=video&next=/consults/new"
    page = client.get(path).get_data(as_text=True)
    assert 'value="video" id="scope-video" checked' in page
    assert 'value="consult" id="scope-consult" >' in page
    token = _csrf(client, path)
    empty = client.post(
        f"/patients/{pid}/consent",
        data={"csrf_token": token, "method": "verbal", "relationship_to_patient": "self"},
    )
    assert empty.status_code == 422
    assert "Choose at least one thing the patient agrees to." in empty.get_data(as_text=True)
    assert _count(session, Consent, Consent.patient_id == pid) == 0
    resp = client.post(
        f"/patients/{pid}/consent",
        data={
            "csrf_token": token,
            "scopes": ["consult", "video"],
            "method": "verbal",
            "relationship_to_patient": "parent",
            "given_by_name": "Hassan Sadeghi",
            "next": f"/consults/new?patient={pid}",
        },
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/consults/new?patient={pid}"
    session.rollback()
    rows = session.scalars(select(Consent).where(Consent.patient_id == pid)).all()
    assert sorted(c.scope.value for c in rows) == ["consult", "video"]
    assert {(c.given_by_name, c.relationship_to_patient, c.recorded_by_id) for c in rows} == {
        ("Hassan Sadeghi", "parent", uid)
    }
    session.rollback()
    # An outside target is not followed.
    resp = client.post(
        f"/patients/{pid}/consent",
        data={
            "csrf_token": token,
            "scopes": "recording",
            "method": "written",
            "relationship_to_patient": "self",
            "next": "//evil.example/",
        },
    )
    assert resp.headers["Location"] == f"/patients/{pid}#consents"


def test_recorder_signs_the_form_and_downloads_it(
    app: Flask, session: Session, world: World, pki: ca.Authority
) -> None:
    client, _user = _worker(app, session, world)
    patient = f.patient(session, world.facility_a)
    pid = patient.id
    session.commit()
    token = _csrf(client, f"/patients/{pid}/consent")
    client.post(
        f"/patients/{pid}/consent",
        data={
            "csrf_token": token,
            "scopes": "consult",
            "method": "written",
            "relationship_to_patient": "self",
        },
    )
    session.rollback()
    cid = session.scalars(select(Consent.id).where(Consent.patient_id == pid)).one()
    session.rollback()
    page = client.get(f"/patients/{pid}").get_data(as_text=True)
    assert "Sign the form as witness" in page
    draft = client.get(f"/patients/{pid}/consents/{cid}/form.pdf")
    assert draft.status_code == 200 and draft.data.startswith(b"%PDF")
    assert draft.headers["X-Document-Status"] == "draft"
    resp = client.post(f"/patients/{pid}/consents/{cid}/sign", data={"csrf_token": token})
    assert resp.status_code == 302
    page = client.get(f"/patients/{pid}").get_data(as_text=True)
    assert "Consent form signed." in page and "data-form-signed" in page
    assert "Sign the form as witness" not in page
    signed = client.get(f"/patients/{pid}/consents/{cid}/form.pdf")
    assert signed.headers["X-Document-Status"] == "signed"
    assert (
        _count(
            session,
            SignedDocument,
            SignedDocument.kind == "telemedicine_consent",
            SignedDocument.subject_id == cid,
        )
        == 1
    )
    # A colleague may not sign it in the recorder's place, and sees no button.
    colleague = clinician(session, Role.GP, at=world.facility_a)
    session.commit()
    other = _login(app, colleague)
    assert "Sign the form as witness" not in other.get(f"/patients/{pid}").get_data(as_text=True)


# --- memberships ---------------------------------------------------------------------------------


def test_membership_is_ended_through_the_api_the_page_calls(
    app: Flask, session: Session, world: World
) -> None:
    client, _ = _worker(app, session, world)
    patient = f.patient(session, world.facility_a, member_of=world.insurer_a)
    pid = patient.id
    session.commit()
    mid = session.scalars(select(Membership.id).where(Membership.patient_id == pid)).one()
    session.rollback()  # SQLite: hold no transaction while the app writes
    page = client.get(f"/patients/{pid}").get_data(as_text=True)
    end_url = f"/api/v1/patients/{pid}/memberships/{mid}/end"
    assert f'data-url="{end_url}"' in page
    assert world.insurer_a.name in page
    csrf = META_CSRF.search(page)
    assert csrf
    headers = {"X-CSRFToken": csrf.group(1)}
    early = client.post(end_url, json={"valid_to": "2019-01-01"}, headers=headers)
    assert early.status_code == 422
    resp = client.post(end_url, json={"valid_to": "2024-06-30"}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["valid_to"] == "2024-06-30"
    again = client.post(end_url, json={"valid_to": "2024-12-31"}, headers=headers)
    assert again.status_code == 409
    session.rollback()
    assert session.get_one(Membership, mid).valid_to == date(2024, 6, 30)
    session.rollback()
    # Another facility's health worker cannot end it: not found.
    stranger = clinician(session, Role.CHW, at=world.facility_b)
    session.commit()
    other = _login(app, stranger)
    token = META_CSRF.search(other.get("/patients").get_data(as_text=True))
    assert token
    refused = other.post(
        end_url, json={"valid_to": "2024-01-31"}, headers={"X-CSRFToken": token.group(1)}
    )
    assert refused.status_code == 404


# --- home -----------------------------------------------------------------------------------------


def test_health_worker_home_lists_requests_documents_and_tasks(
    app: Flask, session: Session, pki: ca.Authority
) -> None:
    # A client that keeps no request context: the fixture's would share ``g`` with the next
    # request of another client (Flask-Login's user would leak between them).
    client = app.test_client()
    case = answered_consult(app, client, session)
    worker = _login(app, case.site.chw)
    home = worker.get("/home").get_data(as_text=True)
    assert 'href="/patients"' in home
    assert "My open consultation requests" in home
    assert f"Consult {case.consult_id} · " in home  # answered: still open
    assert "Nothing to countersign." in home
    assert "Check SpO2 and temperature in 48 hours" in home
    signed = client.post(
        f"/api/v1/consults/{case.consult_id}/sign", headers=case.specialist_headers
    )
    assert signed.status_code in (200, 201), signed.get_json()
    home = worker.get("/home").get_data(as_text=True)
    assert f"Outcome of consult {case.consult_id}" in home
    assert f"E-prescription of consult {case.consult_id}" not in home  # not signed yet
    assert "Coming soon" not in home


def test_other_roles_get_no_health_worker_panels(
    app: Flask, session: Session, world: World
) -> None:
    user = f.user(session, Role.SPECIALIST, at=world.hospital_x, specialty="pulmonology")
    session.commit()
    home = _login(app, user).get("/home").get_data(as_text=True)
    assert "My open consultation requests" not in home
    assert "Waiting for your countersignature" not in home
