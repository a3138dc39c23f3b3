"""The staff's appointment pages (check in, did not attend, cancel with a reason, reschedule with
the 409 and its suggestions, the patient's booking link, reminders), the inpatient/outpatient
flag, the virtual clinic's own insurer contracts on its page, and "Refer" on the consult page
when the outcome's disposition is refer (prefilled refer form)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlparse

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.auth.principal import SYSTEM
from insurance import services as insurance
from tests.referral.support import Network, clinic, log_in
from tests.support import factories as f
from tests.support.pki import OUTCOME_BODY, answered_consult, pki

__all__ = ["pki"]  # the fixture, imported so pytest finds it


def _free(client: FlaskClient, net: Network, code: str) -> list[dict[str, Any]]:
    resp = client.get(f"/api/v1/clinics/{code}/slots?free=true", headers=net.h["chw"])
    return list(resp.get_json()["items"])


def _booked(client: FlaskClient, net: Network, **extra: Any) -> dict[str, Any]:
    ref = net.refer(client)
    client.post(f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["specialist"])
    slot = _free(client, net, net.clinic.code)[2]
    resp = client.post(
        "/api/v1/appointments",
        json={"referral_id": ref["id"], "patient_id": net.patient.id, "slot_id": slot["id"]}
        | extra,
        headers=net.h["chw"],
    )
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def test_the_appointment_page_and_its_actions(app: Flask, session: Session) -> None:
    client = app.test_client()
    net = Network(session)
    appt = _booked(client, net, setting="inpatient")
    assert appt["setting"] == "inpatient"
    specialist = log_in(app, net.specialist.username)
    page = specialist.get(f"/referrals/appointments/{appt['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for part in (
        'id="check-in"',
        'id="reschedule-link"',
        'id="appointment-cancel-form"',
        'id="make-link"',
        'id="reminders"',
        'data-setting="inpatient"',
    ):
        assert part in html, part
    # Not started yet: no "did not attend".
    assert 'id="no-show"' not in html
    # The health post may cancel or move it, not check it in.
    chw = log_in(app, net.chw.username)
    mine = chw.get(f"/referrals/appointments/{appt['id']}").get_data(as_text=True)
    assert 'id="check-in"' not in mine and 'id="reschedule-link"' in mine
    move = chw.get(f"/referrals/appointments/{appt['id']}/reschedule")
    assert move.status_code == 200 and f'data-reschedule="{appt["id"]}"' in move.get_data(
        as_text=True
    )
    # Another facility's worker learns nothing.
    other = log_in(app, net.other_chw.username)
    assert other.get(f"/referrals/appointments/{appt['id']}").status_code == 404
    assert other.get(f"/referrals/appointments/{appt['id']}/reschedule").status_code == 404
    assert specialist.get("/referrals/appointments/999999999").status_code == 404
    # The referral page links the appointment and offers the patient's booking link.
    ref_page = chw.get(f"/referrals/{appt['referral_id']}").get_data(as_text=True)
    assert f"/referrals/appointments/{appt['id']}" in ref_page
    assert 'id="make-link"' in ref_page
    for locale in ("fa", "ru", "tr", "zh"):
        specialist.get(f"/lang/{locale}")
        assert specialist.get(f"/referrals/appointments/{appt['id']}").status_code == 200


def test_reschedule_onto_a_taken_slot_is_409_with_suggestions(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    appt = _booked(client, net)
    taken = _free(client, net, net.clinic.code)[0]
    other = client.post(
        "/api/v1/appointments",
        json={"patient_id": net.patient2.id, "slot_id": taken["id"]},
        headers=net.h["chw"],
    )
    assert other.status_code == 201
    resp = client.post(
        f"/api/v1/appointments/{appt['id']}/reschedule",
        json={"slot_id": taken["id"]},
        headers=net.h["specialist"],
    )
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "slot_taken"
    suggested = [s["id"] for s in error["details"]["next_free"]]
    assert suggested and taken["id"] not in suggested
    # Nothing moved: the appointment still holds its slot.
    same = client.get(f"/api/v1/appointments/{appt['id']}", headers=net.h["chw"]).get_json()
    assert same["status"] == "booked" and same["slot_id"] == appt["slot_id"]
    moved = client.post(
        f"/api/v1/appointments/{appt['id']}/reschedule",
        json={"slot_id": suggested[0]},
        headers=net.h["specialist"],
    )
    assert moved.status_code == 201
    assert moved.get_json()["setting"] == appt["setting"]
    # Cancel the new one with a reason; it is kept.
    too_short = client.post(
        f"/api/v1/appointments/{moved.get_json()['id']}/cancel",
        json={"reason": "x"},
        headers=net.h["chw"],
    )
    assert too_short.status_code == 422
    done = client.post(
        f"/api/v1/appointments/{moved.get_json()['id']}/cancel",
        json={"reason": "Patient admitted elsewhere"},
        headers=net.h["chw"],
    )
    assert done.status_code == 200
    assert done.get_json()["cancel_reason"] == "Patient admitted elsewhere"


def test_the_virtual_clinic_page_shows_its_own_insurer_contracts(
    app: Flask, session: Session
) -> None:
    client = app.test_client()
    net = Network(session)
    contracted_name, specialist_name = net.contracted.username, net.specialist.username
    vclinic, hclinic = net.vclinic.code, net.clinic.code
    insurer = f.insurer(session)
    code = f.unique("VC")
    insurance.add_contract(
        session,
        SYSTEM,
        insurer=insurer,
        code=code,
        facility=net.virtual,
        valid_from=date(2026, 1, 1),
        valid_to=None,
        coverages=[insurance.CoverageIn("*", 8000)],
    )
    session.commit()
    assert [c.code for c in insurance.facility_contracts(session, net.virtual.id)] == [code]
    session.commit()  # SQLite: end the read so that the app's requests may write
    contracted = log_in(app, contracted_name)
    page = contracted.get(f"/referrals/clinics/{vclinic}").get_data(as_text=True)
    assert 'id="insurer-contracts"' in page and f'data-contract="{code}"' in page
    assert "80%" in page
    # A hospital's clinic without contracts of its own shows none.
    specialist = log_in(app, specialist_name)
    plain = specialist.get(f"/referrals/clinics/{hclinic}").get_data(as_text=True)
    assert f'data-contract="{code}"' not in plain
    assert client.get(
        "/api/v1/facilities?offers=pulmonology", headers=net.h["chw"]
    ).status_code == (200)


def test_refer_link_on_the_consult_page(app: Flask, session: Session, pki: object) -> None:
    client = app.test_client()
    case = answered_consult(app, client, session, outcome={**OUTCOME_BODY, "disposition": "refer"})
    spec_id = case.specialist.specialties[0].id
    clinic(session, case.site.l2.id, spec_id, (case.specialist.id,))
    session.commit()
    chw = log_in(app, case.site.chw.username)
    page = chw.get(f"/consults/{case.consult_id}").get_data(as_text=True)
    assert 'id="refer-link"' in page
    href = page.split('id="refer-link" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    url = urlparse(href)
    assert url.path == "/referrals/new"
    assert parse_qs(url.query) == {
        "patient_id": [str(case.site.patient.id)],
        "specialty": ["pulmonology"],
        "consult_id": [str(case.consult_id)],
    }
    form = chw.get(href).get_data(as_text=True)
    assert f'data-consult-id="{case.consult_id}"' in form
    assert f'value="{case.site.patient.id}" selected' in form
    # Referred: the consult page links the referral instead.
    made = client.post(
        "/api/v1/referrals",
        json={
            "patient_id": case.site.patient.id,
            "specialty": "pulmonology",
            "to_facility": case.site.l2.code,
            "reason": "Referred from the consult page",
            "consult_id": case.consult_id,
        },
        headers=case.requester_headers,
    )
    assert made.status_code == 201, made.get_json()
    page = chw.get(f"/consults/{case.consult_id}").get_data(as_text=True)
    assert 'id="refer-link"' not in page
    assert f'/referrals/{made.get_json()["id"]}"' in page
    # The specialist's view of the consult has no "Refer": the health post refers.
    doctor = log_in(app, case.specialist.username)
    assert 'id="consult-referral"' not in doctor.get(f"/consults/{case.consult_id}").get_data(
        as_text=True
    )


def test_no_refer_link_when_the_outcome_manages_locally(
    app: Flask, session: Session, pki: object
) -> None:
    client = app.test_client()
    case = answered_consult(app, client, session)
    assert OUTCOME_BODY["disposition"] != "refer"
    chw = log_in(app, case.site.chw.username)
    page = chw.get(f"/consults/{case.consult_id}").get_data(as_text=True)
    assert 'id="consult-referral"' not in page
