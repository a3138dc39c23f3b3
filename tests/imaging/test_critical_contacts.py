"""A sending facility's contact list for critical results, on SQLite and PostgreSQL: kept by
its administrators (another facility's is not found, a clinician is refused, a bad address is
a 422, a second entry of one address a 409); a critical result raised for one of its studies
queues one notice per contact in the raising transaction, delivered through the outbox
handler to a real SMTP server (aiosmtpd) in the contact's language, naming the category, the
deadline and the page, never the patient or the finding; none once acknowledged; the page."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import hooks
from hub.config import NotifySettings
from hub.models import Facility, OutboxMessage, Patient, Role
from imaging.reading import contacts
from imaging.reading.models import ReadingRequest
from tests.consult.support import bearer
from tests.imaging.test_reading_requests import _case, _send
from tests.referral.support import log_in
from tests.support import factories as f
from tests.support.personas import World
from tests.support.smtp import Inbox, smtp

__all__ = ["smtp"]  # the fixture, imported so pytest finds it

FINDING = "Tension pneumothorax, left."


def _facility_of(session: Session, request_id: int) -> str:
    """The sending facility's code (no read left open: on SQLite it would lock the app out)."""
    request = session.get_one(ReadingRequest, request_id)
    code = session.get_one(Facility, request.facility_id).code
    session.rollback()
    return code


def test_the_list_is_kept_by_the_facility_administrators(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    case = _case(app, session, world)
    code = _facility_of(session, int(_send(client, case)["id"]))
    other_admin = bearer(session, f.user(session, Role.FACILITY_ADMIN, at=world.facility_b))
    session.commit()
    url = f"/api/v1/facilities/{code}/critical-contacts"
    body = {"name": "Emergency ward", "email": "Ward@Example.org", "locale": "fa"}
    added = client.post(url, json=body, headers=case.head)
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["email"] == "ward@example.org"
    again = client.post(url, json={**body, "email": "ward@example.org"}, headers=case.head)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "contact_exists"
    bad = client.post(url, json={**body, "email": "not an address"}, headers=case.head)
    assert bad.status_code == 422
    assert client.post(url, json=body, headers=other_admin).status_code == 404
    assert client.get(url, headers=other_admin).status_code == 404
    assert client.get(url, headers=case.sender).status_code in (403, 404)
    listed = client.get(url, headers=case.head).get_json()
    assert [c["name"] for c in listed["items"]] == ["Emergency ward"]
    contact_id = listed["items"][0]["id"]
    assert client.delete(f"{url}/{contact_id}", headers=other_admin).status_code == 404
    assert client.delete(f"{url}/{contact_id}", headers=case.head).status_code == 204
    assert client.get(url, headers=case.head).get_json()["items"] == []


def test_a_raised_result_e_mails_each_contact_without_patient_data(
    app: Flask,
    client: FlaskClient,
    session: Session,
    world: World,
    smtp: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port = smtp
    settings = app.config["HUB_SETTINGS"]
    notify = NotifySettings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="hub@example.org")
    monkeypatch.setitem(app.config, "HUB_SETTINGS", dataclasses.replace(settings, notify=notify))
    assert hooks.outbox_handlers.get(contacts.TOPIC) is contacts.deliver

    case = _case(app, session, world)
    sent = _send(client, case)
    code = _facility_of(session, int(sent["id"]))
    url = f"/api/v1/facilities/{code}/critical-contacts"
    for name, address, locale in (
        ("Ward", "ward@example.org", "fa"),
        ("Duty", "duty@example.org", "en"),
    ):
        body = {"name": name, "email": address, "locale": locale}
        assert client.post(url, json=body, headers=case.head).status_code == 201
    request_url = f"/api/v1/reading-requests/{sent['id']}"
    assert client.post(f"{request_url}/claim", headers=case.readers[0]).status_code == 200
    raised = client.post(
        f"{request_url}/critical-results",
        json={"category": 1, "finding": FINDING},
        headers=case.readers[0],
    ).get_json()
    assert [e["kind"] for e in raised["timeline"]] == ["raised", "alerted", "contacts_queued"]

    queued = [
        m
        for m in session.scalars(select(OutboxMessage).where(OutboxMessage.topic == contacts.TOPIC))
        if m.payload["result_id"] == raised["id"]
    ]
    assert len(queued) == 2
    with app.app_context():
        for message in queued:
            contacts.deliver(session, message.payload)
        session.commit()
    assert sorted(rcpt[0] for _, rcpt, _ in inbox.messages) == [
        "duty@example.org",
        "ward@example.org",
    ]
    request = session.get_one(ReadingRequest, sent["id"])
    patient = session.get_one(Patient, request.study.patient_id)
    by_address = {rcpt[0]: msg for _, rcpt, msg in inbox.messages}
    for address, msg in by_address.items():
        text = msg.get_payload(decode=True).decode(msg.get_content_charset() or "utf-8")
        assert f"/reading/critical-results/{raised['id']}" in text
        for private in (FINDING, patient.family_name, patient.given_name, patient.national_id):
            assert private not in text, address
    persian = by_address["ward@example.org"]
    assert "بحرانی" in persian.get_payload(decode=True).decode("utf-8")
    session.rollback()
    shown = client.get(f"/api/v1/critical-results/{raised['id']}", headers=case.head).get_json()
    assert [e["kind"] for e in shown["timeline"]].count("contact_notified") == 2

    # Once acknowledged, a notice still waiting (a server that was down) is not sent.
    ack = client.post(
        f"/api/v1/critical-results/{raised['id']}/acknowledge",
        json={"method": "phone", "read_back": "Left tension pneumothorax, chest drain now."},
        headers=case.sender,
    )
    assert ack.status_code == 200, ack.get_json()
    with app.app_context():
        contacts.deliver(session, queued[0].payload)
        session.commit()
    assert len(inbox.messages) == 2


def test_the_page_adds_and_removes_a_contact(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    facility = f.facility(session, f.university(session, world.region_x))
    admin = f.user(session, Role.FACILITY_ADMIN, at=facility)
    gp = f.user(session, Role.GP, at=facility)
    code, admin_name, gp_name = facility.code, admin.username, gp.username
    session.commit()
    browser = log_in(app, admin_name)
    page = browser.get("/reading/contacts/")
    assert page.status_code == 200 and 'id="no-contacts"' in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"csrf_token": token, "facility": code, "locale": "en"}
    bad = browser.post("/reading/contacts/", data={**form, "name": "Ward", "email": "nope"})
    assert bad.status_code == 302
    assert "valid e-mail" in browser.get("/reading/contacts/").get_data(as_text=True)
    done = browser.post(
        "/reading/contacts/", data={**form, "name": "Ward", "email": "ward@example.org"}
    )
    assert done.status_code == 302
    listed = browser.get("/reading/contacts/").get_data(as_text=True)
    assert "ward@example.org" in listed
    contact_id = int(listed.split('data-contact="', 1)[1].split('"', 1)[0])
    gone = browser.post(f"/reading/contacts/{contact_id}/remove", data=form)
    assert gone.status_code == 302
    assert 'id="no-contacts"' in browser.get("/reading/contacts/").get_data(as_text=True)
    # A clinician of the facility does not keep the list.
    assert log_in(app, gp_name).get("/reading/contacts/").status_code == 404
