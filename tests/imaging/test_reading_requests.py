"""Teleradiology on SQLite and PostgreSQL: who may send a study for reading (SEEDS 004), routing
with its trace, exactly one claim wins, access to the study follows the request, a signed report
completes it; critical results are acknowledged by the sending facility or escalate."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult.models import SpecialistState, SpecialistStatus
from hub import db
from hub.models import Role, User, utcnow
from hub.pki import ca
from imaging.reading.cli import set_site, set_technician
from imaging.reading.critical import escalate_due, set_window
from imaging.reading.models import CriticalResult, CriticalWindow, ReadingRequest
from tests.consult.support import bearer, on_call
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import clinician, pki

__all__ = ["pki"]
REPORT = {"findings": "Free air under the right hemidiaphragm.", "impression": "Perforation."}


@dataclass
class Case:
    uid: str
    sender: dict[str, str]
    head: dict[str, str]
    readers: list[dict[str, str]]
    reader_ids: list[int]
    outsider: dict[str, str]
    outsider_radiologist: dict[str, str]
    sender_name: str = ""
    reader_names: tuple[str, ...] = ()
    outsider_name: str = ""


def _case(app: Flask, session: Session, world: World, *, licensed: bool = True) -> Case:
    """A study of a fresh facility in region X, two radiologists at the region's hospital."""
    facility = f.facility(session, f.university(session, world.region_x))
    set_site(session, facility.id, licensed)
    set_technician(session, facility.id, "Tech Qualified", True)
    set_technician(session, facility.id, "Tech Trainee", False)
    patient = f.patient(session, facility)
    readers = [clinician(session, Role.RADIOLOGIST, at=world.hospital_x) for _ in range(2)]
    far = clinician(session, Role.RADIOLOGIST, at=world.facility_c)
    gp = clinician(session, Role.GP, at=facility)
    outsider = clinician(session, Role.GP, at=world.facility_b)
    case = Case(
        uid="",
        sender=bearer(session, gp),
        head=bearer(session, f.user(session, Role.FACILITY_ADMIN, at=facility)),
        readers=[bearer(session, r) for r in readers],
        reader_ids=[r.id for r in readers],
        outsider=bearer(session, outsider),
        outsider_radiologist=bearer(session, far),
        sender_name=gp.username,
        reader_names=tuple(r.username for r in readers),
        outsider_name=outsider.username,
    )
    session.commit()
    case.uid = ingest(app, facility, patient.national_id, images=1).study_uid
    return case


def _send(client: FlaskClient, case: Case, **extra: object) -> dict[str, object]:
    body = {"study_instance_uid": case.uid, "urgency": "urgent", "clinical_question": "Pain?"}
    resp = client.post("/api/v1/reading-requests", json={**body, **extra}, headers=case.sender)
    assert resp.status_code == 201, resp.get_json()
    data: dict[str, object] = resp.get_json()
    return data


