"""The patient's booking link on SQLite and PostgreSQL: minted by the health post or the clinic,
the anonymous page shows the clinic's free times and the patient's first name only, and books,
moves and cancels their own appointment; taken times answer 409 with the next free ones as
choices; expired, withdrawn and unknown links are a clear 404; the link is rate-limited; two
patients racing for one time through their pages: exactly one wins (PostgreSQL)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import utcnow
from referral import links
from referral.models import (
    Appointment,
    AppointmentStatus,
    BookingLink,
    Referral,
    ReferralStatus,
)
from tests.referral.support import Network
from tests.support.pages import FORM_CSRF

SLOT = re.compile(r'name="slot_id" value="(\d+)"')


def _accepted(client: FlaskClient, net: Network, patient_id: int | None = None) -> int:
    ref = net.refer(client, patient_id=patient_id)
    resp = client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["specialist"])
    assert resp.status_code == 200
    return int(ref["id"])


def _link(client: FlaskClient, net: Network, referral_id: int, who: str = "chw") -> str:
    resp = client.post(
        "/api/v1/booking-links", json={"referral_id": referral_id}, headers=net.h[who]
    )
    assert resp.status_code == 201, resp.get_json()
    url = resp.get_json()["url"]
    assert url.startswith("/book/")
    return str(url)


def _post(patient: FlaskClient, url: str, **form: str) -> tuple[int, str]:
    page = patient.get(url)
    match = FORM_CSRF.search(page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:300]
    resp = patient.post(url, data={"csrf_token": match.group(1), **form})
    return resp.status_code, resp.get_data(as_text=True)


def _free(patient: FlaskClient, url: str) -> list[int]:
    return [int(x) for x in SLOT.findall(patient.get(url).get_data(as_text=True))]


def test_the_patient_books_moves_and_cancels_through_their_link(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    referral_id = _accepted(client, net)
    url = _link(client, net, referral_id)
    patient = app.test_client()
    page = patient.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # The first name and the clinic; not the family name, the national id or the reason.
    assert net.patient.given_name in html
    assert net.patient.family_name not in html and net.patient.national_id not in html
    assert "interstitial" not in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    free = _free(patient, url)
    assert len(free) > 3
    status, _ = _post(patient, url, action="book", slot_id=str(free[0]))
    assert status == 303
    ref = client.get(f"/api/v1/referrals/{referral_id}", headers=net.h["chw"]).get_json()
    assert ref["status"] == ReferralStatus.SCHEDULED.value
    first = ref["appointments"][0]
    assert first["slot_id"] == free[0] and first["status"] == "booked"
    assert 'id="appointment-time"' in patient.get(url).get_data(as_text=True)
    # A second booking through the link is refused: move it instead.
    status, body = _post(patient, url, action="book", slot_id=str(free[1]))
    assert status == 409 and "call the clinic" in body
    # Move it.
    status, _ = _post(patient, url, action="move", slot_id=str(free[2]))
    assert status == 303
    ref = client.get(f"/api/v1/referrals/{referral_id}", headers=net.h["chw"]).get_json()
    moved = {a["slot_id"]: a["status"] for a in ref["appointments"]}
    assert moved == {free[0]: "cancelled", free[2]: "booked"}
    # Cancel it: the referral may be booked again.
    status, _ = _post(patient, url, action="cancel")
    assert status == 303
    ref = client.get(f"/api/v1/referrals/{referral_id}", headers=net.h["chw"]).get_json()
    assert ref["status"] == ReferralStatus.EVENT_CANCELLED.value
    assert all(a["status"] == "cancelled" for a in ref["appointments"])
    assert 'id="no-appointment"' in patient.get(url).get_data(as_text=True)
    # Bad input: no time chosen, a time of another clinic, an unknown action.
    status, _ = _post(patient, url, action="book")
    assert status == 400
    other = client.get(
        f"/api/v1/clinics/{net.vclinic.code}/slots?free=true", headers=net.h["chw"]
    ).get_json()["items"][0]["id"]
    status, _ = _post(patient, url, action="book", slot_id=str(other))
    assert status == 422
    status, _ = _post(patient, url, action="nonsense", slot_id=str(free[3]))
    assert status == 400
    # Without the form's CSRF token nothing is written.
    assert patient.post(url, data={"action": "book", "slot_id": str(free[3])}).status_code == 400
    session.expire_all()
    live = session.scalars(
        select(Appointment).where(
            Appointment.referral_id == referral_id,
            Appointment.status == AppointmentStatus.BOOKED,
        )
    ).all()
    assert live == []


def test_an_appointment_the_clinic_booked_is_the_patients_to_move(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    referral_id = _accepted(client, net)
    url = _link(client, net, referral_id)
    patient = app.test_client()
    free = _free(patient, url)
    staff = client.post(
        "/api/v1/appointments",
        json={"referral_id": referral_id, "patient_id": net.patient.id, "slot_id": free[0]},
        headers=net.h["specialist"],
    )
    assert staff.status_code == 201
    assert 'id="appointment-time"' in patient.get(url).get_data(as_text=True)
    status, _ = _post(patient, url, action="move", slot_id=str(free[1]))
    assert status == 303
    moved = client.get(f"/api/v1/appointments/{staff.get_json()['id']}", headers=net.h["chw"])
    assert moved.get_json()["rescheduled_to_id"] is not None


def test_a_taken_time_offers_the_next_free_ones(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    mine = _link(client, net, _accepted(client, net))
    patient = app.test_client()
    free = _free(patient, mine)
    # Someone else takes the first time while the patient's page is open.
    taken = client.post(
        "/api/v1/appointments",
        json={"patient_id": net.patient2.id, "slot_id": free[0]},
        headers=net.h["chw"],
    )
    assert taken.status_code == 201, taken.get_json()
    status, body = _post(patient, mine, action="book", slot_id=str(free[0]))
    assert status == 409
    assert "no longer free" in body
    offered = [int(x) for x in SLOT.findall(body)]
    assert offered and free[0] not in offered and set(offered) <= set(free)
    status, _ = _post(patient, mine, action="book", slot_id=str(offered[0]))
    assert status == 303


def test_expired_withdrawn_and_unknown_links_are_a_clear_404(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    referral_id = _accepted(client, net)
    expired_url = _link(client, net, referral_id)
    withdrawn_url = _link(client, net, referral_id, who="specialist")
    patient = app.test_client()
    assert patient.get(expired_url).status_code == 200
    row = session.scalar(
        select(BookingLink).where(BookingLink.referral_id == referral_id).order_by(BookingLink.id)
    )
    assert row is not None
    row.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    gone = patient.get(expired_url)
    assert gone.status_code == 404
    assert "unknown, has expired or was withdrawn" in gone.get_data(as_text=True)
    # Withdrawn by the health post: it never opens again, and a second withdrawal is 409.
    listed = session.scalars(
        select(BookingLink.id).where(BookingLink.referral_id == referral_id)
    ).all()
    second = max(listed)
    session.rollback()
    revoke = client.post(f"/api/v1/booking-links/{second}/revoke", headers=net.h["chw"])
    assert revoke.status_code == 200 and revoke.get_json()["revoked_at"]
    assert revoke.get_json()["url"] is None
    assert patient.get(withdrawn_url).status_code == 404
    again = client.post(f"/api/v1/booking-links/{second}/revoke", headers=net.h["chw"])
    assert again.status_code == 409
    # Another facility's worker cannot withdraw it, or learn that it exists.
    other = client.post(f"/api/v1/booking-links/{second}/revoke", headers=net.h["other_chw"])
    assert other.status_code == 404
    assert patient.get("/book/not-a-token").status_code == 404
    assert patient.get("/book/" + "x" * 300).status_code == 404
    # The API answers the same as JSON.
    api = patient.get(expired_url, headers={"Accept": "application/json"})
    assert api.status_code == 404


def test_who_may_give_a_link(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    referral_id = _accepted(client, net)
    for who, status in (("other_chw", 404), ("command", 403), ("contracted", 404)):
        resp = client.post(
            "/api/v1/booking-links", json={"referral_id": referral_id}, headers=net.h[who]
        )
        assert resp.status_code == status, (who, resp.get_json())
    # Without a referral: only who keeps the clinic's calendar, for a patient they can see.
    direct = {"patient_id": net.patient.id, "clinic": net.clinic.code}
    assert client.post("/api/v1/booking-links", json=direct, headers=net.h["chw"]).status_code == (
        403
    )
    resp = client.post("/api/v1/booking-links", json=direct, headers=net.h["specialist"])
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["referral_id"] is None
    bad = client.post(
        "/api/v1/booking-links", json={**direct, "days": 90}, headers=net.h["specialist"]
    )
    assert bad.status_code == 422
    none = client.post("/api/v1/booking-links", json={}, headers=net.h["specialist"])
    assert none.status_code == 422
    # A referral that is not accepted yet cannot be booked.
    fresh = net.refer(client, patient_id=net.patient2.id)
    early = client.post(
        "/api/v1/booking-links", json={"referral_id": fresh["id"]}, headers=net.h["chw"]
    )
    assert early.status_code == 409


def test_the_link_is_rate_limited(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = Network(session)
    url = _link(client, net, _accepted(client, net))
    monkeypatch.setattr(links, "RATE_MAX", 3)
    patient = app.test_client()
    assert [patient.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_page_speaks_the_patients_language_and_calendar(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    url = _link(client, net, _accepted(client, net))
    patient = app.test_client()
    assert patient.get("/lang/fa").status_code in (302, 303)
    html = patient.get(url).get_data(as_text=True)
    assert 'dir="rtl"' in html and 'lang="fa"' in html
    # Solar Hijri dates with Persian digits, the Gregorian date beside them.
    assert re.search(
        "[\u06f0-\u06f9]+ \\S+ \u06f1\u06f4[\u06f0-\u06f9]{2} \\(20\\d\\d-\\d\\d-\\d\\d\\)", html
    )


def test_two_patients_racing_for_one_time_exactly_one_wins(
    app: Flask, session: Session, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: there is no race to lose")
    net = Network(session)
    # A client that keeps no request context: each patient's page has its own (their tokens).
    api = app.test_client()
    urls = [
        _link(api, net, _accepted(api, net, patient_id=pid))
        for pid in (net.patient.id, net.patient2.id)
    ]
    pages = [app.test_client() for _ in urls]
    tokens = []
    for page, url in zip(pages, urls, strict=True):
        match = FORM_CSRF.search(page.get(url).get_data(as_text=True))
        assert match
        tokens.append(match.group(1))
    slot = _free(pages[0], urls[0])[0]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def attempt(i: int) -> None:
        barrier.wait()
        resp = pages[i].post(
            urls[i], data={"csrf_token": tokens[i], "action": "book", "slot_id": str(slot)}
        )
        results.append(resp.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [303, 409]
    session.expire_all()
    held = session.scalars(select(Appointment.id).where(Appointment.live_slot_id == slot)).all()
    assert len(held) == 1
    scheduled = session.scalars(
        select(Referral.id).where(
            Referral.patient_id.in_([net.patient.id, net.patient2.id]),
            Referral.status == ReferralStatus.SCHEDULED,
        )
    ).all()
    assert len(scheduled) == 1
