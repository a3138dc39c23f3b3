"""Appointment reminders on SQLite and PostgreSQL, delivered to a real SMTP server (aiosmtpd on
a free port): records made on booking (a day and an hour before), cancelled with the
appointment, sent with the right recipient and subject and nothing clinical in them; a server
that does not answer is retried (pending with its attempts and last error, then sent), a refused
recipient fails at once; the beat job is scheduled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub import notify
from hub.config import ConfigError, NotifySettings, load_notify
from hub.models import Patient
from hub.models.base import utcnow
from referral import reminders
from referral.models import Reminder, ReminderStatus
from tests.referral.support import Network
from tests.support.smtp import Inbox, free_port, smtp

__all__ = ["smtp"]  # the fixture, imported so pytest finds it


def _settings(port: int) -> NotifySettings:
    return NotifySettings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="hub@example.org")


def _booked(client: FlaskClient, net: Network, session: Session, address: str) -> dict[str, Any]:
    """A referral accepted and booked by the health post for a patient with an e-mail."""
    patient = session.get_one(Patient, net.patient.id)
    patient.email = address
    session.commit()
    ref = net.refer(client)
    assert (
        client.post(
            f"/api/v1/referrals/{ref['id']}/accept", headers=net.h["specialist"]
        ).status_code
        == 200
    )
    # Two days ahead: the retry tests move the clock on by hours, and a slot later today would
    # pass first (its reminders are then cancelled, not failed) at some times of day.
    after = utcnow() + timedelta(days=2)
    slot = next(
        item
        for item in client.get(
            f"/api/v1/clinics/{net.clinic.code}/slots?free=true", headers=net.h["chw"]
        ).get_json()["items"]
        if datetime.fromisoformat(item["starts_at"]) >= after
    )
    resp = client.post(
        "/api/v1/appointments",
        json={"referral_id": ref["id"], "patient_id": net.patient.id, "slot_id": slot["id"]},
        headers=net.h["chw"],
    )
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def _reminders(session: Session, appointment_id: int) -> list[Reminder]:
    session.expire_all()
    return reminders.of_appointment(session, appointment_id)


def test_reminders_are_recorded_and_sent_to_a_real_smtp_server(
    app: Flask, client: FlaskClient, session: Session, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    net = Network(session)
    appt = _booked(client, net, session, "patient@example.org")
    listed = client.get(f"/api/v1/appointments/{appt['id']}/reminders", headers=net.h["chw"])
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [r["lead_minutes"] for r in items] == [24 * 60, 60]
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in items)
    rows = _reminders(session, appt["id"])
    # Nothing is due before its time.
    with app.app_context():
        early = rows[0].due_at - timedelta(minutes=1)
        assert reminders.send_due(session, notify.SmtpNotifier(_settings(port)), early)["sent"] == 0
        # A day before: the first one goes.
        counts = reminders.send_due(
            session, notify.SmtpNotifier(_settings(port)), rows[0].due_at + timedelta(seconds=1)
        )
    session.commit()
    assert counts["sent"] == 1
    assert len(inbox.messages) == 1
    sender, recipients, msg = inbox.messages[0]
    assert sender == "hub@example.org" and recipients == ["patient@example.org"]
    assert msg["To"] == "patient@example.org" and msg["Subject"] == "Appointment reminder"
    body = msg.get_payload(decode=True).decode()
    assert net.hospital.name in body and "video visit" in body
    # Nothing clinical: not the reason, the specialty, the patient's name or national id.
    for private in ("interstitial", "HRCT", "ulmonology", net.patient.family_name, "Given"):
        assert private not in body
    assert net.patient.national_id not in body
    sent, pending = _reminders(session, appt["id"])
    assert sent.status is ReminderStatus.SENT and sent.attempts == 1 and sent.sent_at
    assert sent.channel == "email"
    assert pending.status is ReminderStatus.PENDING


def test_a_cancelled_appointment_cancels_its_reminders(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    appt = _booked(client, net, session, "patient@example.org")
    resp = client.post(
        f"/api/v1/appointments/{appt['id']}/cancel",
        json={"reason": "The patient asked to cancel"},
        headers=net.h["chw"],
    )
    assert resp.status_code == 200
    statuses = {r.status for r in _reminders(session, appt["id"])}
    assert statuses == {ReminderStatus.CANCELLED}


def test_a_moved_appointment_gets_new_reminders(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    appt = _booked(client, net, session, "patient@example.org")
    free = client.get(
        f"/api/v1/clinics/{net.clinic.code}/slots?free=true", headers=net.h["chw"]
    ).get_json()["items"]
    moved = client.post(
        f"/api/v1/appointments/{appt['id']}/reschedule",
        json={"slot_id": free[-1]["id"]},
        headers=net.h["chw"],
    )
    assert moved.status_code == 201, moved.get_json()
    assert {r.status for r in _reminders(session, appt["id"])} == {ReminderStatus.CANCELLED}
    new = _reminders(session, moved.get_json()["id"])
    assert [r.status for r in new] == [ReminderStatus.PENDING, ReminderStatus.PENDING]


def test_no_address_no_reminders(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    appt = _booked(client, net, session, "")
    assert _reminders(session, appt["id"]) == []


def test_an_unreachable_server_is_retried_until_it_answers(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    appt = _booked(client, net, session, "patient@example.org")
    port = free_port()  # nothing listens there yet
    first = _reminders(session, appt["id"])[0]
    at = first.due_at + timedelta(seconds=1)
    with app.app_context():
        counts = reminders.send_due(session, notify.SmtpNotifier(_settings(port)), at)
    session.commit()
    assert counts["retry"] == 1
    row = _reminders(session, appt["id"])[0]
    assert row.status is ReminderStatus.PENDING and row.attempts == 1
    assert row.last_error and "Connection" in row.last_error
    assert row.next_attempt_at is not None and row.next_attempt_at > at
    # Not again before its back-off ends.
    with app.app_context():
        assert reminders.send_due(session, notify.SmtpNotifier(_settings(port)), at)["retry"] == 0
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with app.app_context():
            later = row.next_attempt_at + timedelta(seconds=1)
            counts = reminders.send_due(session, notify.SmtpNotifier(_settings(port)), later)
        session.commit()
    finally:
        controller.stop()
    assert counts["sent"] == 1 and len(inbox.messages) == 1
    row = _reminders(session, appt["id"])[0]
    assert row.status is ReminderStatus.SENT and row.attempts == 2 and row.last_error is None


def test_gives_up_after_the_last_attempt_and_on_a_refused_recipient(
    app: Flask, client: FlaskClient, session: Session, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    inbox.refuse.add("nobody@example.org")
    net = Network(session)
    appt = _booked(client, net, session, "nobody@example.org")
    first = _reminders(session, appt["id"])[0]
    with app.app_context():
        at = first.due_at + timedelta(seconds=1)
        counts = reminders.send_due(session, notify.SmtpNotifier(_settings(port)), at)
    session.commit()
    assert counts["failed"] == 1 and inbox.messages == []
    row = _reminders(session, appt["id"])[0]
    assert row.status is ReminderStatus.FAILED and row.attempts == 1
    assert row.last_error and "550" in row.last_error
    # A server that never answers: failed after MAX_ATTEMPTS, each attempt counted.
    other = Network(session)
    appt2 = _booked(client, other, session, "patient@example.org")
    dead = notify.SmtpNotifier(_settings(free_port()))
    at = _reminders(session, appt2["id"])[0].due_at
    with app.app_context():
        for _ in range(reminders.MAX_ATTEMPTS):
            at += timedelta(hours=2)
            reminders.send_due(session, dead, at)
    session.commit()
    rows = _reminders(session, appt2["id"])
    assert rows[0].status is ReminderStatus.FAILED
    assert rows[0].attempts == reminders.MAX_ATTEMPTS


def test_the_log_notifier_is_the_default_and_the_job_is_scheduled(app: Flask) -> None:
    assert isinstance(notify.from_settings(NotifySettings()), notify.LogNotifier)
    assert isinstance(notify.from_settings(_settings(25)), notify.SmtpNotifier)
    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["referral-reminders"]["task"] == "referral.reminders.send"


def test_reminder_text_is_in_the_patients_language(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    appt = _booked(client, net, session, "patient@example.org")
    row = _reminders(session, appt["id"])[0]
    with app.app_context():
        subject, body = reminders.message(row.appointment, "fa")
    assert subject != "Appointment reminder"
    assert any("\u0600" <= ch <= "\u06ff" for ch in subject + body)


def test_smtp_settings_are_parsed_strictly() -> None:
    assert load_notify({}).smtp_host is None
    parsed = load_notify(
        {"HUB_SMTP_HOST": "mail.example.org", "HUB_SMTP_SSL": "true", "HUB_SMTP_FROM": "a@b.org"}
    )
    assert parsed.smtp_port == 465 and parsed.smtp_ssl and parsed.smtp_from == "a@b.org"
    for bad in (
        {"HUB_SMTP_STARTTLS": "true", "HUB_SMTP_SSL": "true"},
        {"HUB_SMTP_FROM": "not-an-address"},
        {"HUB_SMTP_PASSWORD": "secret"},
        {"HUB_SMTP_PORT": "70000"},
    ):
        with pytest.raises(ConfigError):
            load_notify(bad)