def test_request_is_routed_claimed_once_read_and_completed(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    case = _case(app, session, world)
    study = f"/api/v1/studies/{case.uid}"
    # Before a request, the hospital's radiologist does not see the health post's study.
    assert client.get(study, headers=case.readers[0]).status_code == 404
    sent = _send(client, case)
    assert sent["status"] == "scheduled"
    trace = "\n".join(sent["routing_trace"])  # type: ignore[arg-type]
    assert "licensed" in trace and "Tech Qualified" in trace and "tier 1" in trace
    assert "SLA (urgent): report due within 240 min" in trace
    again = client.post(
        "/api/v1/reading-requests",
        json={"study_instance_uid": case.uid, "urgency": "urgent", "clinical_question": "x"},
        headers=case.sender,
    )
    assert again.status_code == 409

    listed = client.get("/api/v1/reading-worklist", headers=case.readers[0]).get_json()
    assert sent["id"] in [i["id"] for i in listed["items"]]
    assert client.get("/api/v1/reading-worklist", headers=case.sender).status_code == 403
    # A radiologist of another region is not offered it.
    far = client.post(
        f"/api/v1/reading-requests/{sent['id']}/claim", headers=case.outsider_radiologist
    )
    assert far.status_code == 404

    claimed = client.post(f"/api/v1/reading-requests/{sent['id']}/claim", headers=case.readers[0])
    assert claimed.status_code == 200, claimed.get_json()
    assert claimed.get_json()["status"] == "in_progress"
    lost = client.post(f"/api/v1/reading-requests/{sent['id']}/claim", headers=case.readers[1])
    assert lost.status_code == 409 and lost.get_json()["error"]["code"] == "taken"
    # Access follows the request: the assigned radiologist now sees the study, the other not.
    assert client.get(study, headers=case.readers[0]).status_code == 200
    assert client.get(study, headers=case.readers[1]).status_code == 404

    assert client.put(f"{study}/report", json=REPORT, headers=case.readers[0]).status_code == 200
    signed = client.post(f"{study}/report/sign", headers=case.readers[0])
    assert signed.status_code == 201, signed.get_json()
    done = client.get(f"/api/v1/reading-requests/{sent['id']}", headers=case.sender).get_json()
    assert done["status"] == "completed" and done["completed_at"] is not None


def test_only_licensed_facilities_with_qualified_technicians_send(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    unlicensed = _case(app, session, world, licensed=False)
    body = {"study_instance_uid": unlicensed.uid, "urgency": "routine", "clinical_question": "?"}
    refused = client.post("/api/v1/reading-requests", json=body, headers=unlicensed.sender)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "facility_not_licensed"

    case = _case(app, session, world)
    body["study_instance_uid"] = case.uid
    trainee = client.post(
        "/api/v1/reading-requests", json={**body, "technician": "Tech Trainee"}, headers=case.sender
    )
    assert trainee.status_code == 422
    assert trainee.get_json()["error"]["code"] == "technician_not_qualified"
    stranger = client.post("/api/v1/reading-requests", json=body, headers=case.outsider)
    assert stranger.status_code == 404
    for bad in (
        {**body, "urgency": "whenever"},
        {**body, "clinical_question": ""},
        {**body, "study_instance_uid": "not-a-uid"},
        {**body, "extra": 1},
    ):
        resp = client.post("/api/v1/reading-requests", json=bad, headers=case.sender)
        assert resp.status_code == 422, bad
    session.rollback()
    count = session.scalar(
        select(func.count())
        .select_from(ReadingRequest)
        .where(ReadingRequest.study.has(study_instance_uid=case.uid))
    )
    session.rollback()
    assert count == 0
    assert _send(client, case, technician="tech qualified")["status"] == "scheduled"


def test_two_concurrent_claims_one_wins(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    case = _case(app, session, world)
    sent = _send(client, case)
    barrier = threading.Barrier(4)
    results: list[int] = []

    def claim(headers: dict[str, str]) -> None:
        with app.test_client() as c:
            barrier.wait()
            url = f"/api/v1/reading-requests/{sent['id']}/claim"
            results.append(c.post(url, headers=headers).status_code)

    threads = [threading.Thread(target=claim, args=(h,)) for h in case.readers * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409, 409, 409]
    with app.app_context(), db.transaction() as sess:
        row = sess.get_one(ReadingRequest, sent["id"])
        assert row.status.value == "in_progress" and row.assigned_to_id in case.reader_ids


def test_critical_result_acknowledged_by_the_facility_or_escalated(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    case = _case(app, session, world)
    sent = _send(client, case)
    url = f"/api/v1/reading-requests/{sent['id']}"
    body = {"category": 1, "finding": "Tension pneumothorax, left."}
    early = client.post(f"{url}/critical-results", json=body, headers=case.readers[0])
    assert early.status_code == 404  # not claimed by them
    assert client.post(f"{url}/claim", headers=case.readers[0]).status_code == 200
    assert (
        client.post(
            f"{url}/critical-results", json={**body, "category": 4}, headers=case.readers[0]
        ).status_code
        == 422
    )
    raised = client.post(f"{url}/critical-results", json=body, headers=case.readers[0])
    assert raised.status_code == 201, raised.get_json()
    first = raised.get_json()
    assert first["status"] == "open" and first["escalation_level"] == 0
    assert [e["kind"] for e in first["timeline"]] == ["raised", "alerted"]

    ack_url = f"/api/v1/critical-results/{first['id']}/acknowledge"
    ack = {"method": "phone", "read_back": "Left tension pneumothorax."}
    assert client.post(ack_url, json=ack, headers=case.outsider).status_code == 404
    assert client.post(ack_url, json=ack, headers=case.readers[0]).status_code == 403
    assert (
        client.post(
            ack_url, json={"method": "pigeon", "read_back": "x"}, headers=case.sender
        ).status_code
        == 422
    )
    done = client.post(ack_url, json=ack, headers=case.sender)
    assert done.status_code == 200, done.get_json()
    got = done.get_json()
    assert got["status"] == "acknowledged" and got["ack_method"] == "phone"
    assert got["read_back"] == ack["read_back"] and got["acknowledged_by_id"] is not None
    assert client.post(ack_url, json=ack, headers=case.sender).status_code == 409

    second = client.post(f"{url}/critical-results", json=body, headers=case.readers[0]).get_json()
    session.rollback()
    due = session.get_one(CriticalResult, second["id"]).ack_due_at
    session.rollback()
    # The window is 15 minutes by default; the sweep moves one level per window.
    assert due - utcnow() <= timedelta(minutes=15)
    with app.app_context(), db.transaction() as sess:
        escalate_due(sess, now=due + timedelta(seconds=1))
    level1 = client.get(f"/api/v1/critical-results/{second['id']}", headers=case.head).get_json()
    assert level1["status"] == "escalated" and level1["escalation_level"] == 1
    with app.app_context(), db.transaction() as sess:
        escalate_due(sess, now=due + timedelta(minutes=16))
    level2 = client.get(f"/api/v1/critical-results/{second['id']}", headers=case.sender).get_json()
    assert level2["escalation_level"] == 2
    steps = [(e["kind"], e["details"].get("to")) for e in level2["timeline"]]
    assert steps[-2:] == [("escalated", "facility_head"), ("escalated", "region_command")]
    assert (
        client.get(f"/api/v1/critical-results/{second['id']}", headers=case.outsider).status_code
        == 404
    )


def test_ack_window_is_configurable(app: Flask, session: Session) -> None:
    set_window(session, 2, 30)
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["critical-results", "set", "--category", "3", "--ack-minutes", "60"]
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(args=["critical-results", "set", "--category", "4", "--ack-minutes", "60"])
    assert bad.exit_code != 0
    session.rollback()
    assert session.get_one(CriticalWindow, 3).ack_minutes == 60
    assert session.get_one(CriticalWindow, 2).ack_minutes == 30
    session.rollback()


def test_routing_prefers_the_on_call_roster(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    case = _case(app, session, world)
    on_shift, paused = (session.get_one(User, uid) for uid in case.reader_ids)
    shifts = [
        on_call(session, who, world.hospital_x, specialty="radiology") for who in (on_shift, paused)
    ]
    session.add(
        SpecialistStatus(
            user_id=paused.id,
            state=SpecialistState.AVAILABLE,
            paused_until=utcnow() + timedelta(minutes=30),
        )
    )
    session.commit()
    sent = _send(client, case)
    assert any("on-call roster:" in line for line in sent["routing_trace"])  # type: ignore[union-attr]
    session.rollback()
    request = session.get_one(ReadingRequest, sent["id"])
    assert on_shift.id in request.candidate_ids and paused.id not in request.candidate_ids
    # The shared world's later requests in region X must not be offered to these two alone.
    for shift in shifts:
        session.delete(session.merge(shift))
    session.commit()
