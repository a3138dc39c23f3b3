"""Every /api/v1 operation refuses the personas it must refuse, and every refusal is audited.

Domain packages add their rows to RULES as they add routes; an operation without a row fails
``test_every_operation_has_a_rule``.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.models import Consent, ConsentMethod, ConsentScope, utcnow
from tests.support import factories as f
from tests.support.matrix import Rule, run_matrix, uncovered_operations
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
# Who may see patient A (home: facility A in region X, member of insurer A).
SEE_A = frozenset({"hw_a", "gp_a", "command_x", "admin_a", "national", "insurer_a"})
WRITE_A = frozenset({"hw_a", "gp_a", "admin_a", "national"})


def _new_patient(w: World) -> dict[str, object]:
    return {
        "national_id": f.national_id(),
        "given_name": "Matrix",
        "family_name": "Case",
        "date_of_birth": "1970-01-01",
        "sex": "male",
        "home_facility": w.facility_a.code,
    }


# A patient of facility A nobody requests consults for (a consult would let its specialist in).
_probe: dict[str, int] = {}


def _pa(w: World) -> str:
    return f"/api/v1/patients/{_probe.get('patient', w.patient_a.id)}"


def rules(consent_id: int) -> list[Rule]:
    return [
        *RULES,
        Rule(
            "POST",
            "/api/v1/patients/{patient_id}/consents/{consent_id}/withdraw",
            # The first allowed persona withdraws it; the rest get 409, which is not a refusal.
            lambda w: f"{_pa(w)}/consents/{consent_id}/withdraw",
            WRITE_A,
        ),
        Rule(
            "GET",
            "/api/v1/patients/{patient_id}/consents/{consent_id}/form.pdf",
            lambda w: f"{_pa(w)}/consents/{consent_id}/form.pdf",
            SEE_A,
        ),
        Rule(
            "POST",
            "/api/v1/patients/{patient_id}/consents/{consent_id}/form/sign",
            # Withdrawn by the rule above, so the recorder gets 409: no document is signed.
            lambda w: f"{_pa(w)}/consents/{consent_id}/form/sign",
            RECORDER,
        ),
    ]


RULES = [
    Rule("GET", "/api/v1/me", lambda w: "/api/v1/me", EVERYONE),
    # Listing is open to every role; what each sees is filtered (test_patients_api).
    Rule("GET", "/api/v1/patients", lambda w: "/api/v1/patients", EVERYONE),
    Rule(
        "POST",
        "/api/v1/patients",
        lambda w: "/api/v1/patients",
        frozenset({"hw_a", "gp_a", "admin_a", "national"}),
        _new_patient,
    ),
    Rule("GET", "/api/v1/patients/{patient_id}", _pa, SEE_A),
    Rule(
        "PATCH",
        "/api/v1/patients/{patient_id}",
        _pa,
        WRITE_A,
        lambda w: {"address": "Village road 1"},
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/merge",
        lambda w: _pa(w) + "/merge",
        frozenset({"admin_a", "national"}),
        # Merging a patient into itself is refused by validation (422) after the permission
        # checks pass, so allowed personas never change data here.
        lambda w: {"duplicate_id": _probe["patient"], "reason": "matrix probe"},
    ),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/consents",
        lambda w: _pa(w) + "/consents",
        WRITE_A,
        lambda w: {"scopes": ["data_sharing"]},
    ),
    Rule("GET", "/api/v1/patients/{patient_id}/consents", lambda w: _pa(w) + "/consents", SEE_A),
    Rule(
        "POST",
        "/api/v1/patients/{patient_id}/memberships/{membership_id}/end",
        lambda w: f"{_pa(w)}/memberships/{_probe.get('membership', 0)}/end",
        WRITE_A,
        # Before the membership started: allowed personas get 422, and nothing changes.
        lambda w: {"valid_to": "2019-12-31"},
    ),
]
# The probe consent is recorded by hw_a: only its recorder signs the form.
RECORDER = frozenset({"hw_a"})


def test_every_operation_has_a_rule() -> None:
    from tests.consult.test_permissions import Consults
    from tests.consult.test_permissions import rules as consult_rules
    from tests.consult.test_signing_permissions import rules as signing_rules
    from tests.imaging.test_device_permissions import Probe as DeviceProbe
    from tests.imaging.test_device_permissions import rules as device_rules
    from tests.imaging.test_permissions import Probe
    from tests.imaging.test_permissions import rules as imaging_rules
    from tests.imaging.test_qc_permissions import Probe as QcProbe
    from tests.imaging.test_qc_permissions import rules as qc_rules
    from tests.imaging.test_reading_permissions import Probe as ReadingProbe
    from tests.imaging.test_reading_permissions import rules as reading_rules
    from tests.insurance.test_permissions import Probe as InsuranceProbe
    from tests.insurance.test_permissions import rules as insurance_rules
    from tests.referral.test_monitoring_permissions import rules as monitoring_rules
    from tests.referral.test_permissions import Probe as ReferralProbe
    from tests.referral.test_permissions import rules as referral_rules
    from tests.referral.test_transfer_permissions import rules as transfer_rules
    from tests.video.test_permissions import Probe as VideoProbe
    from tests.video.test_permissions import rules as video_rules

    every = (
        rules(0)
        + consult_rules(Consults(0, 0, 0, 0, 0, 0))
        + signing_rules(0)
        + imaging_rules(Probe("", 0, 0))
        + reading_rules(ReadingProbe("", 0, 0))
        + qc_rules(QcProbe(0, 0))
        + device_rules(DeviceProbe(0, "", 0))
        + insurance_rules(InsuranceProbe(0))
        + referral_rules(ReferralProbe())
        + transfer_rules(0)
        + monitoring_rules(0)
        + video_rules(VideoProbe(0, 0, 0, 0, 0))
    )
    assert uncovered_operations(every) == []


def test_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, session: Session
) -> None:
    patient = f.patient(session, world.facility_a, member_of=world.insurer_a)
    session.commit()
    _probe["patient"] = patient.id
    _probe["membership"] = patient.memberships[0].id
    consent = Consent(
        patient_id=patient.id,
        scope=ConsentScope.RECORDING,
        method=ConsentMethod.WRITTEN,
        given_by_name="Probe",
        given_at=utcnow(),
        recorded_by_id=world["hw_a"].user_id,
    )
    session.add(consent)
    session.commit()
    assert run_matrix(app, client, world, rules(consent.id)) == []


def test_matrix_detects_a_wrong_rule(app: Flask, client: FlaskClient, world: World) -> None:
    """The helper itself must fail when a rule claims a refusal that does not happen."""
    wrong = [Rule("GET", "/api/v1/patients/{patient_id}", _pa, frozenset({"hw_a"}))]
    problems = run_matrix(app, client, world, wrong)
    assert any("as gp_a: expected refusal, got 200" in p for p in problems)
