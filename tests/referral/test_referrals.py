"""Referrals through the API on SQLite and PostgreSQL: the directory, creation and its refusals,
accept and decline, the back-referral closing the loop, open loops, the FHIR export."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import AuditEvent, utcnow
from referral.models import Referral
from tests.referral.support import Network


def test_directory_lists_facilities_offering_a_specialty(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    resp = client.get("/api/v1/facilities?offers=pulmonology&limit=200", headers=net.h["chw"])
    assert resp.status_code == 200
    by_code = {e["code"]: e for e in resp.get_json()["items"]}
    assert net.hospital.code in by_code and net.virtual.code in by_code
    assert net.plain.code not in by_code
    entry = by_code[net.virtual.code]
    assert entry["kind"] == "virtual_clinic" and entry["level"] == 2 and entry["virtual_clinic"]
    assert entry["clinics"][0]["code"] == net.vclinic.code
    none = client.get("/api/v1/facilities?offers=no-such-thing", headers=net.h["chw"])
    assert none.get_json()["items"] == []


def test_referral_to_a_facility_without_the_specialty_is_422(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    body = net.refer(client, to=net.plain.code, expect=422)
    assert body["error"]["code"] == "specialty_not_offered"
    assert session.scalar(select(Referral.id).where(Referral.patient_id == net.patient.id)) is None


def test_second_live_referral_is_409_pointing_at_the_first(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    first = net.refer(client)
    assert first["status"] == "created" and first["to_facility"] == net.hospital.code
    second = net.refer(client, to=net.virtual.code, expect=409)
    assert second["error"]["code"] == "live_referral_exists"
    assert second["error"]["details"]["referral_id"] == first["id"]
    assert second["error"]["details"]["url"] == f"/referrals/{first['id']}"
    # The form looks it up before submitting.
    live = client.get(
        f"/api/v1/referrals?patient_id={net.patient.id}&specialty=pulmonology&live=true",
        headers=net.h["chw"],
    )
    assert [r["id"] for r in live.get_json()["items"]] == [first["id"]]
    # Once declined it is no longer live: a new referral may go elsewhere.
    declined = client.post(
        f"/api/v1/referrals/{first['id']}/decline",
        json={"reason": "No capacity this month"},
        headers=net.h["specialist"],
    )
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    assert declined.get_json()["decline_reason"] == "No capacity this month"
    again = net.refer(client, to=net.virtual.code)
    assert again["id"] != first["id"]


def test_another_facilitys_referral_is_404(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    ref = net.refer(client)
    for verb in ("accept",):
        resp = client.post(f"/api/v1/referrals/{ref['id']}/{verb}", headers=net.h["other_chw"])
        assert resp.status_code == 404
    assert (
        client.get(f"/api/v1/referrals/{ref['id']}", headers=net.h["other_chw"]).status_code == 404
    )
    # The contracted specialist of the virtual clinic is not on this referral's receiving side.
    resp = client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["contracted"])
    assert resp.status_code == 404
    # The referring side sees it but cannot accept its own referral.
    resp = client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["chw"])
    assert resp.status_code == 403


def test_closed_loop_accept_back_referral_acknowledge(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    ref = net.refer(client)
    rid = ref["id"]
    accepted = client.post(f"/api/v1/referrals/{rid}/accept", headers=net.h["specialist"])
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["status"] == "accepted"
    assert accepted.get_json()["receiving_clinician_id"] == net.specialist.id
    # Acknowledging before there is a back-referral: the referral cannot be completed.
    early = client.post(f"/api/v1/referrals/{rid}/back-referral/acknowledge", headers=net.h["chw"])
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "no_back_referral"
    body = {
        "summary": "Early fibrosis on HRCT.",
        "findings": "Basal reticulation.",
        "medication": "Pirfenidone 267 mg three times a day",
        "tasks": [{"text": "Spirometry in 3 months", "due": "2099-03-01"}],
    }
    # Only the receiving clinician answers: a colleague of the same clinic is refused.
    other = client.post(
        f"/api/v1/referrals/{rid}/back-referral", json=body, headers=net.h["colleague"]
    )
    assert other.status_code == 403
    back = client.post(
        f"/api/v1/referrals/{rid}/back-referral", json=body, headers=net.h["specialist"]
    )
    assert back.status_code == 201, back.get_json()
    assert back.get_json()["tasks"][0]["due"] == "2099-03-01"
    again = client.post(
        f"/api/v1/referrals/{rid}/back-referral", json=body, headers=net.h["specialist"]
    )
    assert again.status_code == 409
    # The receiving side cannot acknowledge its own answer.
    assert (
        client.post(
            f"/api/v1/referrals/{rid}/back-referral/acknowledge", headers=net.h["specialist"]
        ).status_code
        == 403
    )
    done = client.post(f"/api/v1/referrals/{rid}/back-referral/acknowledge", headers=net.h["chw"])
    assert done.status_code == 200
    out = done.get_json()
    assert out["status"] == "completed" and out["back_referral"]["acknowledged_at"]
    assert out["closed_at"] is not None
    actions = set(
        session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "referral", AuditEvent.object_id == str(rid)
            )
        )
    )
    assert {
        "referral:referral:created",
        "referral:referral:accepted",
        "referral:back_referral:created",
        "referral:back_referral:acknowledged",
    } <= actions
    session.rollback()  # SQLite: let the requests below write
    fhir = client.get(f"/api/v1/referrals/{rid}/fhir", headers=net.h["chw"]).get_json()
    request, task = (e["resource"] for e in fhir["entry"])
    assert request["resourceType"] == "ServiceRequest" and request["status"] == "completed"
    assert task["resourceType"] == "Task" and task["status"] == "completed"
    assert task["businessStatus"]["coding"][0]["code"] == "completed"
    assert task["focus"]["reference"] == f"ServiceRequest/{request['id']}"


def test_open_loops_are_listed_for_both_sides_and_command(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    ref = net.refer(client)
    rid = ref["id"]
    assert (
        client.post(f"/api/v1/referrals/{rid}/accept", headers=net.h["specialist"]).status_code
        == 200
    )
    row = session.get_one(Referral, rid)
    # The visit happened ten days ago and nobody wrote back (the default target is 7 days).
    now = utcnow()
    row.first_visit_at = now - timedelta(days=10)
    row.created_at = now - timedelta(days=30)
    session.commit()
    for who in ("chw", "specialist", "command"):
        resp = client.get("/api/v1/referrals?open_loop=true", headers=net.h[who])
        assert resp.status_code == 200
        items = {r["id"]: r for r in resp.get_json()["items"]}
        assert rid in items, who
        assert items[rid]["open_loop"] == ["no_back_referral"]
        assert items[rid]["waiting_days"] == 20 and items[rid]["wait_breached"] is True
    # Another health post sees none of it.
    resp = client.get("/api/v1/referrals?open_loop=true", headers=net.h["other_chw"])
    assert rid not in {r["id"] for r in resp.get_json()["items"]}
    # A recent visit is not an open loop yet.
    row.first_visit_at = utcnow() - timedelta(days=1)
    session.commit()
    resp = client.get("/api/v1/referrals?open_loop=true", headers=net.h["chw"])
    assert rid not in {r["id"] for r in resp.get_json()["items"]}
