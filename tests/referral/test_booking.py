"""Clinic slots and appointments on SQLite and PostgreSQL: slots from weekly availability, the
409s with the next free slots, reschedule, cancel, check-in, no-show, and two bookings racing
for one slot (exactly one wins)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.auth.principal import user_principal
from hub.errors import Conflict
from hub.models import User, utcnow
from referral import booking
from referral.models import Appointment, Slot
from referral.schemas import AppointmentIn
from tests.referral.support import Network


def _window() -> str:
    start = (utcnow() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=2)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return f"from={start.strftime(fmt)}&to={end.strftime(fmt)}"


def _slots(client: FlaskClient, net: Network, code: str) -> list[dict[str, Any]]:
    resp = client.get(f"/api/v1/clinics/{code}/slots?{_window()}", headers=net.h["chw"])
    assert resp.status_code == 200, resp.get_json()
    return list(resp.get_json()["items"])


def _accepted(client: FlaskClient, net: Network, patient_id: int | None = None) -> int:
    ref = net.refer(client, patient_id=patient_id)
    resp = client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["specialist"])
    assert resp.status_code == 200
    return int(ref["id"])


def test_slots_come_from_weekly_availability(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    slots = _slots(client, net, net.clinic.code)
    # 08:00-16:00 UTC in 30 minutes: 16 a day, two days.
    assert len(slots) == 32 and all(s["free"] and s["mode"] == "virtual" for s in slots)
    first = datetime.fromisoformat(slots[0]["starts_at"])
    assert (first.hour, first.minute) == (8, 0)
    # Asking again writes no second copy; the facility code gives its clinics' slots too.
    assert [s["id"] for s in _slots(client, net, net.hospital.code)] == [s["id"] for s in slots]
    bad = client.get(
        f"/api/v1/clinics/{net.clinic.code}/slots?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z",
        headers=net.h["chw"],
    )
    assert bad.status_code == 422
    far = client.get(
        f"/api/v1/clinics/{net.clinic.code}/slots?from=9999-12-31T00:00:00Z", headers=net.h["chw"]
    )
    assert far.status_code == 422
    assert client.get("/api/v1/clinics/NO-SUCH/slots", headers=net.h["chw"]).status_code == 404


def test_booking_a_taken_slot_is_409_with_next_free(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    rid = _accepted(client, net)
    slots = _slots(client, net, net.clinic.code)
    booked = client.post(
        "/api/v1/appointments",
        json={"referral_id": rid, "patient_id": net.patient.id, "slot_id": slots[0]["id"]},
        headers=net.h["chw"],
    )
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["status"] == "booked" and booked.get_json()["mode"] == "virtual"
    ref = client.get(f"/api/v1/referrals/{rid}", headers=net.h["chw"]).get_json()
    assert ref["status"] == "scheduled" and ref["appointments"][0]["id"] == booked.get_json()["id"]
    # Another patient (booked by the GP, taking a phone call) wants the same slot.
    taken = client.post(
        "/api/v1/appointments",
        json={"patient_id": net.patient2.id, "slot_id": slots[0]["id"]},
        headers=net.h["gp"],
    )
    assert taken.status_code == 409
    err = taken.get_json()["error"]
    assert err["code"] == "slot_taken"
    free = err["details"]["next_free"]
    assert free and free[0]["id"] == slots[1]["id"]
    assert all(s["id"] != slots[0]["id"] for s in free)
    # The first patient again at the same time in the virtual clinic: double-booked.
    vslots = _slots(client, net, net.vclinic.code)
    double = client.post(
        "/api/v1/appointments",
        json={"patient_id": net.patient.id, "slot_id": vslots[0]["id"]},
        headers=net.h["chw"],
    )
    assert double.status_code == 409
    assert double.get_json()["error"]["code"] == "patient_double_booked"
    assert double.get_json()["error"]["details"]["next_free"]
    listed = _slots(client, net, net.clinic.code)
    assert listed[0]["free"] is False and listed[1]["free"] is True


def test_reschedule_cancel_check_in_and_no_show(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    rid = _accepted(client, net)
    slots = _slots(client, net, net.clinic.code)
    appt = client.post(
        "/api/v1/appointments",
        json={"referral_id": rid, "patient_id": net.patient.id, "slot_id": slots[0]["id"]},
        headers=net.h["chw"],
    ).get_json()
    moved = client.post(
        f"/api/v1/appointments/{appt['id']}/reschedule",
        json={"slot_id": slots[3]["id"]},
        headers=net.h["chw"],
    )
    assert moved.status_code == 201, moved.get_json()
    new = moved.get_json()
    assert new["slot_id"] == slots[3]["id"]
    old = client.get(f"/api/v1/appointments/{appt['id']}", headers=net.h["chw"]).get_json()
    assert old["status"] == "cancelled" and old["rescheduled_to_id"] == new["id"]
    assert _slots(client, net, net.clinic.code)[0]["free"] is True
    # Only the clinic records the visit.
    assert (
        client.post(f"/api/v1/appointments/{new['id']}/check-in", headers=net.h["chw"]).status_code
        == 403
    )
    # No-show before the start is refused.
    early = client.post(f"/api/v1/appointments/{new['id']}/no-show", headers=net.h["specialist"])
    assert early.status_code == 409
    checked = client.post(f"/api/v1/appointments/{new['id']}/check-in", headers=net.h["specialist"])
    assert checked.status_code == 200 and checked.get_json()["status"] == "checked_in"
    ref = client.get(f"/api/v1/referrals/{rid}", headers=net.h["chw"]).get_json()
    assert ref["status"] == "event_completed" and ref["first_visit_at"] is not None
    assert ref["waiting_days"] == 0
    # Cancel is for booked appointments only.
    again = client.post(
        f"/api/v1/appointments/{new['id']}/cancel", json={"reason": "x" * 5}, headers=net.h["chw"]
    )
    assert again.status_code == 409
    # Another health post does not see the appointment.
    assert (
        client.get(f"/api/v1/appointments/{new['id']}", headers=net.h["other_chw"]).status_code
        == 404
    )


def test_booking_refused_before_acceptance_and_in_the_wrong_clinic(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    ref = net.refer(client)
    slots = _slots(client, net, net.clinic.code)
    early = client.post(
        "/api/v1/appointments",
        json={"referral_id": ref["id"], "patient_id": net.patient.id, "slot_id": slots[0]["id"]},
        headers=net.h["chw"],
    )
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "not_bookable"
    client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["specialist"])
    vslot = _slots(client, net, net.vclinic.code)[0]
    wrong = client.post(
        "/api/v1/appointments",
        json={"referral_id": ref["id"], "patient_id": net.patient.id, "slot_id": vslot["id"]},
        headers=net.h["chw"],
    )
    assert wrong.status_code == 422 and wrong.get_json()["error"]["code"] == "wrong_clinic"


def test_two_bookings_racing_for_one_slot_exactly_one_wins(
    app: Flask, session: Session, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: there is no race to lose")
    net = Network(session)
    start = utcnow() + timedelta(days=2)
    booking.ensure_slots(session, net.clinic, start, start + timedelta(days=1))
    session.commit()
    slot = session.scalars(
        select(Slot.id).where(Slot.clinic_id == net.clinic.id).order_by(Slot.starts_at)
    ).first()
    assert slot is not None
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt(patient_id: int) -> None:
        with app.app_context():
            sess = db.get_db(app).new_session()
            try:
                user = sess.get_one(User, net.chw.id)
                principal = user_principal(user, "session")
                barrier.wait()
                booking.book(sess, principal, AppointmentIn(patient_id=patient_id, slot_id=slot))
                sess.commit()
                results.append("won")
            except Conflict as exc:
                sess.rollback()
                results.append(exc.code)
            finally:
                sess.close()

    threads = [
        threading.Thread(target=attempt, args=(pid,)) for pid in (net.patient.id, net.patient2.id)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["slot_taken", "won"]
    booked = session.scalars(select(Appointment.id).where(Appointment.slot_id == slot)).all()
    assert len(booked) == 1
