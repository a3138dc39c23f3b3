"""The studies API: listing by national id, one study, permission filtering, audit, bad input."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent, Patient
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.personas import World


def _patient(app: Flask, world: World) -> Patient:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        sess.expunge(patient)
    return patient


def test_list_by_national_id_and_get_one(app: Flask, client: FlaskClient, world: World) -> None:
    patient = _patient(app, world)
    study = ingest(app, world.facility_a, patient.national_id, images=4, reports=1)
    resp = client.get(
        f"/api/v1/studies?patient_national_id={patient.national_id}", headers=world["hw_a"].headers
    )
    assert resp.status_code == 200, resp.get_json()
    items = resp.get_json()["items"]
    assert [i["study_instance_uid"] for i in items] == [study.study_uid]
    assert items[0]["patient_id"] == patient.id
    assert sorted(items[0]["modalities"]) == ["CT", "SR"]

    resp = client.get(f"/api/v1/studies/{study.study_uid}", headers=world["hw_a"].headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["instances"] == 5
    assert body["patient_national_id"] == patient.national_id
    assert {s["instances"] for s in body["series"]} == {4, 1}
    # This app has no central archive configured.
    assert body["forwarding"]["status"] == "not_configured"
    assert body["images_kept_until"] == "2029-05-01"
    assert body["reports_kept_until"] == "2034-05-01"
    with app.app_context(), db.transaction() as sess:
        viewed = sess.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "imaging:study:viewed",
                AuditEvent.request_id == resp.headers["X-Request-ID"],
            )
        )
        assert viewed is not None and viewed.actor_type == "user"


def test_other_facilities_see_nothing_and_insurers_are_refused(
    app: Flask, client: FlaskClient, world: World
) -> None:
    patient = _patient(app, world)
    study = ingest(app, world.facility_a, patient.national_id, images=1)
    query = f"/api/v1/studies?patient_national_id={patient.national_id}"
    assert client.get(query, headers=world["hw_b"].headers).get_json()["items"] == []
    assert client.get(query, headers=world["command_y"].headers).get_json()["items"] == []
    assert client.get(query, headers=world["command_x"].headers).get_json()["items"] != []
    assert client.get(query, headers=world["insurer_a"].headers).status_code == 403
    hidden = client.get(f"/api/v1/studies/{study.study_uid}", headers=world["hw_b"].headers)
    assert hidden.status_code == 404
    assert client.get(f"/api/v1/studies/{study.study_uid}").status_code == 401


def test_unlinked_study_is_seen_by_the_sending_facility_and_can_be_linked(
    app: Flask, client: FlaskClient, world: World
) -> None:
    patient = _patient(app, world)
    study = ingest(app, world.facility_a, "MRN-4711", images=2)
    resp = client.get(f"/api/v1/studies/{study.study_uid}", headers=world["hw_a"].headers)
    assert resp.status_code == 200 and resp.get_json()["patient_id"] is None
    refused = client.put(
        f"/api/v1/studies/{study.study_uid}/patient",
        json={"patient_id": patient.id},
        headers=world["hw_a"].headers,
    )
    assert refused.status_code == 403
    linked = client.put(
        f"/api/v1/studies/{study.study_uid}/patient",
        json={"patient_id": patient.id},
        headers=world["admin_a"].headers,
    )
    assert linked.status_code == 200, linked.get_json()
    assert linked.get_json()["patient_national_id"] == patient.national_id
    # The facility's later studies under the same PatientID are linked on arrival.
    later = ingest(app, world.facility_a, "MRN-4711", images=1)
    resp = client.get(f"/api/v1/studies/{later.study_uid}", headers=world["hw_a"].headers)
    assert resp.get_json()["patient_id"] == patient.id


def test_bad_input_never_errors(app: Flask, client: FlaskClient, world: World) -> None:
    headers = world["hw_a"].headers
    for path in (
        "/api/v1/studies/not-a-uid",
        "/api/v1/studies/1.2.3",
        "/api/v1/studies/" + "1." * 40 + "1",
        "/api/v1/studies/1.2.3/links/999999/revoke",
    ):
        method = "POST" if path.endswith("revoke") else "GET"
        resp = client.open(path, method=method, headers=headers)
        assert resp.status_code == 404, (path, resp.status_code)
    for query in (
        "limit=0",
        "limit=x",
        "patient_national_id=1",
        "foo=bar",
        "id_country=IRN",
    ):
        resp = client.get(f"/api/v1/studies?{query}", headers=headers)
        assert resp.status_code == 422, (query, resp.status_code)
    # A cursor the hub did not write is refused, never taken for the first page.
    resp = client.get("/api/v1/studies?cursor=-1", headers=headers)
    assert resp.status_code == 400, resp.status_code
    assert resp.get_json()["error"]["code"] == "bad_cursor"
    patient = _patient(app, world)
    study = ingest(app, world.facility_a, patient.national_id, images=1)
    for body in ({"ttl_hours": 0}, {"ttl_hours": 10**6}, {"ttl_hours": "x"}, {"x": 1}, []):
        resp = client.post(f"/api/v1/studies/{study.study_uid}/links", json=body, headers=headers)
        assert resp.status_code == 422, (body, resp.status_code)
    resp = client.post(
        f"/api/v1/studies/{study.study_uid}/links",
        data="{",
        content_type="application/json",
        headers=headers,
    )
    assert resp.status_code == 400


def test_studies_and_links_page_with_the_opaque_cursor(
    app: Flask, client: FlaskClient, world: World
) -> None:
    headers = world["hw_a"].headers
    patient = _patient(app, world)
    uids = [ingest(app, world.facility_a, patient.national_id, images=1).study_uid for _ in "abc"]
    url = f"/api/v1/studies?patient_national_id={patient.national_id}&limit=2"
    first = client.get(url, headers=headers).get_json()
    assert [i["study_instance_uid"] for i in first["items"]] == [uids[2], uids[1]]
    assert first["next_cursor"] is not None
    last = client.get(f"{url}&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [i["study_instance_uid"] for i in last["items"]] == [uids[0]]
    assert last["next_cursor"] is None

    links = f"/api/v1/studies/{uids[0]}/links"
    made = [client.post(links, json={}, headers=headers).get_json()["id"] for _ in "abc"]
    page = client.get(f"{links}?limit=2", headers=headers).get_json()
    assert [link["id"] for link in page["items"]] == made[:2]
    rest = client.get(f"{links}?limit=2&cursor={page['next_cursor']}", headers=headers)
    assert [link["id"] for link in rest.get_json()["items"]] == made[2:]
    assert rest.get_json()["next_cursor"] is None
    assert client.get(f"{links}?cursor=nonsense", headers=headers).status_code == 400
