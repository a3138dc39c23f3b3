"""The insurer analyst's page and the facility billing page, in every language, with charts."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.models import Role
from tests.hub.test_auth import form_csrf, log_in
from tests.insurance.support import insurer_with_contract
from tests.insurance.test_exports import make_claim, pull
from tests.support import factories as f
from tests.support.personas import World

LOCALES = ("en", "fa", "ru", "tr", "zh")
# A phrase of each page in each language: the catalogues really translate them.
ANALYST_TITLE = {
    "en": "Claims and reconciliation",
    "fa": "مطالبات و تطبیق",
    "ru": "Счета и сверка",
    "tr": "Talepler ve mutabakat",
    "zh": "理赔与对账",
}
BILLING_TITLE = {
    "en": "Billing",
    "fa": "صورتحساب",
    "ru": "Выставление счетов",
    "tr": "Faturalama",
    "zh": "计费",
}


@pytest.mark.parametrize("locale", LOCALES)
def test_analyst_page(
    app: Flask, client: FlaskClient, session: Session, world: World, locale: str
) -> None:
    ins = insurer_with_contract(app, client, session)
    claim_id = make_claim(app, world, ins)
    make_claim(app, world, ins)
    pull(client, ins)
    resp = client.post(
        f"/api/v1/insurer/claims/{claim_id}/reconciliation",
        json={"decision": "rejected", "reason_code": "not_covered"},
        headers=ins.headers,
    )
    assert resp.status_code == 201
    from hub.models import Insurer

    analyst = f.user(session, Role.INSURER, insurer_of=session.get_one(Insurer, ins.insurer_id))
    session.commit()
    log_in(client, analyst)
    client.get(f"/lang/{locale}")
    page = client.get("/insurance/analyst")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert ANALYST_TITLE[locale] in text
    assert ('dir="rtl"' in text) == (locale == "fa")
    assert text.count("data-bar-chart") == 2  # rejections by reason, share by month
    assert world.facility_a.code in text and "1,400,000" in text  # two claims, 70 % each
    assert "/api/v1/insurer/claims?format=csv" in text


@pytest.mark.parametrize("locale", LOCALES)
def test_billing_page_and_resubmission(
    app: Flask, client: FlaskClient, session: Session, world: World, locale: str
) -> None:
    ins = insurer_with_contract(app, client, session)
    claim_id = make_claim(app, world, ins)
    resp = client.post(
        f"/api/v1/insurer/claims/{claim_id}/reconciliation",
        json={"decision": "rejected", "reason_code": "missing_documentation"},
        headers=ins.headers,
    )
    assert resp.status_code == 201
    admin = f.user(session, Role.FACILITY_ADMIN, at=world.facility_a)
    session.commit()
    log_in(client, admin)
    client.get(f"/lang/{locale}")
    page = client.get("/insurance/billing?status=rejected")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert BILLING_TITLE[locale] in text and f"#{claim_id}" in text
    assert ('dir="rtl"' in text) == (locale == "fa")
    assert "data-bar-chart" in text
    # No consult behind this claim: re-pricing it from the consult's record is refused politely.
    token = form_csrf(page)
    done = client.post(
        f"/insurance/billing/{claim_id}/correct", data={"csrf_token": token, "reason": "Resend"}
    )
    assert done.status_code == 302
    after = client.get("/insurance/billing").get_data(as_text=True)
    assert re.search(r'class="notice"', after)


def test_pages_refuse_other_roles(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    hw = f.user(session, Role.CHW, at=world.facility_a)
    session.commit()
    log_in(client, hw)
    assert client.get("/insurance/analyst").status_code == 403
    assert client.get("/insurance/billing").status_code == 403
