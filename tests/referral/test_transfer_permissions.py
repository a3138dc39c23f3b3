"""Permission matrix of the transfer API (the rows for its routes; see tests/hub)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

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
# A transfer requested at facility A (region X): its staff, region X's command, national.
SEE = frozenset({"hw_a", "gp_a", "admin_a", "command_x", "national"})
DISPATCH = frozenset({"command_x", "national"})


def _body(w: World) -> dict[str, object]:
    return {"patient_id": w.patient_a.id, "reason": "Probe transfer", "severity": 3}


def rules(transfer_id: int) -> list[Rule]:
    at = f"/api/v1/transfers/{transfer_id}"
    return [
        # hw_b cannot see patient A: 404; a facility admin has no consults:write.
        Rule(
            "POST",
            "/api/v1/transfers",
            lambda w: "/api/v1/transfers",
            frozenset({"hw_a", "gp_a"}),
            _body,
        ),
        Rule(
            "GET",
            "/api/v1/transfers",
            lambda w: "/api/v1/transfers",
            EVERYONE - {"insurer_a", "insurer_b"},
        ),
        Rule("GET", "/api/v1/transfers/{transfer_id}", lambda w: at, SEE),
        # Putting on hold is command's move: the origin's staff are refused (403), the second
        # dispatcher finds it on hold already (409, not a refusal).
        Rule(
            "POST",
            "/api/v1/transfers/{transfer_id}/transition",
            lambda w: f"{at}/transition",
            DISPATCH,
            lambda w: {"to": "on_hold"},
        ),
        # The thread: everyone who sees the transfer reads it; its participants write (a
        # national administrator oversees: 403).
        Rule("GET", "/api/v1/transfers/{transfer_id}/messages", lambda w: f"{at}/messages", SEE),
        Rule(
            "POST",
            "/api/v1/transfers/{transfer_id}/messages",
            lambda w: f"{at}/messages",
            SEE - {"national"},
            lambda w: {"text": "Matrix probe message"},
        ),
        # Region X's assisting physicians: its command staff and national administrators.
        Rule(
            "GET",
            "/api/v1/regions/{code}/assisting-physicians",
            lambda w: f"/api/v1/regions/{w.region_x.code}/assisting-physicians",
            DISPATCH,
        ),
        # Removing a designation nobody holds changes nothing for the allowed personas.
        Rule(
            "PUT",
            "/api/v1/regions/{code}/assisting-physicians/{specialty}",
            lambda w: f"/api/v1/regions/{w.region_x.code}/assisting-physicians/pulmonology",
            DISPATCH,
            lambda w: {"username": None},
        ),
    ]


def test_transfer_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World
) -> None:
    created = client.post("/api/v1/transfers", json=_body(world), headers=world["hw_a"].headers)
    assert created.status_code == 201, created.get_json()
    assert run_matrix(app, client, world, rules(created.get_json()["id"])) == []
