"""Command staff reassign an open consult to a specialist on call for its specialty: the old
offers are withdrawn, a taker who has not answered is released, the chosen one claims it; every
step on the timeline and in the audit log. Bad paths: not on call → 422, another region → 404,
a health worker → 403, an answered consult → 409."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import Consult, ConsultEvent, ConsultOffer, ConsultStatus, OfferState
from hub.models import AuditEvent, Role
from tests.consult.support import Site, bearer, specialist, submit
from tests.support import factories as f


def _setup(app: Flask, client: FlaskClient, session: Session) -> dict[str, object]:
    site = Site(app, session)
    first = specialist(session, site.l2)
    second = specialist(session, site.l3)
    off_duty = f.user(session, Role.SPECIALIST, at=site.l2, specialty="pulmonology")
    officer = bearer(session, f.user(session, Role.COMMAND, region_of=site.region))
    headers = {who.id: bearer(session, who) for who in (first, second)}
    session.commit()  # tokens included: SQLite's one writer must be free for the requests
    consult_id = submit(client, site.chw_headers, site.patient.id)["id"]
    return {
        "site": site,
        "first": first,
        "second": second,
        "off_duty": off_duty,
        "officer": officer,
        "headers": headers,
        "consult": consult_id,
    }


def test_officer_reassigns_an_offered_consult(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    s = _setup(app, client, session)
    cid, second = s["consult"], s["second"]
    listed = client.get(f"/api/v1/consults/{cid}/on-call", headers=s["officer"])
    assert listed.status_code == 200
    assert {o["user_id"] for o in listed.get_json()["items"]} >= {s["first"].id, second.id}
    assert s["off_duty"].id not in {o["user_id"] for o in listed.get_json()["items"]}

    resp = client.post(
        f"/api/v1/consults/{cid}/reassign", json={"specialist_id": second.id}, headers=s["officer"]
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "offered"
    session.expire_all()
    offers = {
        o.specialist_id: o.state
        for o in session.scalars(select(ConsultOffer).where(ConsultOffer.consult_id == cid))
    }
    assert offers[second.id] is OfferState.OPEN
    assert [sid for sid, state in offers.items() if state is OfferState.OPEN] == [second.id]
    kinds = [
        e.kind for e in session.scalars(select(ConsultEvent).where(ConsultEvent.consult_id == cid))
    ]
    assert "reassigned" in kinds
    audited = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "consult:request:reassigned")
    ).all()
    assert any(a.object_id == str(cid) and a.outcome == "ok" for a in audited)
    session.commit()  # end the read: SQLite's writer must be free for the claim
    # The chosen specialist takes it the usual way.
    claimed = client.post(f"/api/v1/consults/{cid}/claim", headers=s["headers"][second.id])
    assert claimed.status_code == 200, claimed.get_json()


def test_a_taker_who_has_not_answered_is_released(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    s = _setup(app, client, session)
    cid, first, second = s["consult"], s["first"], s["second"]
    first_headers = s["headers"][first.id]
    taken = client.post(f"/api/v1/consults/{cid}/claim", headers=first_headers)
    if taken.status_code != 200:  # routed to the other one first
        first, second = second, first
        first_headers = s["headers"][first.id]
        assert (
            client.post(f"/api/v1/consults/{cid}/claim", headers=first_headers).status_code == 200
        )
    resp = client.post(
        f"/api/v1/consults/{cid}/reassign", json={"specialist_id": second.id}, headers=s["officer"]
    )
    assert resp.status_code == 200, resp.get_json()
    session.expire_all()
    consult = session.get_one(Consult, cid)
    assert consult.status is ConsultStatus.OFFERED
    assert consult.assigned_to_id is None
    session.commit()
    # The released specialist's worklist drops it and they cannot take it back.
    worklist = client.get("/api/v1/worklist", headers=first_headers).get_json()
    assert cid not in {item["id"] for item in worklist["items"]}
    again = client.post(f"/api/v1/consults/{cid}/claim", headers=first_headers)
    assert again.status_code in (404, 409)


def test_reassigning_to_someone_not_on_call_is_refused(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    s = _setup(app, client, session)
    resp = client.post(
        f"/api/v1/consults/{s['consult']}/reassign",
        json={"specialist_id": s["off_duty"].id},
        headers=s["officer"],
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "not_on_call"
    session.expire_all()
    assert session.get_one(Consult, s["consult"]).status is ConsultStatus.OFFERED
    session.commit()


def test_another_regions_officer_gets_404_and_health_workers_403(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    s = _setup(app, client, session)
    elsewhere = bearer(session, f.user(session, Role.COMMAND, region_of=f.region(session)))
    session.commit()
    body = {"specialist_id": s["second"].id}
    url = f"/api/v1/consults/{s['consult']}/reassign"
    assert client.post(url, json=body, headers=elsewhere).status_code == 404
    assert client.post(url, json=body, headers=s["site"].chw_headers).status_code == 403


def test_an_answered_consult_cannot_be_reassigned(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    s = _setup(app, client, session)
    consult = session.get_one(Consult, s["consult"])
    consult.status = ConsultStatus.ANSWERED
    session.commit()
    resp = client.post(
        f"/api/v1/consults/{s['consult']}/reassign",
        json={"specialist_id": s["second"].id},
        headers=s["officer"],
    )
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "not_reassignable"
