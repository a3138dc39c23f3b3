"""Transfers through the API: requested by the health post, approved with a destination by the
region's command staff, accepted there, completed by the origin; every step on the timeline,
the consult's timeline and the audit log. Bad paths: another region 404, the wrong side 403,
a move not allowed from the state 409, approving without a destination 422."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import ConsultEvent
from hub.models import AuditEvent, Role
from tests.consult.support import Site, bearer, specialist, submit
from tests.support import factories as f


class Case:
    def __init__(self, app: Flask, client: FlaskClient, session: Session) -> None:
        self.site = Site(app, session)
        specialist(session, self.site.l2)
        self.officer = bearer(session, f.user(session, Role.COMMAND, region_of=self.site.region))
        self.receiver = bearer(session, f.user(session, Role.GP, at=self.site.l3))
        self.elsewhere = bearer(session, f.user(session, Role.COMMAND, region_of=f.region(session)))
        session.commit()
        self.client = client
        self.consult = submit(client, self.site.chw_headers, self.site.patient.id)["id"]

    def request(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "patient_id": self.site.patient.id,
            "consult_id": self.consult,
            "reason": "Suspected meningitis; needs a CT and neurology now.",
            "emergency": True,
            "severity": 5,
            "distance_km": 120,
        } | overrides
        resp = self.client.post("/api/v1/transfers", json=body, headers=self.site.chw_headers)
        assert resp.status_code == 201, resp.get_json()
        return dict(resp.get_json())

    def move(self, tid: int, headers: dict[str, str], to: str, **extra: Any) -> Any:
        return self.client.post(
            f"/api/v1/transfers/{tid}/transition", json={"to": to, **extra}, headers=headers
        )


def test_a_transfer_from_request_to_completion(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    c = Case(app, client, session)
    created = c.request()
    tid = created["id"]
    assert created["status"] == "pending"
    assert {r["reason"] for r in created["priority_reasons"]} >= {"emergency", "severity"}
    listed = client.get("/api/v1/transfers", headers=c.officer).get_json()["items"]
    assert [t["id"] for t in listed] == [tid]

    steps = [
        (c.officer, "approved", {"destination": c.site.l3.code}),
        (c.receiver, "destination_approved", {}),
        (c.site.chw_headers, "transport_to_be_arranged", {}),
        (c.officer, "patient_to_be_picked_up", {}),
        (c.site.chw_headers, "in_transit", {}),
        (c.site.chw_headers, "completed", {}),
    ]
    for headers, to, extra in steps:
        resp = c.move(tid, headers, to, **extra)
        assert resp.status_code == 200, (to, resp.get_json())
        assert resp.get_json()["status"] == to
    final = client.get(f"/api/v1/transfers/{tid}", headers=c.site.chw_headers).get_json()
    assert final["destination"] == c.site.l3.code
    assert [e["to_status"] for e in final["timeline"]] == ["pending"] + [s[1] for s in steps]
    # Terminal: nobody moves it again.
    assert c.move(tid, c.site.chw_headers, "cancelled").status_code == 409
    kinds = set(
        session.scalars(select(ConsultEvent.kind).where(ConsultEvent.consult_id == c.consult))
    )
    assert {"transfer_requested", "transfer_approved", "transfer_completed"} <= kinds
    actions = set(
        session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(tid)))
    )
    assert {"command:transfer:requested", "command:transfer:changed"} <= actions


def test_bad_moves_are_refused_and_change_nothing(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    c = Case(app, client, session)
    tid = c.request(emergency=False, severity=2)["id"]
    assert c.move(tid, c.elsewhere, "approved", destination=c.site.l3.code).status_code == 404
    assert client.get(f"/api/v1/transfers/{tid}", headers=c.elsewhere).status_code == 404
    # The origin cannot approve its own request; command staff cannot cancel it.
    assert (
        c.move(tid, c.site.chw_headers, "approved", destination=c.site.l3.code).status_code == 403
    )
    assert c.move(tid, c.officer, "cancelled").status_code == 403
    # Approving needs a destination, refusing needs a reason; skipping ahead is not a move.
    assert c.move(tid, c.officer, "approved").status_code == 422
    assert c.move(tid, c.officer, "rejected").status_code == 422
    assert c.move(tid, c.site.chw_headers, "in_transit").status_code == 409
    state = client.get(f"/api/v1/transfers/{tid}", headers=c.officer).get_json()
    assert state["status"] == "pending"
    assert len(state["timeline"]) == 1


def test_a_consult_of_another_patient_cannot_be_attached(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    c = Case(app, client, session)
    other = f.patient(session, c.site.post)
    session.commit()
    resp = client.post(
        "/api/v1/transfers",
        json={"patient_id": other.id, "consult_id": c.consult, "reason": "x" * 10, "severity": 3},
        headers=c.site.chw_headers,
    )
    assert resp.status_code == 422
    assert client.get("/api/v1/transfers", headers=c.officer).get_json()["items"] == []
