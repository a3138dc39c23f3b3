"""The command officer's queue board: their region's open consults with SLA clocks, breaches
first, no patient names; other regions' consults never appear."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from consult.models import Consult
from hub.models import Role, utcnow
from tests.consult.support import Site, specialist, submit
from tests.hub.test_auth import log_in
from tests.support import factories as f

QUEUE_TITLE = {"en": "Live queues", "fa": "صف‌های زنده", "zh": "实时队列"}


def _site_with_consults(app: Flask, client: FlaskClient, session: Session) -> tuple[Site, int, int]:
    site = Site(app, session)
    specialist(session, site.l2)
    session.commit()
    late = submit(client, site.chw_headers, site.patient.id)["id"]
    fresh = submit(client, site.chw_headers, site.patient.id, urgency="routine")["id"]
    # The first one's clock ran out an hour ago.
    consult = session.get_one(Consult, late)
    consult.accept_due_at = utcnow() - timedelta(hours=1)
    session.commit()
    return site, late, fresh


@pytest.mark.parametrize("locale", sorted(QUEUE_TITLE))
def test_officer_sees_the_regions_queue_with_breaches_first(
    app: Flask, client: FlaskClient, session: Session, locale: str
) -> None:
    site, late, fresh = _site_with_consults(app, client, session)
    officer = f.user(session, Role.COMMAND, region_of=site.region)
    session.commit()
    log_in(client, officer)
    client.get(f"/lang/{locale}")
    page = client.get("/queues")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert QUEUE_TITLE[locale] in html
    assert html.index(f"#{late}<") < html.index(f"#{fresh}<")
    assert site.patient.family_name not in html
    breaches = client.get("/queues?breached=1&part=tables").get_data(as_text=True)
    assert f"#{late}<" in breaches
    assert f"#{fresh}<" not in breaches


def test_other_regions_consults_stay_off_the_board(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    site, late, _ = _site_with_consults(app, client, session)
    elsewhere = f.user(session, Role.COMMAND, region_of=f.region(session))
    session.commit()
    log_in(client, elsewhere)
    html = client.get("/queues").get_data(as_text=True)
    assert f"#{late}<" not in html
    assert site.l2.name not in html


def test_the_home_links_the_board_for_command_staff(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    officer = f.user(session, Role.COMMAND, region_of=f.region(session))
    session.commit()
    log_in(client, officer)
    html = client.get("/home").get_data(as_text=True)
    assert 'href="/queues"' in html
    assert 'href="/queues?breached=1"' in html


def test_health_workers_may_not_open_the_board(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    site = Site(app, session)
    session.commit()
    log_in(client, site.chw)
    resp = client.get("/queues")
    assert resp.status_code == 403
    assert 'href="/queues"' not in client.get("/home").get_data(as_text=True)
