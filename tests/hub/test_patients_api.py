"""Patients and consents through /api/v1, with the bad paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from hub import db
from hub.models import AuditEvent, Membership, Patient
from tests.support import factories as f
from tests.support.apps import make_app
from tests.support.paging import all_pages, assert_refuses_bad_cursors
from tests.support.personas import World


def new_patient(world: World, **overrides: Any) -> dict[str, Any]:
    body = {
        "national_id": f.national_id(),
        "given_name": "Leila",
        "family_name": "Sadeghi",
        "date_of_birth": "1991-04-05",
        "sex": "female",
        "phone": "+98 912 000 0000",
    }
    body.update(overrides)
    return body


def count_patients(app: Flask) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(sess.scalar(select(func.count()).select_from(Patient)) or 0)


def test_register_and_read_back(client: FlaskClient, world: World) -> None:
    body = new_patient(world)
    resp = client.post("/api/v1/patients", json=body, headers=world["hw_a"].headers)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["home_facility"] == world.facility_a.code
    assert created["national_id"] == body["national_id"]
    got = client.get(f"/api/v1/patients/{created['id']}", headers=world["hw_a"].headers)
    assert got.status_code == 200
    assert got.get_json()["family_name"] == "Sadeghi"


def test_reads_and_writes_are_audited(app: Flask, client: FlaskClient, world: World) -> None:
    resp = client.get(f"/api/v1/patients/{world.patient_a.id}", headers=world["hw_a"].headers)
    assert resp.status_code == 200
    with app.app_context(), db.transaction() as sess:
        event = sess.scalar(
            select(AuditEvent).where(AuditEvent.request_id == resp.headers["X-Request-ID"])
        )
    assert event is not None
    assert event.action == "hub:patient:viewed"
    assert event.object_id == str(world.patient_a.id)
    assert event.outcome == "ok"


def test_other_facility_patient_is_hidden_and_refusal_audited(
    app: Flask, client: FlaskClient, world: World
) -> None:
    resp = client.get(f"/api/v1/patients/{world.patient_a.id}", headers=world["hw_b"].headers)
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    with app.app_context(), db.transaction() as sess:
        event = sess.scalar(
            select(AuditEvent).where(AuditEvent.request_id == resp.headers["X-Request-ID"])
        )
    assert event is not None and event.outcome == "denied"
    assert event.object_id == str(world.patient_a.id)


def test_unknown_field_is_422_and_nothing_written(
    app: Flask, client: FlaskClient, world: World
) -> None:
    before = count_patients(app)
    resp = client.post(
        "/api/v1/patients", json=new_patient(world, blood_type="A+"), headers=world["hw_a"].headers
    )
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert any(d["field"] == "blood_type" for d in error["details"])
    assert count_patients(app) == before


def test_malformed_json_is_400(client: FlaskClient, world: World) -> None:
    resp = client.post(
        "/api/v1/patients",
        data="{not json",
        headers={**world["hw_a"].headers, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "malformed_json"


def test_json_array_body_is_422(client: FlaskClient, world: World) -> None:
    resp = client.post("/api/v1/patients", json=[1, 2], headers=world["hw_a"].headers)
    assert resp.status_code == 422


def test_bad_checksum_national_id_is_422(client: FlaskClient, world: World) -> None:
    good = f.national_id()
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    resp = client.post(
        "/api/v1/patients", json=new_patient(world, national_id=bad), headers=world["hw_a"].headers
    )
    assert resp.status_code == 422
    assert "check digit" in resp.get_json()["error"]["message"]


def test_future_birth_date_is_422(client: FlaskClient, world: World) -> None:
    resp = client.post(
        "/api/v1/patients",
        json=new_patient(world, date_of_birth="2999-01-01"),
        headers=world["hw_a"].headers,
    )
    assert resp.status_code == 422


def test_duplicate_national_id_is_409(app: Flask, client: FlaskClient, world: World) -> None:
    body = new_patient(world)
    assert (
        client.post("/api/v1/patients", json=body, headers=world["hw_a"].headers).status_code == 201
    )
    before = count_patients(app)
    again = client.post("/api/v1/patients", json=body, headers=world["hw_b"].headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "duplicate_national_id"
    assert count_patients(app) == before


def test_registering_at_another_facility_is_403(client: FlaskClient, world: World) -> None:
    resp = client.post(
        "/api/v1/patients",
        json=new_patient(world, home_facility=world.facility_b.code),
        headers=world["hw_a"].headers,
    )
    assert resp.status_code == 403


def test_missing_token_is_401_and_bad_token_is_401(client: FlaskClient) -> None:
    assert client.get("/api/v1/patients").status_code == 401
    resp = client.get("/api/v1/patients", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "invalid_token"
    assert "Bearer" in resp.headers["WWW-Authenticate"]


def test_list_is_scoped_to_facility(client: FlaskClient, world: World) -> None:
    ids = {p["id"] for p in all_pages(client, "/api/v1/patients", world["hw_b"].headers)}
    assert world.patient_b.id in ids
    assert world.patient_a.id not in ids
    assert client.get("/api/v1/patients?limit=0", headers=world["hw_b"].headers).status_code == 422


def test_list_pages_by_next_cursor(client: FlaskClient, world: World) -> None:
    h = world["hw_a"].headers
    for _ in range(3):
        made = client.post("/api/v1/patients", json=new_patient(world), headers=h)
        assert made.status_code == 201
    one_page = client.get("/api/v1/patients?limit=200", headers=h).get_json()
    assert one_page["next_cursor"] is None
    walked = all_pages(client, "/api/v1/patients", h, limit=1)
    assert [p["id"] for p in walked] == [p["id"] for p in one_page["items"]]
    assert len(walked) >= 4
    found = client.get("/api/v1/patients?q=Sadeghi&limit=2", headers=h).get_json()
    assert len(found["items"]) == 2 and found["next_cursor"] is not None
    rest = client.get(f"/api/v1/patients?q=Sadeghi&cursor={found['next_cursor']}", headers=h)
    assert {p["family_name"] for p in rest.get_json()["items"]} == {"Sadeghi"}
    assert_refuses_bad_cursors(client, "/api/v1/patients", h)


def test_command_sees_own_region_only(client: FlaskClient, world: World) -> None:
    x = world["command_x"].headers
    assert client.get(f"/api/v1/patients/{world.patient_a.id}", headers=x).status_code == 200
    assert client.get(f"/api/v1/patients/{world.patient_c.id}", headers=x).status_code == 404
    y = world["command_y"].headers
    assert client.get(f"/api/v1/patients/{world.patient_c.id}", headers=y).status_code == 200
    assert client.get(f"/api/v1/patients/{world.patient_a.id}", headers=y).status_code == 404


def test_insurer_sees_only_its_members(app: Flask, client: FlaskClient, world: World) -> None:
    a = world["insurer_a"].headers
    assert client.get(f"/api/v1/patients/{world.patient_a.id}", headers=a).status_code == 200
    assert client.get(f"/api/v1/patients/{world.patient_b.id}", headers=a).status_code == 404
    listed = all_pages(client, "/api/v1/patients", a)
    # The world is shared by the session: other tests may enrol more patients with insurer A.
    with app.app_context(), db.transaction() as sess:
        members = sess.scalars(
            select(Membership.patient_id)
            .join(Patient, Patient.id == Membership.patient_id)
            .where(Membership.insurer_id == world.insurer_a.id, Patient.merged_into_id.is_(None))
            .distinct()
        ).all()
    assert [p["id"] for p in listed] == sorted(members)
    assert world.patient_a.id in members and world.patient_b.id not in members


def test_consent_record_and_withdraw(client: FlaskClient, world: World) -> None:
    h = world["hw_a"].headers
    pid = world.patient_a.id
    resp = client.post(
        f"/api/v1/patients/{pid}/consents",
        headers=h,
        json={"scopes": ["video", "recording"], "method": "verbal"},
    )
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()["items"]
    assert [c["scope"] for c in created] == ["video", "recording"]
    assert (
        created[0]["given_by_name"] == f"{world.patient_a.given_name} {world.patient_a.family_name}"
    )
    consent = created[0]
    assert consent["active"] is True
    listed = client.get(f"/api/v1/patients/{pid}/consents", headers=h).get_json()["items"]
    assert consent["id"] in [c["id"] for c in listed]
    withdrawn = client.post(f"/api/v1/patients/{pid}/consents/{consent['id']}/withdraw", headers=h)
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["active"] is False
    again = client.post(f"/api/v1/patients/{pid}/consents/{consent['id']}/withdraw", headers=h)
    assert again.status_code == 409


def test_consent_with_bad_scope_is_422(client: FlaskClient, world: World) -> None:
    resp = client.post(
        f"/api/v1/patients/{world.patient_a.id}/consents",
        headers=world["hw_a"].headers,
        json={"scopes": ["everything"]},
    )
    assert resp.status_code == 422
    for bad in ({"scopes": []}, {"scopes": ["video", "video"]}, {"scope": "video"}):
        assert (
            client.post(
                f"/api/v1/patients/{world.patient_a.id}/consents",
                headers=world["hw_a"].headers,
                json=bad,
            ).status_code
            == 422
        )


def test_merge_duplicates(app: Flask, client: FlaskClient, world: World) -> None:
    h = world["hw_a"].headers
    first = client.post("/api/v1/patients", json=new_patient(world), headers=h).get_json()
    second = client.post("/api/v1/patients", json=new_patient(world), headers=h).get_json()
    client.post(
        f"/api/v1/patients/{second['id']}/consents",
        headers=h,
        json={"scopes": ["consult"], "method": "written"},
    )
    # A health worker may not merge; the facility admin may.
    assert (
        client.post(
            f"/api/v1/patients/{first['id']}/merge",
            headers=h,
            json={"duplicate_id": second["id"], "reason": "same person"},
        ).status_code
        == 403
    )
    admin = world["admin_a"].headers
    resp = client.post(
        f"/api/v1/patients/{first['id']}/merge",
        headers=admin,
        json={"duplicate_id": second["id"], "reason": "same person, typo in national id"},
    )
    assert resp.status_code == 200, resp.get_json()
    dup = client.get(f"/api/v1/patients/{second['id']}", headers=admin).get_json()
    assert dup["merged_into"] == first["id"]
    consents = client.get(f"/api/v1/patients/{first['id']}/consents", headers=admin)
    assert len(consents.get_json()["items"]) == 1
    again = client.post(
        f"/api/v1/patients/{first['id']}/merge",
        headers=admin,
        json={"duplicate_id": second["id"], "reason": "again"},
    )
    assert again.status_code == 409
    itself = client.post(
        f"/api/v1/patients/{first['id']}/merge",
        headers=admin,
        json={"duplicate_id": first["id"], "reason": "self"},
    )
    assert itself.status_code == 422


def test_patch_patient(client: FlaskClient, world: World) -> None:
    h = world["hw_a"].headers
    created = client.post("/api/v1/patients", json=new_patient(world), headers=h).get_json()
    resp = client.patch(
        f"/api/v1/patients/{created['id']}", headers=h, json={"phone": "+98 21 1234 5678"}
    )
    assert resp.status_code == 200
    assert resp.get_json()["phone"] == "+98 21 1234 5678"
    assert (
        client.patch(
            f"/api/v1/patients/{created['id']}", headers=h, json={"given_name": None}
        ).status_code
        == 422
    )
    assert client.patch(f"/api/v1/patients/{created['id']}", headers=h, json={}).status_code == 422
    assert (
        client.patch(
            f"/api/v1/patients/{created['id']}",
            headers=world["hw_b"].headers,
            json={"phone": "+98 21 1234 5679"},
        ).status_code
        == 404
    )


def test_no_free_database_connection_is_503_and_saves_nothing(
    database_url: str, world: World, tmp_path: Path
) -> None:
    """An overloaded hub (every pooled connection busy past the pool's wait) answers 503 with
    Retry-After, never 500; nothing is written, and the same request succeeds once it clears."""
    busy = make_app(database_url, tmp_path / "data")
    database = db.get_db(busy)
    assert database.engine is not None
    database.engine.dispose()
    database.engine = db.make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    database.session_factory = sessionmaker(database.engine, expire_on_commit=False)
    body = new_patient(world)
    try:
        with busy.test_client() as client:
            with database.engine.connect():  # the only connection, held elsewhere
                resp = client.post("/api/v1/patients", json=body, headers=world["hw_a"].headers)
            assert resp.status_code == 503
            assert resp.headers["Retry-After"] == "5"
            assert resp.get_json()["error"]["code"] == "database_unavailable"
            with database.engine.connect() as conn:
                stored = conn.scalar(
                    select(func.count())
                    .select_from(Patient)
                    .where(Patient.national_id == body["national_id"])
                )
            assert stored == 0
            again = client.post("/api/v1/patients", json=body, headers=world["hw_a"].headers)
            assert again.status_code == 201, again.get_data(as_text=True)
    finally:
        database.engine.dispose()
