"""Insurance test helpers: the base tariff, insurers with contracts and OAuth tokens, signed
consults of insured patients."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import Consult
from hub import db
from hub.models import ConsentScope, Insurer, InsurerKind, Membership, Role
from insurance.models import Claim, Contract, Coverage, TariffItem, TariffSchedule, TariffUnit
from tests.consult.support import Site, bearer, consent, on_call, submit
from tests.support import factories as f
from tests.support.pki import OUTCOME_BODY, clinician

# The schedule every test's services (dated now) are priced with. Tariff upload tests use dates
# after 2200, so they never change what is in force today.
BASE_FROM = date(2001, 1, 1)
BASE_TARIFF = {
    "consult:l2": 1_500_000,
    "consult:l2:pulmonology": 1_800_000,
    "consult:l3": 2_000_000,
    "async_review": 300_000,
    "video_minute": 60_000,
    "prescription": 150_000,
    "referral": 250_000,
    "image_reading:ct": 3_000_000,
    "report": 400_000,
}
# No "phone_consult": a phone consult cannot be priced, which tests the held path.


def base_schedule(session: Session) -> TariffSchedule:
    row = session.scalar(select(TariffSchedule).where(TariffSchedule.effective_from == BASE_FROM))
    if row is None:
        row = TariffSchedule(
            label="Test base",
            currency="IRR",
            minor_unit=0,
            effective_from=BASE_FROM,
            source_sha256="0" * 64,
        )
        session.add(row)
        session.flush()
        for code, amount in BASE_TARIFF.items():
            unit = TariffUnit.MINUTE if code == "video_minute" else TariffUnit.SERVICE
            session.add(
                TariffItem(schedule_id=row.id, component=code, unit=unit, amount_minor=amount)
            )
        session.flush()
    return row


def oauth_token(client: FlaskClient, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return str(resp.get_json()["access_token"])


@dataclass
class InsurerCase:
    insurer_id: int
    code: str
    headers: dict[str, str]


def insurer_with_contract(
    app: Flask,
    client: FlaskClient,
    session: Session,
    *,
    kind: InsurerKind = InsurerKind.BASIC,
    coverages: tuple[tuple[str, int, int, int | None], ...] = (("*", 7000, 0, None),),
) -> InsurerCase:
    """A fresh insurer, a contract for every facility, and its client's bearer token."""
    insurer = Insurer(code=f.unique("INS"), name="Insurer", kind=kind)
    session.add(insurer)
    session.flush()
    contract = Contract(code=f.unique("CT"), insurer_id=insurer.id, valid_from=date(2000, 1, 1))
    session.add(contract)
    session.flush()
    for component, bp, copay, cap in coverages:
        session.add(
            Coverage(
                contract_id=contract.id,
                component=component,
                coverage_bp=bp,
                copay_minor=copay,
                cap_minor=cap,
            )
        )
    client_id, secret = f.insurer_client(session, insurer)
    base_schedule(session)
    session.commit()
    token = oauth_token(client, client_id, secret)
    return InsurerCase(insurer.id, insurer.code, {"Authorization": f"Bearer {token}"})


def join(session: Session, patient_id: int, insurer_id: int) -> None:
    session.add(
        Membership(
            patient_id=patient_id,
            insurer_id=insurer_id,
            member_id=f.unique("M"),
            valid_from=date(2000, 1, 1),
        )
    )
    session.flush()


@dataclass
class Case:
    site: Site
    consult_id: int
    patient_id: int
    specialist_headers: dict[str, str]
    requester_headers: dict[str, str]
    admin_headers: dict[str, str]  # a facility admin of the billing (specialist's) facility
    facility_id: int


def answered(
    app: Flask,
    client: FlaskClient,
    session: Session,
    *,
    insurers: tuple[int, ...] = (),
    mode: str = "async",
    outcome: dict[str, Any] | None = None,
) -> Case:
    """A consult answered by a level-2 pulmonologist, its patient a member of ``insurers``."""
    site = Site(app, session)
    site.chw.licence_number = f.unique("CHW")
    if mode == "video":
        consent(session, site.patient.id, ConsentScope.VIDEO)
    for insurer_id in insurers:
        join(session, site.patient.id, insurer_id)
    doctor = clinician(session, Role.SPECIALIST, at=site.l2, specialty="pulmonology")
    on_call(session, doctor, site.l2)
    headers = bearer(session, doctor)
    admin = f.user(session, Role.FACILITY_ADMIN, at=site.l2)
    admin_headers = bearer(session, admin)
    base_schedule(session)
    session.commit()
    consult = submit(client, site.chw_headers, site.patient.id, mode=mode)
    claim = client.post(f"/api/v1/consults/{consult['id']}/claim", headers=headers)
    assert claim.status_code == 200, claim.get_json()
    answer = client.post(
        f"/api/v1/consults/{consult['id']}/outcome", headers=headers, json=outcome or OUTCOME_BODY
    )
    assert answer.status_code == 201, answer.get_json()
    return Case(
        site, consult["id"], site.patient.id, headers, site.chw_headers, admin_headers, site.l2.id
    )


def sign(client: FlaskClient, case: Case, what: str = "") -> dict[str, Any]:
    resp = client.post(
        f"/api/v1/consults/{case.consult_id}{what}/sign", headers=case.specialist_headers
    )
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def claims_of(app: Flask, consult_id: int) -> list[Claim]:
    with app.app_context(), db.transaction() as sess:
        rows = list(
            sess.scalars(select(Claim).where(Claim.consult_id == consult_id).order_by(Claim.id))
        )
        sess.expunge_all()
        return rows


def consult_row(app: Flask, consult_id: int) -> Consult:
    with app.app_context(), db.transaction() as sess:
        row = sess.get_one(Consult, consult_id)
        sess.expunge(row)
        return row
