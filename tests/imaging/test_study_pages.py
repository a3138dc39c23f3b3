"""Staff pages of studies: the list (by patient, facility and text, a page at a time, only what
the API would show), a study's page (thumbnails, forwarding in words, links created and revoked
through the API with the session, attaching to a consult), and what another facility is refused."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select, update

from hub import db
from hub.models import AuditEvent, Patient, Role
from imaging import study_views
from imaging.models import ForwardItem, ImageLink, Series, Study, StudyConsult
from tests.imaging.support import ingest
from tests.imaging.test_consults import consult_of_new_patient
from tests.support import factories as f
from tests.support.pages import logged_in
from tests.support.personas import World

META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _patient(app: Flask, world: World, at: str = "a") -> Patient:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a if at == "a" else world.facility_b)
        sess.expunge(patient)
    return patient


def _csrf(page: FlaskClient, path: str = "/imaging/studies") -> str:
    match = META_CSRF.search(page.get(path).get_data(as_text=True))
    assert match, "no CSRF token on the page"
    return match.group(1)


def _api(page: FlaskClient, path: str, token: str) -> tuple[int, dict[str, object]]:
    resp = page.post(path, json={}, headers={"X-CSRFToken": token, "Accept": "application/json"})
    return resp.status_code, resp.get_json() or {}


def test_the_list_filters_by_patient_facility_and_text_and_pages(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = _patient(app, world)
    uids = [
        ingest(app, world.facility_a, patient.national_id, images=1).study_uid for _ in range(3)
    ]
    other = ingest(app, world.facility_b, _patient(app, world, "b").national_id, images=1)
    page = logged_in(app, Role.CHW, world.facility_a.code)

    html = page.get(f"/imaging/studies?patient={patient.national_id}").get_data(as_text=True)
    assert all(f"/imaging/studies/{uid}" in html for uid in uids)
    assert other.study_uid not in html
    # By text: the PatientID in the header is the national id.
    html = page.get(f"/imaging/studies?q={patient.national_id}").get_data(as_text=True)
    assert all(f"/imaging/studies/{uid}" in html for uid in uids)
    # Facility B's study is not the health worker's, whichever way it is asked for.
    html = page.get(f"/imaging/studies?facility={world.facility_b.code}").get_data(as_text=True)
    assert other.study_uid not in html and 'id="no-studies"' in html
    html = page.get(f"/imaging/studies?q={other.study_uid[:20]}").get_data(as_text=True)
    assert other.study_uid not in html

    # A page at a time, newest first, the filter kept on the next page's link.
    monkeypatch.setattr(study_views, "PAGE", 2)
    first = page.get(f"/imaging/studies?patient={patient.national_id}").get_data(as_text=True)
    assert f"/imaging/studies/{uids[2]}" in first and f"/imaging/studies/{uids[1]}" in first
    assert f"/imaging/studies/{uids[0]}" not in first
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older and f"patient={patient.national_id}" in older.group(1)
    second = page.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f"/imaging/studies/{uids[0]}" in second and f"/imaging/studies/{uids[2]}" not in second
    assert 'rel="next"' not in second

    assert page.get("/imaging/studies?before=abc").status_code == 400
    # A national id too short to be one is said so, not a 500.
    short = page.get("/imaging/studies?patient=12")
    assert short.status_code == 200 and 'role="alert"' in short.get_data(as_text=True)
    # The listing is audited like the API's.
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(
            select(AuditEvent.id).where(AuditEvent.action == "imaging:study:listed").limit(1)
        )


def test_a_study_of_another_facility_is_not_found(app: Flask, world: World) -> None:
    study = ingest(app, world.facility_a, _patient(app, world).national_id, images=2)
    series = study_series(app, study.study_uid)
    outsider = logged_in(app, Role.CHW, world.facility_b.code)
    assert outsider.get(f"/imaging/studies/{study.study_uid}").status_code == 404
    assert (
        outsider.get(
            f"/imaging/studies/{study.study_uid}/series/{series}/thumbnail.png"
        ).status_code
        == 404
    )
    token = _csrf(outsider)
    resp = outsider.post(
        f"/imaging/studies/{study.study_uid}/consults",
        data={"csrf_token": token, "consult_id": "1"},
    )
    assert resp.status_code == 404
    status, _body = _api(outsider, f"/api/v1/studies/{study.study_uid}/links", token)
    assert status == 404
    # A malformed UID is not found either.
    assert outsider.get("/imaging/studies/not-a-uid").status_code == 404


def study_series(app: Flask, study_uid: str) -> str:
    with app.app_context(), db.transaction() as sess:
        found = sess.scalar(
            select(Series.series_instance_uid)
            .join(Study, Study.id == Series.study_id)
            .where(Study.study_instance_uid == study_uid)
        )
    assert found
    return str(found)


def test_the_study_page_shows_thumbnails_and_forwarding_in_words(app: Flask, world: World) -> None:
    study = ingest(app, world.facility_a, _patient(app, world).national_id, images=3, size=64)
    page = logged_in(app, Role.CHW, world.facility_a.code)
    html = page.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    series = study_series(app, study.study_uid)
    thumb = f"/imaging/studies/{study.study_uid}/series/{series}/thumbnail.png"
    assert thumb in html
    # This hub has no central archive.
    assert "Not forwarded: no central archive is configured." in html
    assert "not_configured" not in html
    resp = page.get(thumb)
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.headers["Cache-Control"] == "no-store"
    assert max(Image.open(io.BytesIO(resp.data)).size) <= study_views.THUMB_SIDE
    assert page.get(thumb.replace(series, "1.2.3.4")).status_code == 404


def test_forwarding_that_waits_for_the_archive_says_since_when(app: Flask, world: World) -> None:
    study = ingest(app, world.facility_a, _patient(app, world).national_id, images=2, forward=True)
    page = logged_in(app, Role.CHW, world.facility_a.code)
    html = page.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    assert "Waiting to be sent to the central archive" in html
    with app.app_context(), db.transaction() as sess:
        study_id = sess.scalar(select(Study.id).where(Study.study_instance_uid == study.study_uid))
        sess.execute(
            update(ForwardItem)
            .where(ForwardItem.study_id == study_id)
            .values(attempts=3, last_error="archive unreachable (ConnectionRefusedError)")
        )
    html = page.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    waiting = re.search(r'id="forwarding">(.*?)</dd>', html, re.S)
    assert waiting, html
    text = waiting.group(1)
    assert "the central archive cannot be reached; the images wait since" in text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', text)
    assert "<bdi>0</bdi> of <bdi>2</bdi> instances sent" in text
    assert "archive unreachable (ConnectionRefusedError)" in text


def test_links_are_created_listed_and_revoked_and_others_are_refused(
    app: Flask, world: World
) -> None:
    study = ingest(app, world.facility_a, _patient(app, world).national_id, images=1)
    other = ingest(app, world.facility_a, _patient(app, world).national_id, images=1)
    gp = logged_in(app, Role.GP, world.facility_a.code)
    token = _csrf(gp)
    status, made = _api(gp, f"/api/v1/studies/{study.study_uid}/links", token)
    assert status == 201, made
    html = gp.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    assert f'data-revoke="{made["id"]}"' in html and 'id="copy-link"' in html
    # The link of one study is not revoked through another's address.
    status, _ = _api(gp, f"/api/v1/studies/{other.study_uid}/links/{made['id']}/revoke", token)
    assert status == 404

    # Another facility's health worker: the study is not found, the link stays live.
    outsider = logged_in(app, Role.CHW, world.facility_b.code)
    status, _ = _api(
        outsider,
        f"/api/v1/studies/{study.study_uid}/links/{made['id']}/revoke",
        _csrf(outsider),
    )
    assert status == 404
    # Command staff of the region see the study but do not share it: no buttons, refused.
    command = logged_in(app, Role.COMMAND, world.facility_a.code)
    html = command.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    assert "data-revoke=" not in html and 'id="create-link"' not in html
    status, _ = _api(
        command,
        f"/api/v1/studies/{study.study_uid}/links/{made['id']}/revoke",
        _csrf(command),
    )
    assert status == 403
    with app.app_context(), db.transaction() as sess:
        link = sess.get(ImageLink, made["id"])
        assert link is not None and link.revoked_at is None

    # Its own facility revokes it; the page then says so and offers no second revocation.
    status, body = _api(gp, f"/api/v1/studies/{study.study_uid}/links/{made['id']}/revoke", token)
    assert status == 200 and body["live"] is False
    html = gp.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    assert f'data-revoke="{made["id"]}"' not in html
    assert re.search(r'data-role="state">revoked<', html)


def test_a_study_is_attached_to_a_consult_from_its_page(app: Flask, world: World) -> None:
    # A client of its own, outside a ``with`` block: a kept request context would share its
    # cached CSRF token with the page's client.
    consult_id, national_id = consult_of_new_patient(app, app.test_client(), world)
    study = ingest(app, world.facility_a, national_id, images=1, study_date=date(2024, 2, 3))
    page = logged_in(app, Role.CHW, world.facility_a.code)
    html = page.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    assert f'name="consult_id" value="{consult_id}"' in html
    match = FORM_CSRF.search(html)
    assert match
    resp = page.post(
        f"/imaging/studies/{study.study_uid}/consults",
        data={"csrf_token": match.group(1), "consult_id": str(consult_id)},
    )
    assert resp.status_code == 302
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(select(StudyConsult.id).where(StudyConsult.consult_id == consult_id))
    html = page.get(f"/imaging/studies/{study.study_uid}").get_data(as_text=True)
    assert f"The study is attached to consult {consult_id}." in html
    assert re.search(rf'value="{consult_id}" disabled', html)
    # No consult chosen: said on the page, nothing written.
    resp = page.post(
        f"/imaging/studies/{study.study_uid}/consults",
        data={"csrf_token": match.group(1), "consult_id": "x"},
        follow_redirects=True,
    )
    assert "Choose a consult to attach the study to." in resp.get_data(as_text=True)
    # A consult the health worker of facility B cannot see: not found.
    outsider = logged_in(app, Role.CHW, world.facility_b.code)
    resp = outsider.post(
        f"/imaging/studies/{study.study_uid}/consults",
        data={"csrf_token": _csrf(outsider), "consult_id": str(consult_id)},
    )
    assert resp.status_code == 404


def test_the_upload_page_links_its_studies(app: Flask, world: World) -> None:
    page = logged_in(app, Role.CHW, world.facility_a.code)
    html = page.get("/imaging/upload").get_data(as_text=True)
    assert 'data-study-url="/imaging/studies/UID"' in html
    assert 'id="upload-studies"' in html and 'href="/imaging/studies"' in html
