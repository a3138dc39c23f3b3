"""The referral pages render for each side with the actions that side may take."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from tests.referral.support import Network, log_in


def test_pages_for_both_sides(app: Flask, session: Session) -> None:
    # Clients outside a `with` block: a kept request context would share its CSRF token.
    client = app.test_client()
    net = Network(session)
    ref = net.refer(client)
    chw, specialist = log_in(app, net.chw.username), log_in(app, net.specialist.username)
    listing = chw.get("/referrals/").get_data(as_text=True)
    assert f'data-referral="{ref["id"]}"' in listing and 'id="outgoing"' in listing
    form = chw.get(f"/referrals/new?patient_id={net.patient.id}&specialty=pulmonology")
    assert form.status_code == 200 and 'id="referral-form"' in form.get_data(as_text=True)
    page = specialist.get(f"/referrals/{ref['id']}").get_data(as_text=True)
    assert 'id="accept"' in page and 'id="decline-form"' in page
    assert 'id="acknowledge"' not in page
    mine = chw.get(f"/referrals/{ref['id']}").get_data(as_text=True)
    assert 'id="accept"' not in mine and 'id="cancel-form"' in mine
    client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["specialist"])
    page = specialist.get(f"/referrals/{ref['id']}").get_data(as_text=True)
    assert 'id="slot-picker"' in page and 'id="back-form"' in page
    calendar = specialist.get(f"/referrals/clinics/{net.clinic.code}")
    assert calendar.status_code == 200 and "data-slot=" in calendar.get_data(as_text=True)
    assert chw.get(f"/referrals/clinics/{net.clinic.code}").status_code == 403
    loops = chw.get("/referrals/open-loops")
    assert loops.status_code == 200
    other = log_in(app, net.other_chw.username)
    assert other.get(f"/referrals/{ref['id']}").status_code == 404
    for locale in ("fa", "ru", "tr", "zh"):
        other.get(f"/language/{locale}")
        assert specialist.get(f"/referrals/{ref['id']}").status_code == 200
