"""Permission matrix of the equipment and exam-type mapping API (the rows for these routes; see
tests/hub/test_permission_matrix.py): a facility's devices are kept by its administrators and
national administrators, logged by its imaging staff too, seen by whoever sees the facility;
another facility's device is not found."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub import db
from imaging.devices.models import Device
from imaging.dose.models import ExamTypeRule
from tests.support import factories as f
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

READERS = frozenset(
    {"hw_a", "hw_b", "gp_a", "specialist", "command_x", "command_y", "admin_a", "national"}
)
ADMINS = frozenset({"admin_a", "national"})
# Who sees facility A's devices: its staff, its region's command staff, national admins.
SEE_A = frozenset({"hw_a", "gp_a", "command_x", "admin_a", "national"})
# Who logs facility A's operating days: its imaging staff and keepers.
LOG_A = frozenset({"hw_a", "gp_a", "admin_a", "national"})


@dataclass(frozen=True)
class Probe:
    device_id: int
    serial: str
    rule_id: int


def _device_body(serial: str | None = None) -> dict[str, object]:
    return {
        "modality": "CT",
        "manufacturer": "Probe",
        "model": "Probe CT",
        "serial_number": serial or f.unique("PSN"),
    }


def rules(p: Probe) -> list[Rule]:
    device = f"/api/v1/equipment/{p.device_id}"
    return [
        # National administrators name the facility: 422 for them, not a refusal.
        Rule(
            "POST",
            "/api/v1/equipment",
            lambda w: "/api/v1/equipment",
            ADMINS,
            lambda w: _device_body(),
        ),
        Rule("GET", "/api/v1/equipment", lambda w: "/api/v1/equipment", READERS),
        Rule("GET", "/api/v1/equipment/{device_id}", lambda w: device, SEE_A),
        Rule(
            "PUT",
            "/api/v1/equipment/{device_id}",
            lambda w: device,
            ADMINS,
            lambda w: _device_body(p.serial),
        ),
        # The first keeper exempts it (201), the second finds it exempt (409).
        Rule(
            "POST",
            "/api/v1/equipment/{device_id}/exemption",
            lambda w: f"{device}/exemption",
            ADMINS,
            lambda w: {"serial_number": p.serial, "justification": "Permission probe: no RDSR."},
        ),
        # The first keeper withdraws it; the second finds no exemption left.
        Rule(
            "DELETE",
            "/api/v1/equipment/{device_id}/exemption",
            lambda w: f"{device}/exemption",
            frozenset({"admin_a"}),
            expect=(("national", 404),),
        ),
        # The first logger logs the day (201); the others find it logged (409).
        Rule(
            "POST",
            "/api/v1/equipment/{device_id}/logs",
            lambda w: f"{device}/logs",
            LOG_A,
            lambda w: {"date": "2026-01-05", "planned_minutes": 480, "downtime_minutes": 10},
        ),
        Rule("GET", "/api/v1/qc/uptime", lambda w: "/api/v1/qc/uptime", READERS),
        # Dose compliance: one's own facility by default; facility A's for those who see it.
        Rule("GET", "/api/v1/dose/compliance", lambda w: "/api/v1/dose/compliance", READERS),
        Rule(
            "GET",
            "/api/v1/dose/compliance",
            lambda w: f"/api/v1/dose/compliance?facility={w.facility_a.code}",
            SEE_A,
        ),
        Rule(
            "GET", "/api/v1/dose/exam-type-rules", lambda w: "/api/v1/dose/exam-type-rules", READERS
        ),
        Rule(
            "POST",
            "/api/v1/dose/exam-type-rules",
            lambda w: "/api/v1/dose/exam-type-rules",
            ADMINS,
            lambda w: {"pattern": f.unique("probe"), "exam_type": "ct_head"},
        ),
        Rule(
            "DELETE",
            "/api/v1/dose/exam-type-rules/{rule_id}",
            lambda w: f"/api/v1/dose/exam-type-rules/{p.rule_id}",
            frozenset({"admin_a"}),
            expect=(("national", 404),),
        ),
    ]


@pytest.fixture
def probe(app: Flask, world: World) -> Probe:
    serial = f.unique("PROBE")
    with app.app_context(), db.transaction() as sess:
        device = Device(
            facility_id=world.facility_a.id,
            modality="CT",
            manufacturer="Probe",
            model="Probe CT",
            serial_number=serial,
        )
        rule = ExamTypeRule(
            facility_id=world.facility_a.id, pattern=f.unique("p"), exam_type="ct_head"
        )
        sess.add_all([device, rule])
        sess.flush()
        return Probe(device.id, serial, rule.id)


def test_device_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, probe: Probe
) -> None:
    assert run_matrix(app, client, world, rules(probe)) == []
