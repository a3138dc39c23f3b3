"""The insurer analyst's claims list (filters, accept, reject with a reason code), the billing
page's warning for patients billed in full without a membership, and the tariffs page."""

from __future__ import annotations

import io
import random
import re
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import db
from hub.models import AuditEvent, Insurer, Role, User
from insurance.models import Reconciliation, TariffSchedule
from tests.hub.test_auth import form_csrf, post_login
from tests.insurance.support import InsurerCase, insurer_with_contract, join
from tests.insurance.test_exports import make_claim
from tests.support import factories as f
from tests.support.personas import World


def analyst_of(session: Session, case: InsurerCase) -> User:
    person = f.user(session, Role.INSURER, insurer_of=session.get_one(Insurer, case.insurer_id))
    session.commit()
    return person


def log_in(client: FlaskClient, person: User) -> None:
    assert post_login(client, person.username).status_code == 302


def claim_ids(html: str) -> set[int]:
    return {int(m) for m in re.findall(r'<tr data-claim="(\d+)"', html)}


def decisions(app: Flask, claim_id: int) -> list[Reconciliation]:
    with app.app_context(), db.transaction() as sess:
        rows = list(sess.scalars(select(Reconciliation).where(Reconciliation.claim_id == claim_id)))
        sess.expunge_all()
        return rows


def member_of(app: Flask, claim_id: int) -> str:
    from insurance.models import Claim

    with app.app_context(), db.transaction() as sess:
        return str(sess.get_one(Claim, claim_id).basic_member_id)


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_claims_list_filters_and_reconciliation(
    app: Flask, client: FlaskClient, session: Session, world: World, locale: str
) -> None:
    ins = insurer_with_contract(app, client, session)
    other = insurer_with_contract(app, client, session)
    one, two, three = (make_claim(app, world, ins) for _ in range(3))
    foreign = make_claim(app, world, other)
    log_in(client, analyst_of(session, ins))
    client.get(f"/lang/{locale}")

    page = client.get("/insurance/analyst")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert {one, two, three} <= claim_ids(text) and foreign not in claim_ids(text)
    # The facility is chosen from the facilities billing this insurer, not typed.
    assert f'<option value="{world.facility_a.code}"' in text
    assert 'name="facility" value=' not in text

    member = member_of(app, two)
    only = client.get("/insurance/analyst", query_string={"member": member})
    assert claim_ids(only.get_data(as_text=True)) == {two}
    period = {"from": "2026-03-04", "to": "2026-03-04", "facility": world.facility_a.code}
    assert {one, two, three} <= claim_ids(
        client.get("/insurance/analyst", query_string=period).get_data(as_text=True)
    )
    later = {"from": "2026-03-05"}
    assert not claim_ids(
        client.get("/insurance/analyst", query_string=later).get_data(as_text=True)
    )
    wrong = client.get("/insurance/analyst", query_string={"from": "2026-02-30"})
    assert wrong.status_code == 200 and 'role="alert"' in wrong.get_data(as_text=True)

    token = form_csrf(page)
    back = "status=pending"
    done = client.post(
        f"/insurance/analyst/claims/{one}/reconcile",
        data={"csrf_token": token, "decision": "accepted", "back": back},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("?status=pending")
    done = client.post(
        f"/insurance/analyst/claims/{two}/reconcile",
        data={
            "csrf_token": token,
            "decision": "rejected",
            "reason_code": "not_covered",
            "note": "Outside the contract",
        },
    )
    assert done.status_code == 302
    [accepted] = decisions(app, one)
    [rejected] = decisions(app, two)
    assert accepted.decision.value == "accepted" and accepted.reason_code is None
    assert rejected.reason_code == "not_covered" and rejected.note == "Outside the contract"
    with app.app_context(), db.transaction() as sess:
        audited = sess.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "insurance:claim:reconciled",
                AuditEvent.object_id.in_([str(one), str(two)]),
            )
        )
    assert audited == 2

    shown = client.get("/insurance/analyst", query_string={"status": "accepted"})
    assert claim_ids(shown.get_data(as_text=True)) == {one}
    shown = client.get("/insurance/analyst", query_string={"status": "pending"})
    assert two not in claim_ids(shown.get_data(as_text=True))
    assert three in claim_ids(shown.get_data(as_text=True))

    # Bad paths: reconciled already → 409; no or unknown reason → 422; another insurer's → 404.
    again = client.post(
        f"/insurance/analyst/claims/{one}/reconcile",
        data={"csrf_token": token, "decision": "rejected", "reason_code": "duplicate"},
    )
    assert again.status_code == 409
    assert 'id="reconcile-error"' in again.get_data(as_text=True)
    for reason in ("", "because"):
        bad = client.post(
            f"/insurance/analyst/claims/{three}/reconcile",
            data={"csrf_token": token, "decision": "rejected", "reason_code": reason},
        )
        assert bad.status_code == 422
    bad = client.post(
        f"/insurance/analyst/claims/{three}/reconcile",
        data={"csrf_token": token, "decision": "maybe"},
    )
    assert bad.status_code == 422
    assert decisions(app, three) == []
    hidden = client.post(
        f"/insurance/analyst/claims/{foreign}/reconcile",
        data={"csrf_token": token, "decision": "accepted"},
    )
    assert hidden.status_code == 404 and decisions(app, foreign) == []
    assert [d.decision.value for d in decisions(app, one)] == ["accepted"]

    # The same list through the API, for machine clients.
    resp = client.get(
        "/api/v1/insurer/claims/released", query_string={"status": "rejected"}, headers=ins.headers
    )
    assert resp.status_code == 200
    [row] = [r for r in resp.get_json()["items"] if r["id"] == two]
    assert row["reason_code"] == "not_covered" and row["share_minor"] == 700_000
    assert row["facility_code"] == world.facility_a.code and row["member_id"] == member
    resp = client.get(
        "/api/v1/insurer/claims/released",
        query_string={"service_from": "2026-03-05", "service_to": "2026-03-01"},
        headers=ins.headers,
    )
    assert resp.status_code == 422


