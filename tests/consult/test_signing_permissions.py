"""Permission matrix rows of the signed-document routes (see tests/hub/test_permission_matrix)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import User
from tests.consult.support import consent, consult_body, on_call
from tests.consult.test_permissions import SEE
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World
from tests.support.pki import OUTCOME_BODY, pki

__all__ = ["pki"]
SPECIALIST = frozenset({"specialist"})
REQUESTER = frozenset({"hw_a"})  # the health worker who requested the consult


def rules(consult_id: int) -> list[Rule]:
    def at(tail: str) -> str:
        return f"/api/v1/consults/{consult_id}{tail}"

    return [
        Rule("GET", "/api/v1/consults/{consult_id}/outcome.pdf", lambda w: at("/outcome.pdf"), SEE),
        Rule("POST", "/api/v1/consults/{consult_id}/sign", lambda w: at("/sign"), SPECIALIST),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/countersign",
            lambda w: at("/countersign"),
            REQUESTER,
        ),
        Rule(
            "GET",
            "/api/v1/consults/{consult_id}/prescription.pdf",
            lambda w: at("/prescription.pdf"),
            SEE,
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/prescription/sign",
            lambda w: at("/prescription/sign"),
            SPECIALIST,
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/prescription/countersign",
            lambda w: at("/prescription/countersign"),
            REQUESTER,
        ),
        Rule(
            "GET",
            "/api/v1/consults/{consult_id}/referral.pdf",
            lambda w: at("/referral.pdf"),
            SEE,
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/referral/sign",
            lambda w: at("/referral/sign"),
            SPECIALIST,
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/referral/countersign",
            lambda w: at("/referral/countersign"),
            REQUESTER,
        ),
        Rule("GET", "/api/v1/consults/{consult_id}/documents", lambda w: at("/documents"), SEE),
    ]


@pytest.fixture(scope="session")
def answered(app: Flask, world: World, pki: object) -> int:
    """A consult of patient A requested by hw_a, answered with a referral by the specialist."""
    with app.app_context(), db.transaction() as sess:
        doctor = sess.scalar(select(User).where(User.facility_id == world.hospital_x.id))
        assert doctor is not None
        on_call(sess, doctor, world.hospital_x)
        consent(sess, world.patient_a.id)
    with app.test_client() as client:
        resp = client.post(
            "/api/v1/consults", json=consult_body(world.patient_a.id), headers=world["hw_a"].headers
        )
        assert resp.status_code == 201, resp.get_json()
        consult_id = int(resp.get_json()["id"])
        spec = world["specialist"].headers
        claimed = client.post(f"/api/v1/consults/{consult_id}/claim", headers=spec)
        assert claimed.status_code == 200
        assert (
            client.post(
                f"/api/v1/consults/{consult_id}/outcome",
                headers=spec,
                json={**OUTCOME_BODY, "disposition": "refer"},  # so a referral letter exists
            ).status_code
            == 201
        )
    # Both signers need a licence number on file, which their certificates are bound to.
    with app.app_context(), db.transaction() as sess:
        for user_id in (claimed.get_json()["assigned_to"], claimed.get_json()["requester_id"]):
            user = sess.get_one(User, user_id)
            user.licence_number = user.licence_number or f"MATRIX-{user_id}"
    return consult_id


def test_signing_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, answered: int
) -> None:
    assert run_matrix(app, client, world, rules(answered)) == []
