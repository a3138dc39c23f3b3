"""Command alerts: a real SLA breach (short configured target, the sweep escalating to the last
stage) and a critical result escalated to the region's command staff each leave one alert row,
announced to the region's command room; it stays open until an officer takes it (who and when
kept, audited); taking twice is 409 naming who took it; another region sees nothing (404)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult import sla
from consult.assignment import escalate_due as sla_sweep
from consult.models import Urgency
from hub import db
from hub import realtime as hub_realtime
from hub.auth.principal import SYSTEM
from hub.models import AuditEvent, Role, utcnow
from imaging.reading.critical import escalate_due as critical_sweep
from referral.command.monitoring_models import CommandAlert
from tests.consult.support import Site, bearer, submit
from tests.imaging.test_reading_requests import _case, _send
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import pki

__all__ = ["pki"]
ALERTS = "/api/v1/command/alerts"


def _alerts(client: FlaskClient, headers: dict[str, str], state: str = "open") -> list[Any]:
    resp = client.get(f"{ALERTS}?state={state}&limit=200", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    items: list[Any] = resp.get_json()["items"]
    return items


def test_an_sla_breach_stays_until_taken(app: Flask, session: Session) -> None:
    client = app.test_client()  # keeps no request open (SQLite: it would hold the lock)
    site = Site(app, session)
    sla.write(
        session,
        SYSTEM,
        region=site.region,
        urgency=Urgency.URGENT,
        accept_minutes=1,
        answer_minutes=2,
    )
    first_user = f.user(session, Role.COMMAND, region_of=site.region)
    second_user = f.user(session, Role.COMMAND, region_of=site.region)
    first, second = bearer(session, first_user), bearer(session, second_user)
    token = f.personal_token(session, first_user)
    elsewhere = bearer(session, f.user(session, Role.COMMAND, region_of=f.region(session)))
    gp = bearer(session, f.user(session, Role.GP, at=site.post))
    admin = bearer(session, f.user(session, Role.NATIONAL_ADMIN))
    first_name, first_id = first_user.full_name, first_user.id
    region_code = site.region.code
    session.commit()
    # Nobody of the specialty on call in the region: the sweep widens stage by stage, then
    # alerts command staff.
    consult_id = submit(client, site.chw_headers, site.patient.id, specialty="nephrology")["id"]
    live = hub_realtime.socketio.test_client(app, auth={"token": token})
    assert live.is_connected()
    live.get_received()

    def mine() -> list[Any]:
        return [a for a in _alerts(client, first) if a["subject_id"] == consult_id]

    now = utcnow()
    for step in range(1, 8):
        with app.app_context(), db.transaction() as sess:
            sla_sweep(sess, now=now + timedelta(minutes=2 * step))
        if mine():
            break
    [alert] = mine()
    assert alert["kind"] == "consult_unassigned" and alert["subject_type"] == "consult"
    assert alert["region"] == region_code and alert["detail"] == "urgent"
    assert alert["subject_url"] == f"/consults/{consult_id}"
    assert alert["taken_by"] is None and alert["taken_at"] is None
    heard = [m for m in live.get_received() if m["name"] == "command.alert"]
    assert {"alert_id": alert["id"], "kind": "consult_unassigned", "taken": False} in [
        m["args"][0] for m in heard
    ]
    live.disconnect()
    # Still there on the next sweep (it stays until taken), and not twice.
    with app.app_context(), db.transaction() as sess:
        sla_sweep(sess, now=now + timedelta(hours=1))
    assert len(mine()) == 1

    url = f"{ALERTS}/{alert['id']}/take"
    assert client.post(url, headers=elsewhere).status_code == 404
    assert all(a["id"] != alert["id"] for a in _alerts(client, elsewhere))
    assert client.post(url, headers=gp).status_code == 403
    assert client.post(f"{ALERTS}/2147483647/take", headers=first).status_code == 404
    taken = client.post(url, headers=first)
    assert taken.status_code == 200, taken.get_json()
    body = taken.get_json()
    assert body["taken_by"] == first_name and body["taken_by_id"] == first_id
    assert body["taken_at"] is not None
    again = client.post(url, headers=second)
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "already_taken" and first_name in error["message"]
    assert error["details"]["taken_by"] == first_name
    assert mine() == []
    shown = [a for a in _alerts(client, second, "taken") if a["id"] == alert["id"]]
    assert shown and shown[0]["taken_by"] == first_name
    # National administrators see every region's alerts.
    assert any(a["id"] == alert["id"] for a in _alerts(client, admin, "taken"))
    assert client.get(f"{ALERTS}?state=gone", headers=first).status_code == 422
    assert client.get(f"{ALERTS}?cursor=nonsense", headers=first).status_code == 400
    takes = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "command:alert:taken",
            AuditEvent.object_id == str(alert["id"]),
            AuditEvent.outcome == "ok",
        )
    )
    assert takes == 1


def test_a_critical_result_escalated_to_command_raises_an_alert(
    app: Flask, session: Session, world: World, pki: object
) -> None:
    client = app.test_client()
    case = _case(app, session, world)
    sent = _send(client, case)
    url = f"/api/v1/reading-requests/{sent['id']}"
    assert client.post(f"{url}/claim", headers=case.readers[0]).status_code == 200
    raised = client.post(
        f"{url}/critical-results",
        json={"category": 1, "finding": "Tension pneumothorax, left."},
        headers=case.readers[0],
    )
    assert raised.status_code == 201, raised.get_json()
    result_id = raised.get_json()["id"]
    officer = world["command_x"].headers

    def mine() -> list[Any]:
        return [
            a
            for a in _alerts(client, officer)
            if a["subject_type"] == "critical_result" and a["subject_id"] == result_id
        ]

    start = utcnow()
    with app.app_context(), db.transaction() as sess:
        critical_sweep(sess, now=start + timedelta(minutes=16))  # to the facility head
    assert mine() == []  # not yet command's
    with app.app_context(), db.transaction() as sess:
        critical_sweep(sess, now=start + timedelta(minutes=32))  # to the region's command
    [alert] = mine()
    assert alert["kind"] == "critical_result" and alert["detail"] == "1"
    assert alert["region"] == world.region_x.code
    assert alert["subject_url"] == f"/reading/critical-results/{result_id}"
    # Region Y's officer neither sees nor takes it.
    other = world["command_y"].headers
    assert all(a["id"] != alert["id"] for a in _alerts(client, other))
    assert client.post(f"{ALERTS}/{alert['id']}/take", headers=other).status_code == 404
    assert client.post(f"{ALERTS}/{alert['id']}/take", headers=officer).status_code == 200
    rows = session.scalar(
        select(func.count())
        .select_from(CommandAlert)
        .where(CommandAlert.subject_type == "critical_result", CommandAlert.subject_id == result_id)
    )
    assert rows == 1