def test_claims_list_refuses_others(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    admin = f.user(session, Role.FACILITY_ADMIN, at=world.facility_a)
    session.commit()
    log_in(client, admin)
    assert client.get("/insurance/analyst").status_code == 403
    resp = client.get("/api/v1/insurer/claims/released", headers=world["national"].headers)
    assert resp.status_code == 403  # the scope, but no insurer


def test_billing_warns_before_billing_the_patient_in_full(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    ins = insurer_with_contract(app, client, session)
    insured = make_claim(app, world, ins)
    bare = make_claim(app, world, None)
    admin = f.user(session, Role.FACILITY_ADMIN, at=world.facility_a)
    session.commit()
    log_in(client, admin)
    text = client.get("/insurance/billing").get_data(as_text=True)
    assert 'id="uninsured-warning"' in text
    assert f'class="warning no-member" data-claim="{bare}"' in text
    assert f'data-claim="{insured}"' not in text
    assert "No insurance membership on file" in text
    assert f'action="/insurance/billing/{bare}/correct"' in text

    from insurance.models import Claim

    with app.app_context(), db.transaction() as sess:
        join(sess, sess.get_one(Claim, bare).patient_id, ins.insurer_id)
    text = client.get("/insurance/billing").get_data(as_text=True)
    assert "A membership is on file now" in text


def test_national_billing_chooses_the_facility_from_a_list(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    national = f.user(session, Role.NATIONAL_ADMIN)
    session.commit()
    log_in(client, national)
    text = client.get(
        "/insurance/billing", query_string={"facility": world.facility_a.code}
    ).get_data(as_text=True)
    assert re.search(rf'<option value="{world.facility_a.code}" selected>', text)
    assert '<select id="facility" name="facility">' in text


BAD_CSV = (
    b"component,unit,amount,description\n"
    b"consult:l2,service,1500000,Consult\n"
    b"video_minute,hour,60000,Video\n"
    b"film_print:ct,service,1000,Film\n"
)


def schedules_count(app: Flask) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(sess.scalar(select(func.count()).select_from(TariffSchedule)) or 0)


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_tariffs_page_lists_errors_and_stores_nothing(
    app: Flask, client: FlaskClient, session: Session, world: World, locale: str
) -> None:
    national = f.user(session, Role.NATIONAL_ADMIN)
    session.commit()
    log_in(client, national)
    client.get(f"/lang/{locale}")
    page = client.get("/insurance/tariffs")
    assert page.status_code == 200
    token = form_csrf(page)
    before = schedules_count(app)
    day = date(2300, 1, 1) + timedelta(days=random.randrange(40_000))
    form = {
        "csrf_token": token,
        "label": "Tariff 2300",
        "currency": "IRR",
        "minor_unit": "0",
        "effective_from": day.isoformat(),
    }
    resp = client.post(
        "/insurance/tariffs",
        data={**form, "file": (io.BytesIO(BAD_CSV), "tariff.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert re.findall(r'<tr data-line="(\d+)"', text) == ["3", "4"]
    if locale == "en":
        assert "The unit is service or minute." in text and "SEEDS 000" in text
    else:
        assert "The unit is service or minute." not in text
    assert schedules_count(app) == before

    good = BAD_CSV.split(b"video_minute")[0]
    resp = client.post(
        "/insurance/tariffs",
        data={**form, "file": (io.BytesIO(good), "tariff.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    assert schedules_count(app) == before + 1
    listed = client.get("/insurance/tariffs").get_data(as_text=True)
    assert "Tariff 2300" in listed and f'datetime="{day.isoformat()}"' in listed
    again = client.post(
        "/insurance/tariffs",
        data={**form, "file": (io.BytesIO(good), "tariff.csv")},
        content_type="multipart/form-data",
    )
    assert again.status_code == 409 and schedules_count(app) == before + 1
    missing = client.post("/insurance/tariffs", data={**form, "effective_from": "someday"})
    assert missing.status_code == 422


def test_tariffs_page_is_for_national_administrators(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    admin = f.user(session, Role.FACILITY_ADMIN, at=world.facility_a)
    session.commit()
    log_in(client, admin)
    assert client.get("/insurance/tariffs").status_code == 403
    assert client.post("/insurance/tariffs", data={}).status_code in (400, 403)
