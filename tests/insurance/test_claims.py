"""Claims from signed outcomes on SQLite and PostgreSQL: pricing, shares, held claims, the
signing hook, corrections (credit / rebill), SEEDS 000 and the one-claim-per-service rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consult import services as consult_services
from hub import db
from hub.auth.principal import SYSTEM
from hub.models import InsurerKind, OutboxMessage
from hub.pki import ca
from insurance import services
from insurance.errors import CannotPrice, PrintNotBillable
from insurance.models import Claim, ClaimKind, ClaimRelease, ClaimStatus, Coverage
from tests.insurance.support import (
    answered,
    base_schedule,
    claims_of,
    insurer_with_contract,
    sign,
)
from tests.support.pki import pki

__all__ = ["pki"]


def test_signed_outcome_is_billed_with_basic_supplementary_and_patient_shares(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    basic = insurer_with_contract(
        app,
        client,
        session,
        coverages=(("*", 7000, 0, None), ("async_review", 10000, 50_000, None)),
    )
    supp = insurer_with_contract(
        app,
        client,
        session,
        kind=InsurerKind.SUPPLEMENTARY,
        coverages=(("consult:*", 5000, 0, 200_000),),
    )
    case = answered(app, client, session, insurers=(basic.insurer_id, supp.insurer_id))
    assert claims_of(app, case.consult_id) == []  # nothing before the outcome is signed
    doc = sign(client, case)
    (claim,) = claims_of(app, case.consult_id)
    assert claim.status is ClaimStatus.READY and claim.kind is ClaimKind.ORIGINAL
    assert claim.service_type == "consult_outcome" and claim.document_public_id == doc["id"]
    by_code = {ln["component"]: ln for ln in claim.lines}
    # Level-2 pulmonology has its own tariff; the async review is priced on its own.
    consult_line = by_code["consult:l2:pulmonology"]
    assert consult_line["amount_minor"] == 1_800_000
    assert consult_line["basic_minor"] == 1_260_000  # 70 %
    assert consult_line["supplementary_minor"] == 200_000  # 50 % of 540,000 capped at 200,000
    assert consult_line["patient_minor"] == 340_000
    review = by_code["async_review"]
    assert review["amount_minor"] == 300_000
    assert review["basic_minor"] == 250_000  # 100 % less a 50,000 copay
    assert review["supplementary_minor"] == 0  # not covered by the supplementary contract
    assert review["patient_minor"] == 50_000
    assert claim.total_minor == 2_100_000
    assert claim.basic_minor + claim.supplementary_minor + claim.patient_minor == 2_100_000
    assert claim.basic_insurer_id == basic.insurer_id
    assert claim.supplementary_insurer_id == supp.insurer_id
    assert claim.currency == "IRR" and claim.components_text.startswith("consult:l2:pulmonology*1=")
    with app.app_context(), db.transaction() as sess:
        released = set(
            sess.scalars(select(ClaimRelease.insurer_id).where(ClaimRelease.claim_id == claim.id))
        )
    assert released == {basic.insurer_id, supp.insurer_id}

    # The prescription is a service of its own: one more claim, and only one.
    sign(client, case, "/prescription")
    claims = claims_of(app, case.consult_id)
    assert [c.service_type for c in claims] == ["consult_outcome", "e_prescription"]
    assert claims[1].lines[0]["component"] == "prescription"


def test_a_service_that_cannot_be_priced_never_fails_signing(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    ins = insurer_with_contract(app, client, session)
    case = answered(app, client, session, insurers=(ins.insurer_id,), mode="phone")
    sign(client, case)  # the tariff has no phone consult
    (claim,) = claims_of(app, case.consult_id)
    assert claim.status is ClaimStatus.HELD
    assert claim.hold_reason == "no_tariff_for_component"
    assert claim.hold_details == {"component": "phone_consult"}
    assert claim.total_minor == 0
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(select(ClaimRelease.id).where(ClaimRelease.claim_id == claim.id)) is None

    # Correcting with what was done prices it in place and releases it (never exported before).
    resp = client.post(
        f"/api/v1/claims/{claim.id}/correction",
        json={
            "reason": "Billed as a level-2 consult",
            "components": [{"component": "consult:l2", "quantity": 1}],
        },
        headers=case.admin_headers,
    )
    assert resp.status_code == 201, resp.get_json()
    (fixed,) = resp.get_json()["items"]
    assert (
        fixed["id"] == claim.id and fixed["status"] == "ready" and fixed["total_minor"] == 1_500_000
    )
    assert fixed["basic_minor"] == 1_050_000


def test_an_unexpected_pricing_error_goes_to_the_outbox(
    app: Flask,
    client: FlaskClient,
    session: Session,
    pki: ca.Authority,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = answered(app, client, session)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("pricing service down")

    monkeypatch.setattr(services, "price", broken)
    sign(client, case)  # signing still succeeds
    assert claims_of(app, case.consult_id) == []
    with app.app_context(), db.transaction() as sess:
        msg = sess.scalar(
            select(OutboxMessage)
            .where(
                OutboxMessage.topic == services.CLAIM_TOPIC,
                OutboxMessage.dispatched_at.is_(None),
            )
            .order_by(OutboxMessage.id.desc())
        )
        assert msg is not None and msg.payload["consult_id"] == case.consult_id
        monkeypatch.undo()
        services.deliver_claim(sess, msg.payload)
    (claim,) = claims_of(app, case.consult_id)
    assert claim.status is ClaimStatus.READY  # a patient without insurance pays it all
    assert claim.patient_minor == claim.total_minor == 2_100_000


def test_video_minutes_come_from_the_session_timeline(
    app: Flask,
    client: FlaskClient,
    session: Session,
    pki: ca.Authority,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ins = insurer_with_contract(
        app, client, session, coverages=(("*", 7000, 0, None), ("video_minute", 9000, 0, 100_000))
    )
    case = answered(app, client, session, insurers=(ins.insurer_id,), mode="video")
    seen: list[int] = []

    def billable_seconds(sess: Session, consult_id: int) -> int:
        seen.append(consult_id)
        return 125  # 2 min 5 s connected: 3 started minutes

    monkeypatch.setattr(services.video_services, "billable_seconds", billable_seconds)
    sign(client, case)
    (claim,) = claims_of(app, case.consult_id)
    assert seen == [case.consult_id]
    video = next(ln for ln in claim.lines if ln["component"] == "video_minute")
    assert video["quantity"] == 3 and video["amount_minor"] == 180_000
    assert video["basic_minor"] == 100_000  # 90 % is 162,000, capped at 100,000
    assert not any(ln["component"] == "async_review" for ln in claim.lines)


def test_no_claim_without_a_signed_outcome_and_never_two(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    case = answered(app, client, session)
    with app.app_context(), db.transaction() as sess:
        consult = consult_services.facts(sess, case.consult_id)
        assert consult is not None
        with pytest.raises(Exception) as refused:
            services.bill_consult_document(sess, SYSTEM, consult, "consult_outcome", None)
        assert getattr(refused.value, "code", None) == "not_signed"
    sign(client, case)
    (first,) = claims_of(app, case.consult_id)
    with app.app_context(), db.transaction() as sess:
        consult = consult_services.facts(sess, case.consult_id)
        assert consult is not None
        again = services.bill_consult_document(sess, SYSTEM, consult, "consult_outcome", None)
        assert again.id == first.id  # idempotent
    # The database itself refuses a second original claim for the same service.
    with app.app_context(), db.transaction() as sess:
        original = sess.get_one(Claim, first.id)
        dup = Claim(
            service_type=original.service_type,
            service_id=original.service_id,
            kind=ClaimKind.ORIGINAL,
            revision=0,
            status=ClaimStatus.HELD,
            patient_id=original.patient_id,
            facility_id=original.facility_id,
            service_at=original.service_at,
        )
        sess.add(dup)
        with pytest.raises(IntegrityError):
            sess.flush()
        sess.rollback()


def test_print_of_film_or_paper_is_never_billable(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    with app.app_context(), db.transaction() as sess:
        base_schedule(sess)
    with app.app_context(), db.transaction() as sess, pytest.raises(PrintNotBillable) as refused:
        services.price(sess, 1, 1, [services.Component("film_print:ct", 1)], datetime.now(UTC))
    assert "SEEDS 000" in refused.value.message and refused.value.status == 422

    case = answered(app, client, session)
    sign(client, case)
    (claim,) = claims_of(app, case.consult_id)
    resp = client.post(
        f"/api/v1/claims/{claim.id}/correction",
        json={
            "reason": "Films handed out",
            "components": [{"component": "paper_print", "quantity": 1}],
        },
        headers=case.admin_headers,
    )
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "seeds_000_print_not_billable" and "SEEDS 000" in error["message"]
    assert [c.id for c in claims_of(app, case.consult_id)] == [claim.id]  # nothing written


def test_no_tariff_in_force_holds_the_claim() -> None:
    with pytest.raises(CannotPrice) as held:
        # 1990 precedes every schedule; checked without a database through a stub session.
        class Stub:
            def scalar(self, *args: object) -> None:
                return None

        services.price(
            Stub(), 1, 1, [services.Component("consult:l2", 1)], datetime(1990, 1, 1, tzinfo=UTC)
        )  # type: ignore[arg-type]
    assert held.value.reason == "no_tariff_in_force"


def test_share_rounding_is_integer_and_adds_up() -> None:
    cov = Coverage(component="*", coverage_bp=3333, copay_minor=0, cap_minor=None)
    assert services.share(100, cov) == 33  # rounded down; the patient pays the remainder
    assert services.share(0, cov) == 0
    assert services.share(100, None) == 0
    cov.copay_minor = 50
    assert services.share(100, cov) == 0  # never negative
    cov.coverage_bp, cov.copay_minor, cov.cap_minor = 10000, 0, 40
    assert services.share(100, cov) == 40


def test_video_minutes_from_the_real_session_timeline(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    from datetime import timedelta

    from video import timeline
    from video.models import (
        ParticipantRole,
        SessionKind,
        SessionStatus,
        VideoParticipant,
        VideoSession,
    )

    ins = insurer_with_contract(app, client, session)
    case = answered(app, client, session, insurers=(ins.insurer_id,), mode="video")
    start = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    with app.app_context(), db.transaction() as sess:
        from consult.models import Consult

        consult = sess.get_one(Consult, case.consult_id)
        assert consult.assigned_to_id is not None
        video = VideoSession(
            consult_id=consult.id,
            kind=SessionKind.INSTANT,
            status=SessionStatus.ENDED,
            created_by_id=consult.assigned_to_id,
            ended_at=start + timedelta(minutes=30),
        )
        sess.add(video)
        sess.flush()
        spec = VideoParticipant(
            session_id=video.id, user_id=consult.assigned_to_id, role=ParticipantRole.SPECIALIST
        )
        req = VideoParticipant(
            session_id=video.id, user_id=consult.requester_id, role=ParticipantRole.REQUESTER
        )
        sess.add_all([spec, req])
        sess.flush()
        # Both connected from 9:01:00 to 9:08:30: 450 s, 8 started minutes.
        timeline.add(sess, video, "joined", req, at=start)
        timeline.add(sess, video, "joined", spec, at=start + timedelta(minutes=1))
        timeline.add(sess, video, "left", req, at=start + timedelta(minutes=8, seconds=30))
        timeline.add(sess, video, "left", spec, at=start + timedelta(minutes=9))
    sign(client, case)
    (claim,) = claims_of(app, case.consult_id)
    video_line = next(ln for ln in claim.lines if ln["component"] == "video_minute")
    assert video_line["quantity"] == 8 and video_line["amount_minor"] == 480_000


def test_a_facility_contract_beats_the_general_one(
    app: Flask, client: FlaskClient, session: Session, pki: ca.Authority
) -> None:
    from datetime import date

    from insurance.models import Contract
    from tests.support import factories as f

    ins = insurer_with_contract(app, client, session)  # every facility: 70 %
    case = answered(app, client, session, insurers=(ins.insurer_id,))
    own = Contract(
        code=f.unique("CT"),
        insurer_id=ins.insurer_id,
        facility_id=case.facility_id,  # the specialist's hospital, which bills
        valid_from=date(2000, 1, 1),
    )
    session.add(own)
    session.flush()
    session.add(Coverage(contract_id=own.id, component="consult:*", coverage_bp=9000))
    session.commit()
    sign(client, case)
    (claim,) = claims_of(app, case.consult_id)
    by_code = {ln["component"]: ln for ln in claim.lines}
    assert by_code["consult:l2:pulmonology"]["basic_minor"] == 1_620_000  # 90 %
    assert by_code["async_review"]["basic_minor"] == 0  # not in the facility's own contract
