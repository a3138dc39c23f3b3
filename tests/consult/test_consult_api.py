"""Consults through /api/v1 on SQLite and PostgreSQL: the good paths and the bad ones."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult.assignment import escalate_due
from consult.models import Consult, ConsultEvent, ConsultOffer, OfferState
from hub import db
from hub.models import FacilityKind, Role, utcnow
from tests.consult.support import Site, bearer, consult_body, specialist, submit
from tests.support import factories as f
from tests.support.paging import all_pages, assert_refuses_bad_cursors


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def count_consults(app: Flask) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(sess.scalar(select(func.count()).select_from(Consult)) or 0)


@pytest.fixture
def site(app: Flask, session: Session) -> Site:
    built = Site(app, session)
    session.commit()
    return built


def test_submit_routes_to_same_university_level_2(
    app: Flask, client: FlaskClient, session: Session, site: Site
) -> None:
    near = specialist(session, site.l2)
    specialist(session, site.l3)
    session.commit()
    consult = submit(client, site.chw_headers, site.patient.id)
    assert consult["status"] == "offered"
    assert [o["specialist_id"] for o in consult["offers"]] == [near.id]
    assert any("university pool, level 2" in line for line in consult["routing_trace"])
    assert [e["kind"] for e in consult["timeline"]][:2] == ["submitted", "offered"]
    assert consult["accept_due_at"] is not None


def test_idempotency_key_returns_the_first_consult(
    app: Flask, client: FlaskClient, session: Session, site: Site
) -> None:
    specialist(session, site.l2)
    session.commit()
    headers = {**site.chw_headers, "Idempotency-Key": "retry-key-0001"}
    before = count_consults(app)
    first = client.post("/api/v1/consults", json=consult_body(site.patient.id), headers=headers)
    again = client.post("/api/v1/consults", json=consult_body(site.patient.id), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_consults(app) == before + 1
    other = client.post(
        "/api/v1/consults",
        headers=headers,
        json=consult_body(site.patient.id, question="A different question"),
    )
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    bad = client.post(
        "/api/v1/consults",
        json=consult_body(site.patient.id),
        headers={**site.chw_headers, "Idempotency-Key": "no spaces allowed"},
    )
    assert bad.status_code == 400


def test_concurrent_retries_make_one_consult(app: Flask, session: Session, site: Site) -> None:
    specialist(session, site.l2)
    session.commit()
    headers = {**site.chw_headers, "Idempotency-Key": "flaky-link-0001"}
    ids: list[int] = []
    statuses: list[int] = []

    def send() -> None:
        with app.test_client() as c:
            resp = c.post("/api/v1/consults", json=consult_body(site.patient.id), headers=headers)
            statuses.append(resp.status_code)
            if resp.status_code == 201:
                ids.append(resp.get_json()["id"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 6
    assert len(set(ids)) == 1


def test_missing_consent_is_409_and_nothing_written(
    app: Flask, client: FlaskClient, session: Session, site: Site
) -> None:
    fresh = f.patient(session, site.post)
    session.commit()
    before = count_consults(app)
    resp = client.post("/api/v1/consults", json=consult_body(fresh.id), headers=site.chw_headers)
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "consent_required"
    assert "consent" in resp.get_json()["error"]["message"]
    # A video consult also needs the video consent.
    video = client.post(
        "/api/v1/consults",
        json=consult_body(site.patient.id, mode="video"),
        headers=site.chw_headers,
    )
    assert video.status_code == 409
    assert video.get_json()["error"]["details"]["missing_scopes"] == ["video"]
    assert count_consults(app) == before


def test_unknown_specialty_or_patient_is_422(
    client: FlaskClient, session: Session, site: Site
) -> None:
    bad_specialty = client.post(
        "/api/v1/consults",
        headers=site.chw_headers,
        json=consult_body(site.patient.id, specialty="astrology"),
    )
    assert bad_specialty.status_code == 422
    missing = client.post(
        "/api/v1/consults", headers=site.chw_headers, json=consult_body(999_999_999)
    )
    assert missing.status_code == 422
    other_site = f.patient(session, f.facility(session, f.university(session, site.region)))
    session.commit()
    hidden = client.post(
        "/api/v1/consults", headers=site.chw_headers, json=consult_body(other_site.id)
    )
    assert hidden.status_code == 422
    assert (
        client.post(
            "/api/v1/consults",
            headers=site.chw_headers,
            json=consult_body(site.patient.id, vitals={"spo2": 140}),
        ).status_code
        == 422
    )


def test_emergency_race_exactly_one_claim_wins(
    app: Flask, client: FlaskClient, session: Session, site: Site
) -> None:
    doctors = [
        specialist(session, site.l2),
        specialist(session, site.l2),
        specialist(session, site.l3),
    ]
    tokens = [bearer(session, d) for d in doctors]
    session.commit()
    consult = submit(client, site.chw_headers, site.patient.id, urgency="emergency")
    assert sorted(o["specialist_id"] for o in consult["offers"]) == sorted(d.id for d in doctors)
    results: list[int] = []
    barrier = threading.Barrier(len(tokens) * 2)

    def claim(headers: dict[str, str]) -> None:
        with app.test_client() as c:
            barrier.wait()
            results.append(
                c.post(f"/api/v1/consults/{consult['id']}/claim", headers=headers).status_code
            )

    threads = [threading.Thread(target=claim, args=(h,)) for h in tokens * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * (len(threads) - 1)
    with app.app_context(), db.transaction() as sess:
        row = sess.get_one(Consult, consult["id"])
        claimed = sess.scalar(
            select(func.count())
            .select_from(ConsultOffer)
            .where(ConsultOffer.consult_id == row.id, ConsultOffer.state == OfferState.CLAIMED)
        )
        claim_events = sess.scalar(
            select(func.count())
            .select_from(ConsultEvent)
            .where(ConsultEvent.consult_id == row.id, ConsultEvent.kind == "claimed")
        )
    assert row.status.value == "accepted" and row.assigned_to_id in {d.id for d in doctors}
    assert claimed == 1 and claim_events == 1


def test_decline_reroutes_excluding_decliners(
    client: FlaskClient, session: Session, site: Site
) -> None:
    first, second = specialist(session, site.l2), specialist(session, site.l3)
    h1, h2 = bearer(session, first), bearer(session, second)
    session.commit()
    consult = submit(client, site.chw_headers, site.patient.id)
    assert [o["specialist_id"] for o in consult["offers"]] == [first.id]
    no_reason = client.post(f"/api/v1/consults/{consult['id']}/decline", headers=h1, json={})
    assert no_reason.status_code == 422
    declined = client.post(
        f"/api/v1/consults/{consult['id']}/decline",
        headers=h1,
        json={"reason": "In theatre for the next hours"},
    )
    assert declined.status_code == 200
    body = declined.get_json()
    assert body["status"] == "offered"
    states = {o["specialist_id"]: o["state"] for o in body["offers"]}
    assert states == {first.id: "declined", second.id: "open"}
    # The decliner keeps read access but cannot claim any more.
    assert client.post(f"/api/v1/consults/{consult['id']}/claim", headers=h1).status_code == 409
    again = client.post(
        f"/api/v1/consults/{consult['id']}/decline", headers=h2, json={"reason": "Not my area"}
    ).get_json()
    # Other tests' specialists in other regions share this database: whoever is offered next
    # (national pool) or nobody (status declined), the two who declined are never offered again.
    reoffered = [o for o in again["offers"] if o["specialist_id"] in (first.id, second.id)]
    assert [o["state"] for o in reoffered] == ["declined", "declined"]
    assert again["status"] in ("offered", "declined")
    assert client.post(f"/api/v1/consults/{consult['id']}/claim", headers=h2).status_code == 409


def test_sla_escalation_widens_then_alerts_command(
    app: Flask, client: FlaskClient, session: Session, site: Site
) -> None:
    near = specialist(session, site.l2)
    other_region = f.region(session)
    far_uni = f.university(session, other_region)
    far = specialist(session, f.facility(session, far_uni, FacilityKind.HOSPITAL, 2))
    near_headers = bearer(session, near)
    session.commit()
    consult = submit(client, site.chw_headers, site.patient.id, urgency="emergency")
    assert [o["specialist_id"] for o in consult["offers"]] == [near.id]
    later = utcnow() + timedelta(minutes=11)
    with app.app_context(), db.transaction() as sess:
        escalate_due(sess, later)
    got = client.get(f"/api/v1/consults/{consult['id']}", headers=site.chw_headers).get_json()
    assert got["status"] == "escalated"
    # Stage 1 of an emergency with nobody else in the region goes national: the far specialist
    # (and any other test's on-call pulmonologist in this shared database) is offered it too.
    offered = {o["specialist_id"] for o in got["offers"]}
    assert {near.id, far.id} <= offered
    assert any(e["kind"] == "escalated" for e in got["timeline"])
    # Each later sweep widens further (next level, other regions, national) until nobody is
    # left, then alerts the region's command staff; a few sweeps always get there.
    for step in range(2, 7):
        with app.app_context(), db.transaction() as sess:
            escalate_due(sess, later + timedelta(minutes=11 * step))
    final = client.get(f"/api/v1/consults/{consult['id']}", headers=site.chw_headers).get_json()
    kinds = [e["kind"] for e in final["timeline"]]
    assert kinds.count("command_alerted") == 1
    assert final["escalation_stage"] == 5
    stages = [e["details"]["stage"] for e in final["timeline"] if e["kind"] == "offered"]
    assert stages == sorted(stages) and stages[0] == 0
    # Offers stay open through escalation: the nearest specialist can still take it.
    assert (
        client.post(f"/api/v1/consults/{consult['id']}/claim", headers=near_headers).status_code
        == 200
    )


def test_lists_page_by_next_cursor(client: FlaskClient, session: Session, site: Site) -> None:
    doctor = specialist(session, site.l2)
    dh = bearer(session, doctor)
    session.commit()
    made = [submit(client, site.chw_headers, site.patient.id)["id"] for _ in range(3)]
    one_page = client.get("/api/v1/consults?limit=200", headers=site.chw_headers).get_json()
    assert one_page["next_cursor"] is None
    walked = all_pages(client, "/api/v1/consults", site.chw_headers, limit=1)
    assert [c["id"] for c in walked] == [c["id"] for c in one_page["items"]]
    assert [c["id"] for c in walked][:3] == made[::-1]  # newest first
    offered = all_pages(client, "/api/v1/consults?status=offered", site.chw_headers, limit=2)
    assert {c["status"] for c in offered} == {"offered"} and len(offered) >= 3
    assert_refuses_bad_cursors(client, "/api/v1/consults", site.chw_headers)

    cid = made[0]
    assert client.post(f"/api/v1/consults/{cid}/claim", headers=dh).status_code == 200
    url = f"/api/v1/consults/{cid}/messages"
    for n in range(3):
        sent = client.post(url, headers=dh, json={"body": f"message {n}"})
        assert sent.status_code == 201
    walked = all_pages(client, url, site.chw_headers, limit=2)
    assert [m["body"] for m in walked] == ["message 0", "message 1", "message 2"]
    assert client.get(url, headers=dh).get_json()["next_cursor"] is None
    assert_refuses_bad_cursors(client, url, dh)


def test_conversation_outcome_and_lifecycle(
    client: FlaskClient, session: Session, site: Site
) -> None:
    doctor = specialist(session, site.l2)
    dh = bearer(session, doctor)
    session.commit()
    consult = submit(client, site.chw_headers, site.patient.id)
    cid = consult["id"]
    premature = client.post(
        f"/api/v1/consults/{cid}/outcome",
        headers=dh,
        json={"assessment": "x" * 5, "recommendation": "y" * 5, "disposition": "refer"},
    )
    assert premature.status_code == 403  # not assigned yet
    assert client.post(f"/api/v1/consults/{cid}/claim", headers=dh).status_code == 200
    msg = client.post(
        f"/api/v1/consults/{cid}/messages",
        headers=site.chw_headers,
        json={"body": "Chest X-ray attached soon."},
    )
    assert msg.status_code == 201
    reply = client.post(
        f"/api/v1/consults/{cid}/messages",
        headers=dh,
        json={"body": "Thank you; please send SpO2 on exertion."},
    )
    assert reply.status_code == 201
    listed = client.get(f"/api/v1/consults/{cid}/messages", headers=dh).get_json()["items"]
    assert [m["body"][:5] for m in listed] == ["Chest", "Thank"]
    outcome = client.post(
        f"/api/v1/consults/{cid}/outcome",
        headers=dh,
        json={
            "assessment": "Community-acquired pneumonia.",
            "recommendation": "Amoxicillin; review in 48 hours.",
            "disposition": "follow_up",
            "prescription": [
                {
                    "medicine": "Amoxicillin",
                    "dose": "500 mg",
                    "frequency": "tds",
                    "duration_days": 7,
                }
            ],
            "follow_up_tasks": [{"description": "Recheck SpO2 tomorrow"}],
        },
    )
    assert outcome.status_code == 201, outcome.get_json()
    body = outcome.get_json()
    assert body["status"] == "answered"
    assert body["outcome"]["status"] == "pending_signature"
    assert body["outcome"]["tasks"][0]["description"] == "Recheck SpO2 tomorrow"
    twice = client.post(
        f"/api/v1/consults/{cid}/outcome",
        headers=dh,
        json={"assessment": "again", "recommendation": "again", "disposition": "refer"},
    )
    assert twice.status_code == 409
    cancel = client.post(
        f"/api/v1/consults/{cid}/cancel", headers=site.chw_headers, json={"reason": "changed mind"}
    )
    assert cancel.status_code == 409
    assert cancel.get_json()["error"]["code"] == "illegal_transition"


def test_attachments_checked_and_stored(
    app: Flask, client: FlaskClient, session: Session, site: Site
) -> None:
    specialist(session, site.l2)
    session.commit()
    cid = submit(client, site.chw_headers, site.patient.id)["id"]
    url = f"/api/v1/consults/{cid}/attachments"
    ok = client.post(
        url,
        headers=site.chw_headers,
        data={"kind": "photo", "file": (io.BytesIO(png_bytes()), "../../rash.png")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 201, ok.get_json()
    att = ok.get_json()
    assert att["content_type"] == "image/png" and att["filename"] == "rash.png"
    assert len(att["sha256"]) == 64
    got = client.get(f"{url}/{att['id']}", headers=site.chw_headers)
    assert got.status_code == 200 and got.data == png_bytes()
    assert got.headers["Content-Disposition"].startswith("attachment")
    root = app.config["HUB_SETTINGS"].data_dir / "attachments"
    files_before = sorted(p.name for p in root.rglob("*") if p.is_file())
    script = client.post(
        url,
        headers=site.chw_headers,
        data={"kind": "photo", "file": (io.BytesIO(b"#!/bin/sh\nrm -rf /\n"), "photo.png")},
        content_type="multipart/form-data",
    )
    assert script.status_code == 415
    pdf_as_audio = client.post(
        url,
        headers=site.chw_headers,
        data={"kind": "audio", "file": (io.BytesIO(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n"), "a.mp3")},
        content_type="multipart/form-data",
    )
    assert pdf_as_audio.status_code == 415
    limit = app.config["HUB_SETTINGS"].attachment_max_bytes
    huge = client.post(
        url,
        headers=site.chw_headers,
        data={"kind": "photo", "file": (io.BytesIO(png_bytes() + b"\0" * limit), "big.png")},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 413
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == files_before
    no_file = client.post(
        url, headers=site.chw_headers, data={"kind": "photo"}, content_type="multipart/form-data"
    )
    assert no_file.status_code == 400
    detail = client.get(f"/api/v1/consults/{cid}", headers=site.chw_headers).get_json()
    assert [a["id"] for a in detail["attachments"]] == [att["id"]]


def test_outsiders_get_404_and_specialist_keeps_access(
    client: FlaskClient, session: Session, site: Site
) -> None:
    doctor = specialist(session, site.l2)
    dh = bearer(session, doctor)
    outsider = bearer(session, f.user(session, Role.CHW, at=f.facility(session, site.uni)))
    session.commit()
    first = submit(client, site.chw_headers, site.patient.id)
    assert client.get(f"/api/v1/consults/{first['id']}", headers=outsider).status_code == 404
    assert client.post(f"/api/v1/consults/{first['id']}/claim", headers=dh).status_code == 200
    assert client.get(f"/api/v1/patients/{site.patient.id}", headers=dh).status_code == 200
    # The same patient's next consult goes to someone else; the first stays readable.
    client.put("/api/v1/specialists/me/availability", headers=dh, json={"state": "busy"})
    other = specialist(session, site.l3)
    session.commit()
    second = submit(client, site.chw_headers, site.patient.id)
    assert [o["specialist_id"] for o in second["offers"]] == [other.id]
    assert client.get(f"/api/v1/consults/{first['id']}", headers=dh).status_code == 200
    assert client.get(f"/api/v1/consults/{second['id']}", headers=dh).status_code == 404


def test_availability_and_worklist(client: FlaskClient, session: Session, site: Site) -> None:
    doctor = specialist(session, site.l2)
    dh = bearer(session, doctor)
    session.commit()
    paused = client.put(
        "/api/v1/specialists/me/availability", headers=dh, json={"pause_minutes": 15}
    )
    assert paused.status_code == 200 and paused.get_json()["paused_until"] is not None
    assert (
        client.put(
            "/api/v1/specialists/me/availability", headers=dh, json={"pause_minutes": 100000}
        ).status_code
        == 422
    )
    waiting = submit(client, site.chw_headers, site.patient.id)
    # Paused: never offered (others' specialists in this shared database may be).
    assert doctor.id not in [o["specialist_id"] for o in waiting["offers"]]
    assert any(f"skip {doctor.username}: paused" in t for t in waiting["routing_trace"])
    client.put("/api/v1/specialists/me/availability", headers=dh, json={"pause_minutes": 0})
    urgent = submit(client, site.chw_headers, site.patient.id, urgency="emergency")
    items = client.get("/api/v1/worklist", headers=dh).get_json()["items"]
    assert items[0]["id"] == urgent["id"] and items[0]["my_offer"] == "open"
    assert client.get("/api/v1/worklist", headers=site.chw_headers).status_code == 403


def test_basic_phone_consult_registered_afterwards(
    client: FlaskClient, session: Session, site: Site
) -> None:
    doctor = specialist(session, site.l2)
    dh = bearer(session, doctor)
    session.commit()
    wrong = client.post(
        "/api/v1/consults",
        headers=site.chw_headers,
        json=consult_body(site.patient.id, registered_after=True, consultant=doctor.username),
    )
    assert wrong.status_code == 422  # only basic-level phone consults
    consult = submit(
        client,
        site.chw_headers,
        site.patient.id,
        registered_after=True,
        consultant=doctor.username,
        mode="phone",
        tech_level="basic",
    )
    assert consult["status"] == "accepted" and consult["assigned_to"] == doctor.id
    outcome = {
        "assessment": "As on the paper form.",
        "recommendation": "As on the form.",
        "disposition": "manage_locally",
    }
    url = f"/api/v1/consults/{consult['id']}/outcome"
    missing = client.post(url, headers=dh, json=outcome)
    assert missing.status_code == 409
    assert missing.get_json()["error"]["code"] == "paper_form_required"
    client.post(
        f"/api/v1/consults/{consult['id']}/attachments",
        headers=site.chw_headers,
        data={"kind": "paper_form", "file": (io.BytesIO(png_bytes()), "form.png")},
        content_type="multipart/form-data",
    )
    assert client.post(url, headers=dh, json=outcome).status_code == 201


def test_roster_shift_validation(client: FlaskClient, session: Session, site: Site) -> None:
    doctor = f.user(session, Role.SPECIALIST, at=site.l2, specialty="pulmonology")
    admin = bearer(session, f.user(session, Role.NATIONAL_ADMIN))
    session.commit()
    body = {
        "specialist": doctor.username,
        "specialty": "pulmonology",
        "facility": site.l2.code,
        "starts_at": "2026-12-01T08:00:00+03:30",
        "ends_at": "2026-12-01T20:00:00+03:30",
    }
    assert client.post("/api/v1/roster/shifts", headers=admin, json=body).status_code == 201
    for bad in (
        {"ends_at": "2026-12-01T07:00:00+03:30"},
        {"specialty": "cardiology"},
        {"facility": site.post.code},
        {"starts_at": "2026-12-01T08:00:00"},
    ):
        resp = client.post("/api/v1/roster/shifts", headers=admin, json={**body, **bad})
        assert resp.status_code == 422, bad
    listed = client.get(
        "/api/v1/roster/shifts?specialty=pulmonology&start="
        "2026-12-01T00:00:00Z&end=2026-12-02T00:00:00Z",
        headers=admin,
    ).get_json()["items"]
    assert doctor.username in [s["specialist"] for s in listed]
    assert (
        client.get("/api/v1/roster/shifts?start=2026-12-01T00:00:00", headers=admin).status_code
        == 422
    )


def test_consent_scopes_via_api_then_submit(
    client: FlaskClient, session: Session, site: Site
) -> None:
    specialist(session, site.l2)
    fresh = f.patient(session, site.post)
    session.commit()
    resp = client.post(
        f"/api/v1/patients/{fresh.id}/consents",
        headers=site.chw_headers,
        json={"scopes": ["consult", "video", "recording"]},
    )
    assert resp.status_code == 201
    consult = submit(client, site.chw_headers, fresh.id, mode="video")
    assert consult["mode"] == "video"
