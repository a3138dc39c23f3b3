"""Permission matrix of the consult API (the rows for its routes; see tests/hub)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import User
from tests.consult.support import consent, consult_body, on_call
from tests.consult.test_consult_api import png_bytes
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

EVERYONE = frozenset(
    {
        "hw_a",
        "hw_b",
        "gp_a",
        "specialist",
        "command_x",
        "command_y",
        "admin_a",
        "national",
        "insurer_a",
        "insurer_b",
    }
)
SEE = frozenset({"hw_a", "gp_a", "admin_a", "specialist", "command_x", "national"})
REQUESTERS_A = frozenset({"hw_a", "gp_a"})


@dataclass(frozen=True)
class Consults:
    offered: int
    claim: int
    decline: int
    cancel: int
    accepted: int
    attachment: int


def rules(c: Consults) -> list[Rule]:
    base = "/api/v1/consults"

    def at(cid: int, tail: str = "") -> str:
        return f"{base}/{cid}{tail}"

    outcome = {
        "assessment": "Probe assessment",
        "recommendation": "Probe advice",
        "disposition": "manage_locally",
    }
    return [
        Rule(
            "POST",
            "/api/v1/consults",
            lambda w: base,
            REQUESTERS_A,
            lambda w: consult_body(w.patient_a.id),
            # hw_b cannot see patient A: for them the patient is unknown, not forbidden.
            expect=(("hw_b", 422),),
        ),
        Rule("GET", "/api/v1/consults", lambda w: base, EVERYONE - {"insurer_a", "insurer_b"}),
        Rule("GET", "/api/v1/consults/{consult_id}", lambda w: at(c.offered), SEE),
        Rule("GET", "/api/v1/worklist", lambda w: "/api/v1/worklist", frozenset({"specialist"})),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/claim",
            lambda w: at(c.claim, "/claim"),
            frozenset({"specialist"}),
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/decline",
            lambda w: at(c.decline, "/decline"),
            frozenset({"specialist"}),
            lambda w: {"reason": "probe decline"},
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/cancel",
            lambda w: at(c.cancel, "/cancel"),
            REQUESTERS_A,
            lambda w: {"reason": "probe cancel"},
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/messages",
            lambda w: at(c.accepted, "/messages"),
            REQUESTERS_A | {"specialist"},
            lambda w: {"body": "probe"},
        ),
        Rule(
            "GET",
            "/api/v1/consults/{consult_id}/messages",
            lambda w: at(c.accepted, "/messages"),
            SEE,
        ),
        # A JSON body is no upload: permitted callers get 400 (file missing), others refusals.
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/attachments",
            lambda w: at(c.accepted, "/attachments"),
            REQUESTERS_A | {"specialist"},
            lambda w: {},
        ),
        Rule(
            "GET",
            "/api/v1/consults/{consult_id}/attachments/{attachment_id}",
            lambda w: at(c.accepted, f"/attachments/{c.attachment}"),
            SEE,
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/outcome",
            lambda w: at(c.accepted, "/outcome"),
            frozenset({"specialist"}),
            lambda w: outcome,
        ),
        # Command staff of the consult's region (and national administrators) dispatch it;
        # another region's officer gets 404: the consult's existence is not theirs to know.
        Rule(
            "GET",
            "/api/v1/consults/{consult_id}/on-call",
            lambda w: at(c.offered, "/on-call"),
            frozenset({"command_x", "national"}),
        ),
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/reassign",
            lambda w: at(c.offered, "/reassign"),
            frozenset({"command_x", "national"}),
            lambda w: {"specialist_id": w["specialist"].user_id},
        ),
        Rule(
            "PUT",
            "/api/v1/specialists/me/availability",
            lambda w: "/api/v1/specialists/me/availability",
            frozenset({"specialist"}),
            lambda w: {"max_concurrent": 6},
        ),
        Rule(
            "POST",
            "/api/v1/roster/shifts",
            lambda w: "/api/v1/roster/shifts",
            frozenset({"national"}),
            lambda w: {
                "specialist": _specialist_username(),
                "specialty": "pulmonology",
                "facility": w.hospital_x.code,
                "starts_at": "2030-01-01T08:00:00Z",
                "ends_at": "2030-01-01T20:00:00Z",
            },
        ),
        Rule("GET", "/api/v1/roster/shifts", lambda w: "/api/v1/roster/shifts", EVERYONE),
        Rule(
            "DELETE",
            "/api/v1/roster/shifts/{shift_id}",
            lambda w: f"/api/v1/roster/shifts/{_fresh_shift[0]()}",  # one shift per caller
            frozenset({"national"}),
        ),
    ]


_names: dict[str, str] = {}
_fresh_shift: list[Callable[[], int]] = []


def _specialist_username() -> str:
    return _names["specialist"]


def _submit(client: FlaskClient, world: World) -> int:
    resp = client.post(
        "/api/v1/consults", json=consult_body(world.patient_a.id), headers=world["hw_a"].headers
    )
    assert resp.status_code == 201, resp.get_json()
    return int(resp.get_json()["id"])


@pytest.fixture(scope="session")
def consults(app: Flask, world: World) -> Consults:
    with app.app_context(), db.transaction() as sess:
        doctor = sess.scalar(select(User).where(User.facility_id == world.hospital_x.id))
        assert doctor is not None
        _names["specialist"] = doctor.username
        on_call(sess, doctor, world.hospital_x)
        consent(sess, world.patient_a.id)
        doctor_id = doctor.id

    def fresh_shift() -> int:
        with app.app_context(), db.transaction() as sess:
            return on_call(sess, sess.get_one(User, doctor_id), world.hospital_x).id

    _fresh_shift[:] = [fresh_shift]
    with app.test_client() as client:
        ids = [_submit(client, world) for _ in range(5)]
        spec = world["specialist"].headers
        assert client.post(f"/api/v1/consults/{ids[4]}/claim", headers=spec).status_code == 200
        upload = client.post(
            f"/api/v1/consults/{ids[4]}/attachments",
            headers=world["hw_a"].headers,
            data={"kind": "photo", "file": (io.BytesIO(png_bytes()), "x.png")},
            content_type="multipart/form-data",
        )
        assert upload.status_code == 201
    return Consults(*ids, attachment=upload.get_json()["id"])


def test_consult_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, consults: Consults
) -> None:
    assert run_matrix(app, client, world, rules(consults)) == []
