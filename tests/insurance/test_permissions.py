"""Permission matrix of the insurance API (the rows for its routes; see tests/hub)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub import db
from insurance import services
from insurance.models import Claim, ClaimKind, ClaimRelease, ClaimStatus
from tests.insurance.support import base_schedule
from tests.support import factories as f
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
INSURERS = frozenset({"insurer_a", "insurer_b"})
NATIONAL = frozenset({"national"})
BILLING_A = frozenset({"admin_a", "national"})  # the probe claim is billed by facility A
# Who may see patient A (home: facility A in region X, member of insurer A) and write to it.
SEE_A = frozenset({"hw_a", "gp_a", "command_x", "admin_a", "national", "insurer_a"})
WRITE_A = frozenset({"hw_a", "gp_a", "admin_a", "national"})


@dataclass(frozen=True)
class Probe:
    claim_id: int  # a claim of patient A billed by facility A, released to insurer A
    # A patient of facility A, member of insurer A, for whom nobody ever requests a consult
    # (patient A's consults, made by other modules' tests, let their specialists see A).
    patient_id: int = 0


def rules(p: Probe) -> list[Rule]:
    upload = "/api/v1/tariffs?label=Matrix&currency=IRR&minor_unit=0&effective_from=2299-01-01"
    return [
        Rule(
            "GET", "/api/v1/insurer/claims", lambda w: "/api/v1/insurer/claims?format=csv", INSURERS
        ),
        # Each insurer lists the claims released to it (insurer B's list is empty).
        Rule(
            "GET",
            "/api/v1/insurer/claims/released",
            lambda w: "/api/v1/insurer/claims/released?status=pending",
            INSURERS,
        ),
        # Insurer A reconciles it (201); insurer B gets 404: it is not B's claim.
        Rule(
            "POST",
            "/api/v1/insurer/claims/{claim_id}/reconciliation",
            lambda w: f"/api/v1/insurer/claims/{p.claim_id}/reconciliation",
            frozenset({"insurer_a"}),
            lambda w: {"decision": "accepted"},
        ),
        Rule("GET", "/api/v1/tariffs", lambda w: "/api/v1/tariffs", EVERYONE),
        # An empty file: the national administrator gets 422, nothing is stored.
        Rule("POST", "/api/v1/tariffs", lambda w: upload, NATIONAL),
        Rule("GET", "/api/v1/claims", lambda w: "/api/v1/claims", BILLING_A),
        # Facility A's administrator corrects it (credit + rebill); the national administrator
        # then gets 409 (superseded), which is not a refusal.
        Rule(
            "POST",
            "/api/v1/claims/{claim_id}/correction",
            lambda w: f"/api/v1/claims/{p.claim_id}/correction",
            BILLING_A,
            lambda w: {
                "reason": "Matrix",
                "components": [{"component": "consult:l2", "quantity": 1}],
            },
        ),
        Rule(
            "POST",
            "/api/v1/contracts",
            lambda w: "/api/v1/contracts",
            NATIONAL,
            lambda w: {
                "code": f.unique("CT"),
                "insurer": w.insurer_a.code,
                "valid_from": "2026-01-01",
                "coverages": [{"component": "*", "coverage_bp": 5000}],
            },
        ),
        Rule(
            "GET",
            "/api/v1/patients/{patient_id}/memberships",
            lambda w: f"/api/v1/patients/{p.patient_id}/memberships",
            SEE_A,
        ),
        Rule(
            "POST",
            "/api/v1/patients/{patient_id}/memberships",
            lambda w: f"/api/v1/patients/{p.patient_id}/memberships",
            WRITE_A,
            lambda w: {
                "insurer": w.insurer_b.code,
                "member_id": f.unique("M"),
                "valid_from": "2026-01-01",
            },
        ),
    ]


@pytest.fixture(scope="session")
def probe(app: Flask, world: World) -> Probe:
    with app.app_context(), db.transaction() as sess:
        schedule = base_schedule(sess)
        claim = Claim(
            service_type="consult_outcome",
            service_id=10**9 + world.patient_a.id,  # a service of its own, no consult row needed
            kind=ClaimKind.ORIGINAL,
            status=ClaimStatus.READY,
            patient_id=world.patient_a.id,
            facility_id=world.facility_a.id,
            service_at=datetime.now(UTC),
            tariff_schedule_id=schedule.id,
            currency="IRR",
            lines=[],
            total_minor=1000,
            basic_minor=700,
            patient_minor=300,
            basic_insurer_id=world.insurer_a.id,
            basic_member_id="MATRIX",
        )
        sess.add(claim)
        sess.flush()
        claim.components_text = services.components_text(claim.lines)
        sess.add(ClaimRelease(claim_id=claim.id, insurer_id=world.insurer_a.id))
        unconsulted = f.patient(sess, world.facility_a, member_of=world.insurer_a)
        return Probe(claim.id, unconsulted.id)


def test_insurance_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, probe: Probe
) -> None:
    assert run_matrix(app, client, world, rules(probe)) == []
