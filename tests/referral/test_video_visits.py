"""A virtual appointment held as a video session, on SQLite and PostgreSQL: its clinician starts
it (a video-mode consult opened for the visit, requested by the referring health worker, with
both of them in the session), starting again rejoins the open session, a new session after the
first ended; refused for anyone else, for an in-person visit and without the patient's video
consent (nothing written then); the pages offer start and join to the right people."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult.models import Consult
from hub.models import ConsentScope, utcnow
from referral.models import Appointment, ClinicMember, VisitMode
from tests.consult.support import consent
from tests.referral.support import Network, clinic, log_in
from tests.support import factories as f


def _book(client: FlaskClient, net: Network, code: str, patient_id: int | None = None) -> int:
    patient = patient_id or net.patient.id
    ref = net.refer(client, patient_id=patient)
    accepted = client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["specialist"])
    assert accepted.status_code == 200, accepted.get_json()
    start = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    window = f"from={start:%Y-%m-%dT%H:%M:%SZ}&to={start + timedelta(days=2):%Y-%m-%dT%H:%M:%SZ}"
    slots = client.get(f"/api/v1/clinics/{code}/slots?{window}", headers=net.h["chw"]).get_json()
    booked = client.post(
        "/api/v1/appointments",
        json={"referral_id": ref["id"], "patient_id": patient, "slot_id": slots["items"][0]["id"]},
        headers=net.h["chw"],
    )
    assert booked.status_code == 201, booked.get_json()
    return int(booked.get_json()["id"])


def _start(client: FlaskClient, net: Network, appt: int, who: str = "specialist") -> Any:
    return client.post(f"/api/v1/appointments/{appt}/video-visit", headers=net.h[who])


def test_the_clinician_starts_the_visit_as_a_video_session(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    consent(session, net.patient.id, ConsentScope.VIDEO)
    session.commit()
    appt = _book(client, net, net.clinic.code)
    # The referring health worker and another specialist do not start it.
    assert _start(client, net, appt, "chw").status_code == 403
    assert _start(client, net, appt, "colleague").status_code in (403, 404)

    started = _start(client, net, appt)
    assert started.status_code == 201, started.get_json()
    visit = started.get_json()
    assert visit["join_url"] == f"/video/sessions/{visit['video_session_id']}"
    consult = client.get(f"/api/v1/consults/{visit['consult_id']}", headers=net.h["chw"])
    assert consult.status_code == 200
    facts = consult.get_json()
    assert (facts["mode"], facts["status"]) == ("video", "accepted")
    assert facts["assigned_to"] == net.specialist.id and facts["requester_id"] == net.chw.id
    assert "virtual_visit" in [e["kind"] for e in facts["timeline"]]
    video = client.get(f"/api/v1/video-sessions/{visit['video_session_id']}", headers=net.h["chw"])
    assert video.status_code == 200
    people = {p["user_id"] for p in video.get_json()["participants"]}
    assert {net.chw.id, net.specialist.id} <= people
    shown = client.get(f"/api/v1/appointments/{appt}", headers=net.h["chw"]).get_json()
    assert shown["video_session_id"] == visit["video_session_id"]
    assert shown["visit_consult_id"] == visit["consult_id"]

    # Starting again rejoins the open session; after it ended, a new one on the same consult.
    again = _start(client, net, appt).get_json()
    assert again == visit
    ended = client.post(
        f"/api/v1/video-sessions/{visit['video_session_id']}/end", headers=net.h["specialist"]
    )
    assert ended.status_code == 200, ended.get_json()
    later = _start(client, net, appt).get_json()
    assert later["consult_id"] == visit["consult_id"]
    assert later["video_session_id"] != visit["video_session_id"]


def test_an_in_person_visit_or_a_missing_consent_is_refused_and_nothing_is_written(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    in_person = clinic(
        session, net.hospital.id, net.specialty_id, (net.specialist.id,), mode=VisitMode.IN_PERSON
    )
    session.commit()
    appt = _book(client, net, in_person.code)
    refused = _start(client, net, appt)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "not_virtual"

    net2 = Network(session)  # the patient has consent to consults, not yet to video
    virtual = _book(client, net2, net2.clinic.code)
    consults_before = session.scalar(select(func.count()).select_from(Consult))
    session.rollback()  # no read left open: on SQLite it would hold the lock the app needs
    missing = _start(client, net2, virtual)
    assert missing.status_code == 409, missing.get_json()
    error = missing.get_json()["error"]
    assert error["code"] == "consent_required" and error["details"]["missing_scopes"] == ["video"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Consult)) == consults_before
    row = session.get_one(Appointment, virtual)
    assert row.visit_consult_id is None and row.video_session_id is None


def test_the_pages_offer_start_to_the_clinician_and_join_to_both(
    app: Flask, session: Session
) -> None:
    client = app.test_client()
    net = Network(session)
    consent(session, net.patient.id, ConsentScope.VIDEO)
    session.commit()
    appt = _book(client, net, net.clinic.code)
    doctor, worker = log_in(app, net.specialist.username), log_in(app, net.chw.username)
    page = doctor.get(f"/referrals/appointments/{appt}").get_data(as_text=True)
    assert 'id="start-visit"' in page and 'id="join-visit"' not in page
    page = worker.get(f"/referrals/appointments/{appt}").get_data(as_text=True)
    assert 'id="start-visit"' not in page and "clinician starts the video session" in page
    visit = _start(client, net, appt).get_json()
    for reader in (doctor, worker):
        page = reader.get(f"/referrals/appointments/{appt}").get_data(as_text=True)
        assert f'href="{visit["join_url"]}"' in page
    referral_id = client.get(f"/api/v1/appointments/{appt}", headers=net.h["chw"]).get_json()[
        "referral_id"
    ]
    page = worker.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "join-visit" in page


def test_a_visit_booked_by_the_clinic_is_held_by_the_specialist_who_starts_it(
    client: FlaskClient, session: Session
) -> None:
    """A phone booking by the clinic (no referral, no provider on the slot): the clinic's
    specialist who starts the visit holds it, alone in the session as its specialist until the
    patient is invited; a colleague of the clinic then rejoins nothing of theirs."""
    net = Network(session)
    session.add(ClinicMember(clinic_id=net.clinic.id, user_id=net.colleague.id))
    own = f.patient(session, net.hospital)  # a patient of the hospital, who phoned its clinic
    consent(session, own.id, ConsentScope.CONSULT, ConsentScope.VIDEO)
    own_id = own.id
    session.commit()
    start = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    window = f"from={start:%Y-%m-%dT%H:%M:%SZ}&to={start + timedelta(days=2):%Y-%m-%dT%H:%M:%SZ}"
    slots = client.get(
        f"/api/v1/clinics/{net.clinic.code}/slots?{window}", headers=net.h["specialist"]
    ).get_json()
    booked = client.post(
        "/api/v1/appointments",
        json={"patient_id": own_id, "slot_id": slots["items"][0]["id"]},
        headers=net.h["specialist"],
    )
    assert booked.status_code == 201, booked.get_json()
    appt = int(booked.get_json()["id"])
    started = _start(client, net, appt)
    assert started.status_code == 201, started.get_json()
    visit = started.get_json()
    video = client.get(
        f"/api/v1/video-sessions/{visit['video_session_id']}", headers=net.h["specialist"]
    ).get_json()
    roles = [(p["user_id"], p["role"]) for p in video["participants"]]
    assert roles == [(net.specialist.id, "specialist")]
    # Once held, the visit is the holder's: another specialist of the clinic cannot start it.
    assert _start(client, net, appt, "colleague").status_code == 403
