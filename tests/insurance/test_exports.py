"""Insurer pulls (CSV, JSON lines, FHIR R4 bundles) by opaque cursor, reconciliation and
resubmission of rejected claims, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.models import AuditEvent, InsurerKind
from hub.pki import ca
from insurance import exports, services
from insurance.models import Claim, ClaimKind, ClaimRelease, ClaimStatus, InsurerPull
from tests.insurance.support import (
    InsurerCase,
    answered,
    base_schedule,
    insurer_with_contract,
    join,
    sign,
)
from tests.support import factories as f
from tests.support.paging import all_pages, assert_refuses_bad_cursors
from tests.support.personas import World
from tests.support.pki import pki

__all__ = ["pki"]


def make_claim(
    app: Flask,
    world: World,
    basic: InsurerCase | None,
    supp: InsurerCase | None = None,
    *,
    total: int = 1_000_000,
) -> int:
    """A ready claim of a new facility-A patient, released to its insurers (no consult needed)."""
    with app.app_context(), db.transaction() as sess:
        schedule = base_schedule(sess)
        patient = f.patient(sess, world.facility_a)
        for case in (basic, supp):
            if case is not None:
                join(sess, patient.id, case.insurer_id)
        lines = [
            {
                "component": "consult:l2",
                "quantity": 1,
                "unit_minor": total,
                "amount_minor": total,
                "basic_minor": total * 7 // 10 if basic else 0,
                "supplementary_minor": total // 10 if supp else 0,
                "patient_minor": total
                - (total * 7 // 10 if basic else 0)
                - (total // 10 if supp else 0),
            }
        ]
        line = lines[0]
        claim = Claim(
            service_type="consult_outcome",
            service_id=10**9 + patient.id,
            kind=ClaimKind.ORIGINAL,
            status=ClaimStatus.READY,
            patient_id=patient.id,
            facility_id=world.facility_a.id,
            service_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
            tariff_schedule_id=schedule.id,
            currency="IRR",
            lines=lines,
            components_text=services.components_text(lines),
            total_minor=total,
            basic_minor=line["basic_minor"],
            supplementary_minor=line["supplementary_minor"],
            patient_minor=line["patient_minor"],
            basic_insurer_id=basic.insurer_id if basic else None,
            basic_member_id="B-" + str(patient.id) if basic else None,
            supplementary_insurer_id=supp.insurer_id if supp else None,
            supplementary_member_id="S-" + str(patient.id) if supp else None,
        )
        sess.add(claim)
        sess.flush()
        services.release(sess, claim)
        return claim.id


def pull(
    client: FlaskClient,
    case: InsurerCase,
    fmt: str = "csv",
    cursor: str | None = None,
    **extra: Any,
) -> tuple[int, Any, dict[str, str]]:
    params = {"format": fmt, **({"cursor": cursor} if cursor else {}), **extra}
    resp = client.get("/api/v1/insurer/claims", query_string=params, headers=case.headers)
    headers = dict(resp.headers)
    if resp.status_code != 200:
        return resp.status_code, resp.get_json(), headers
    text = resp.get_data(as_text=True)
    if fmt == "csv":
        return 200, list(csv.DictReader(io.StringIO(text))), headers
    return 200, [json.loads(line) for line in text.splitlines()], headers


def test_pull_by_cursor_in_three_formats_sees_only_own_members(
    app: Flask, client: FlaskClient, session: Session, world: World, pki: ca.Authority
) -> None:
    a = insurer_with_contract(app, client, session)
    b = insurer_with_contract(app, client, session)
    s = insurer_with_contract(app, client, session, kind=InsurerKind.SUPPLEMENTARY)
    first = make_claim(app, world, a)
    make_claim(app, world, b)  # another insurer's member
    both = make_claim(app, world, a, s)

    status, rows, headers = pull(client, a)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert [int(r["claim_id"]) for r in rows] == [first, both]
    assert headers["X-Claim-Count"] == "2"
    row = rows[1]
    assert row["kind"] == "original" and row["original_claim_id"] == ""
    assert row["coverage"] == "basic" and row["member_id"].startswith("B-")
    assert row["facility_code"] == world.facility_a.code
    assert row["service_at"] == "2026-03-04T05:06:07Z"
    assert (row["total_minor"], row["basic_minor"], row["supplementary_minor"]) == (
        "1000000",
        "700000",
        "100000",
    )
    assert row["insurer_share_minor"] == "700000" and row["patient_minor"] == "200000"
    assert row["components"] == "consult:l2*1=1000000"
    assert row["patient_national_id"] and row["service_type"] == "consult_outcome"

    # The supplementary insurer sees the same claim with its own share.
    status, rows, _ = pull(client, s, "jsonl")
    assert [r["claim_id"] for r in rows] == [both]
    assert rows[0]["coverage"] == "supplementary" and rows[0]["insurer_share_minor"] == 100_000
    assert rows[0]["components"] == [
        {"component": "consult:l2", "quantity": 1, "amount_minor": 1_000_000}
    ]

    # Incremental: nothing new after the cursor, then only what was released since.
    cursor = headers["X-Next-Cursor"]
    status, rows, again = pull(client, a, cursor=cursor)
    assert status == 200 and rows == [] and again["X-Claim-Count"] == "0"
    later = make_claim(app, world, a)
    status, rows, after = pull(client, a, cursor=again["X-Next-Cursor"])
    assert [int(r["claim_id"]) for r in rows] == [later]
    # A cursor can be used again: the same part of the queue.
    status, rows, _ = pull(client, a, cursor=again["X-Next-Cursor"])
    assert [int(r["claim_id"]) for r in rows] == [later]

    # A signed consult's claim names the consult and the signed document.
    case = answered(app, client, session, insurers=(a.insurer_id,))
    doc = sign(client, case)
    status, rows, fhir_headers = pull(client, a, "fhir", cursor=after["X-Next-Cursor"])
    assert fhir_headers["Content-Type"].startswith("application/fhir+ndjson")
    (bundle,) = rows
    exports.validate_bundle(bundle)
    (entry,) = bundle["entry"]
    claim = entry["resource"]
    assert claim["resourceType"] == "Claim" and claim["use"] == "claim"
    ids = {i["system"]: i["value"] for i in claim["identifier"]}
    assert ids["urn:telemedicine-hub:service:consult_outcome"] == str(case.consult_id)
    assert claim["supportingInfo"][0]["valueReference"]["identifier"]["value"] == doc["id"]
    assert claim["total"] == {"value": 2_100_000, "currency": "IRR"}
    assert [i["productOrService"]["coding"][0]["code"] for i in claim["item"]] == [
        "consult:l2:pulmonology",
        "async_review",
    ]

    # Every pull is on record and audited.
    with app.app_context(), db.transaction() as sess:
        pulls = sess.scalars(
            select(InsurerPull)
            .where(InsurerPull.insurer_id == a.insurer_id)
            .order_by(InsurerPull.id)
        ).all()
        assert [p.claims for p in pulls] == [2, 0, 1, 1, 1]
        assert [p.format for p in pulls] == ["csv", "csv", "csv", "csv", "fhir"]
        audited = sess.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "insurance:claims:exported")
        ).all()
        assert {p.id for p in pulls} <= {d.get("pull") for d in audited}
        assert services.is_exported(sess, first)


def test_fhir_bundles_hold_at_most_bundle_size_claims(
    app: Flask, client: FlaskClient, session: Session, world: World, monkeypatch: Any
) -> None:
    a = insurer_with_contract(app, client, session)
    made = [make_claim(app, world, a, total=n * 1000 + 1) for n in range(1, 6)]
    monkeypatch.setattr(exports, "BUNDLE_SIZE", 2)
    status, bundles, _ = pull(client, a, "fhir")
    assert status == 200 and [len(b["entry"]) for b in bundles] == [2, 2, 1]
    got = [int(e["resource"]["id"]) for b in bundles for e in b["entry"]]
    assert got == made


def test_limit_pages_through_the_queue(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    a = insurer_with_contract(app, client, session)
    made = [make_claim(app, world, a) for _ in range(3)]
    seen: list[int] = []
    cursor = None
    for _ in range(4):
        status, rows, headers = pull(client, a, "jsonl", cursor=cursor, limit=2)
        assert status == 200
        seen += [r["claim_id"] for r in rows]
        cursor = headers["X-Next-Cursor"]
    assert seen == made


def test_bad_pulls(app: Flask, client: FlaskClient, session: Session, world: World) -> None:
    a = insurer_with_contract(app, client, session)
    b = insurer_with_contract(app, client, session)
    status, body, _ = pull(client, a, cursor="not-a-cursor")
    assert status == 400 and body["error"]["code"] == "unknown_cursor"
    _, _, headers = pull(client, b)
    # Another insurer's cursor is unknown to this one.
    status, body, _ = pull(client, a, cursor=headers["X-Next-Cursor"])
    assert status == 400 and body["error"]["code"] == "unknown_cursor"
    status, body, _ = pull(client, a, "xml")
    assert status == 422
    status, body, _ = pull(client, a, limit=0)
    assert status == 422
    resp = client.get("/api/v1/insurer/claims", headers=world["national"].headers)
    assert resp.status_code == 403  # the scope, but no insurer
    resp = client.get("/api/v1/insurer/claims")
    assert resp.status_code == 401


def test_reconciliation_and_resubmission(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    a = insurer_with_contract(app, client, session)
    b = insurer_with_contract(app, client, session)
    accepted, rejected = make_claim(app, world, a), make_claim(app, world, a)
    _, _, first = pull(client, a)

    def decide(case: InsurerCase, claim_id: int, **body: Any) -> tuple[int, Any]:
        resp = client.post(
            f"/api/v1/insurer/claims/{claim_id}/reconciliation", json=body, headers=case.headers
        )
        return resp.status_code, resp.get_json()

    assert decide(a, accepted, decision="accepted")[0] == 201
    status, body = decide(a, accepted, decision="rejected", reason_code="duplicate")
    assert status == 409 and body["error"]["code"] == "already_reconciled"
    assert decide(b, rejected, decision="accepted")[0] == 404  # not B's claim
    assert decide(a, 10**12, decision="accepted")[0] == 404
    assert decide(a, rejected, decision="rejected")[0] == 422  # no reason code
    assert decide(a, rejected, decision="rejected", reason_code="because")[0] == 422
    assert decide(a, rejected, decision="accepted", reason_code="other")[0] == 422
    assert decide(a, rejected, decision="maybe")[0] == 422
    status, body = decide(
        a, rejected, decision="rejected", reason_code="not_member", note="Membership ended"
    )
    assert status == 201 and body["reason_code"] == "not_member"

    national = world["national"].headers
    # A rejected claim is resubmitted as a rebill only: the insurer paid nothing to credit.
    resp = client.post(
        f"/api/v1/claims/{rejected}/correction",
        json={
            "reason": "Membership renewed",
            "components": [{"component": "consult:l3", "quantity": 1}],
        },
        headers=national,
    )
    assert resp.status_code == 201, resp.get_json()
    (rebill,) = resp.get_json()["items"]
    assert rebill["kind"] == "rebill" and rebill["original_id"] == rejected
    assert rebill["revision"] == 1 and rebill["total_minor"] == 2_000_000
    # An accepted (exported) claim is corrected by a credit and a rebill.
    resp = client.post(
        f"/api/v1/claims/{accepted}/correction",
        json={"reason": "Wrong level", "components": [{"component": "consult:l3", "quantity": 1}]},
        headers=national,
    )
    assert resp.status_code == 201
    credit, rebill2 = resp.get_json()["items"]
    assert credit["kind"] == "credit" and credit["total_minor"] == -1_000_000
    assert credit["basic_minor"] == -700_000 and credit["original_id"] == accepted
    assert rebill2["kind"] == "rebill" and rebill2["original_id"] == accepted
    # The originals never changed; correcting one again is refused (correct the rebill).
    resp = client.post(
        f"/api/v1/claims/{accepted}/correction", json={"reason": "Again"}, headers=national
    )
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "superseded"
    resp = client.post(
        f"/api/v1/claims/{credit['id']}/correction",
        json={"reason": "Not this one"},
        headers=national,
    )
    assert resp.status_code == 409
    with app.app_context(), db.transaction() as sess:
        original = sess.get_one(Claim, accepted)
        assert original.total_minor == 1_000_000 and original.kind is ClaimKind.ORIGINAL

    # The next pull carries the corrections, referencing the originals.
    status, rows, _ = pull(client, a, "jsonl", cursor=first["X-Next-Cursor"])
    assert [(r["kind"], r["original_claim_id"]) for r in rows] == [
        ("rebill", rejected),
        ("credit", accepted),
        ("rebill", accepted),
    ]
    status, bundles, _ = pull(client, a, "fhir", cursor=first["X-Next-Cursor"])
    for bundle in bundles:
        exports.validate_bundle(bundle)
    related = bundles[0]["entry"][1]["resource"]["related"][0]
    assert related["claim"]["identifier"]["value"] == str(accepted)
    assert bundles[0]["entry"][1]["resource"]["total"]["value"] == -1_000_000

    # A facility administrator of another facility cannot see or correct it (404, audited).
    resp = client.post(
        f"/api/v1/claims/{rebill2['id']}/correction",
        json={"reason": "Not mine"},
        headers=world["admin_a"].headers,
    )
    assert resp.status_code in (201, 409, 422)  # facility A's own claim: allowed
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(select(ClaimRelease.id).where(ClaimRelease.claim_id == rebill["id"]))


def test_facility_billing_list(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    a = insurer_with_contract(app, client, session)
    made = make_claim(app, world, a)
    items = all_pages(client, "/api/v1/claims", world["admin_a"].headers)
    assert made in [c["id"] for c in items]
    assert {c["facility_id"] for c in items} == {world.facility_a.id}
    resp = client.get(
        f"/api/v1/claims?facility_id={world.facility_b.id}", headers=world["admin_a"].headers
    )
    assert resp.status_code == 403
    resp = client.get(
        f"/api/v1/claims?facility_id={world.facility_b.id}", headers=world["national"].headers
    )
    assert resp.status_code == 200
    assert all(c["facility_id"] == world.facility_b.id for c in resp.get_json()["items"])


def test_facility_billing_list_pages_by_next_cursor(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    a = insurer_with_contract(app, client, session)
    made = [make_claim(app, world, a) for _ in range(3)]
    admin = world["admin_a"].headers
    one_page = client.get("/api/v1/claims?limit=200", headers=admin).get_json()
    walked = all_pages(client, "/api/v1/claims", admin, limit=1)
    assert [c["id"] for c in walked] == [c["id"] for c in one_page["items"]]
    assert [c["id"] for c in walked][:3] == sorted(made, reverse=True)  # newest first
    first = client.get("/api/v1/claims?limit=2", headers=admin).get_json()
    after = client.get(f"/api/v1/claims?limit=2&cursor={first['next_cursor']}", headers=admin)
    assert after.get_json()["items"][0]["id"] == made[0]
    assert_refuses_bad_cursors(client, "/api/v1/claims", admin)


def test_copy_and_python_csv_write_the_same_bytes(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    a = insurer_with_contract(app, client, session)
    s = insurer_with_contract(app, client, session, kind=InsurerKind.SUPPLEMENTARY)
    make_claim(app, world, a)
    make_claim(app, world, a, s)
    engine = db.get_db(app).engine
    assert engine is not None
    p = exports.Pull(0, a.insurer_id, a.code, "csv", 0, 2**62, 2, "")
    streamed = b"".join(exports.stream_csv(engine, p))  # COPY on PostgreSQL
    written = exports._csv_header() + b"".join(exports._python_csv(engine, p))
    assert streamed == written
    assert streamed.count(b"\n") == 3


def test_memberships(app: Flask, client: FlaskClient, session: Session, world: World) -> None:
    a = insurer_with_contract(app, client, session)
    s = insurer_with_contract(app, client, session, kind=InsurerKind.SUPPLEMENTARY)
    patient = f.patient(session, world.facility_a)
    session.commit()
    codes = {}
    with app.app_context(), db.transaction() as sess:
        from hub.models import Insurer

        codes = {c.insurer_id: sess.get_one(Insurer, c.insurer_id).code for c in (a, s)}
    url = f"/api/v1/patients/{patient.id}/memberships"
    hw = world["hw_a"].headers
    body = {"insurer": codes[a.insurer_id], "member_id": "A-1", "valid_from": "2026-01-01"}
    created = client.post(url, json=body, headers=hw)
    assert created.status_code == 201, created.get_json()
    assert client.post(url, json=body, headers=hw).status_code == 409  # the member id is taken
    bad = {**body, "member_id": "A-2", "valid_to": "2025-01-01"}
    assert client.post(url, json=bad, headers=hw).status_code == 422
    unknown = {**body, "insurer": "NOPE", "member_id": "A-3"}
    assert client.post(url, json=unknown, headers=hw).status_code == 422
    supp = {"insurer": codes[s.insurer_id], "member_id": "S-1", "valid_from": "2026-01-01"}
    assert client.post(url, json=supp, headers=hw).status_code == 201
    assert client.post(url, json=supp, headers=world["hw_b"].headers).status_code == 404
    assert len(client.get(url, headers=hw).get_json()["items"]) == 2
    walked = all_pages(client, url, hw, limit=1)
    assert [m["member_id"] for m in walked] == ["A-1", "S-1"]
    assert_refuses_bad_cursors(client, url, hw)
    # Each insurer sees its own membership only (and only of its own members).
    mine = client.get(url, headers=a.headers).get_json()["items"]
    assert [m["member_id"] for m in mine] == ["A-1"]
