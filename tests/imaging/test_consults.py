"""Studies attached to consults: only a study of the consult's patient, by someone who sees
both; the consult's specialist then finds the study through the consult."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import Role, User
from tests.consult.support import consent, on_call, submit
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.pages import logged_in
from tests.support.personas import World


def consult_of_new_patient(app: Flask, client: FlaskClient, world: World) -> tuple[int, str]:
    """(consult id, patient national id) of a new facility-A patient with an open consult."""
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        patient_id, national_id = patient.id, patient.national_id
        consent(sess, patient_id)
        doctor = sess.scalar(select(User).where(User.facility_id == world.hospital_x.id))
        assert doctor is not None
        on_call(sess, doctor, world.hospital_x)
    created = submit(client, world["hw_a"].headers, patient_id)
    return int(created["id"]), national_id


def test_attach_and_list(app: Flask, client: FlaskClient, world: World) -> None:
    consult_id, national_id = consult_of_new_patient(app, client, world)
    study = ingest(app, world.facility_a, national_id, images=1)
    other = ingest(app, world.facility_a, world.patient_a.national_id, images=1)
    url = f"/api/v1/studies/{study.study_uid}/consults"
    resp = client.post(url, json={"consult_id": consult_id}, headers=world["hw_a"].headers)
    assert resp.status_code == 201, resp.get_json()
    again = client.post(url, json={"consult_id": consult_id}, headers=world["gp_a"].headers)
    assert again.status_code == 201  # idempotent
    assert (
        client.post(
            f"/api/v1/studies/{other.study_uid}/consults",
            json={"consult_id": consult_id},
            headers=world["hw_a"].headers,
        ).status_code
        == 409
    )
    assert (
        client.post(url, json={"consult_id": consult_id}, headers=world["hw_b"].headers).status_code
        == 404
    )
    assert (
        client.post(url, json={"consult_id": 10**8}, headers=world["hw_a"].headers).status_code
        == 404
    )
    listed = client.get(
        f"/api/v1/consults/{consult_id}/studies", headers=world["specialist"].headers
    )
    assert listed.status_code == 200, listed.get_json()
    assert [s["study_instance_uid"] for s in listed.get_json()["items"]] == [study.study_uid]
    assert (
        client.get(
            f"/api/v1/consults/{consult_id}/studies", headers=world["hw_b"].headers
        ).status_code
        == 404
    )


def test_the_consult_page_shows_its_studies(app: Flask, client: FlaskClient, world: World) -> None:
    consult_id, national_id = consult_of_new_patient(app, client, world)
    study = ingest(app, world.facility_a, national_id, images=1, study_date=date(2023, 7, 8))
    url = f"/api/v1/studies/{study.study_uid}/consults"
    assert (
        client.post(url, json={"consult_id": consult_id}, headers=world["hw_a"].headers).status_code
        == 201
    )
    browser = logged_in(app, Role.GP, world.facility_a.code)
    page = browser.get(f"/consults/{consult_id}").get_data(as_text=True)
    assert 'id="consult-images"' in page
    assert f"/imaging/studies/{study.study_uid}" in page and "2023-07-08" in page
    # This hub has no central archive: no button that could only fail.
    assert 'id="priors"' not in page
