"""The reading pages answer their people and refuse others; raising a critical result emits to
the sending facility's room once committed, and the escalation sweep is on the beat."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub import realtime
from tests.consult.test_pages import log_in, page
from tests.imaging.test_reading_requests import _case, _send
from tests.support.personas import World


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client keeping no request context (see tests/consult/test_pages.py)."""
    return app.test_client()


def test_pages_follow_the_request(
    app: Flask, client: FlaskClient, session: Session, world: World, monkeypatch: object
) -> None:
    emitted: list[tuple[str, dict[str, object], str]] = []
    monkeypatch.setattr(  # type: ignore[attr-defined]
        realtime.socketio, "emit", lambda name, data, to: emitted.append((name, data, to))
    )
    case = _case(app, session, world)
    sent = _send(client, case)
    url = f"/api/v1/reading-requests/{sent['id']}"
    assert client.post(f"{url}/claim", headers=case.readers[0]).status_code == 200
    raised = client.post(
        f"{url}/critical-results",
        json={"category": 2, "finding": "Free air."},
        headers=case.readers[0],
    ).get_json()
    assert any(
        name == "critical_result" and data["id"] == raised["id"] and room.startswith("facility")
        for name, data, room in emitted
    )
    reader = log_in(app, case.reader_names[0])
    page(reader, "/reading/worklist")  # the claimed one is in progress there
    html = page(reader, f"/reading/requests/{sent['id']}")
    assert 'id="study-link"' in html and 'id="critical-form"' in html
    sender = log_in(app, case.sender_name)
    assert f"/reading/critical-results/{raised['id']}" in page(sender, "/reading/critical-results")
    assert 'id="ack-form"' in page(sender, f"/reading/critical-results/{raised['id']}")
    assert "Critical results to acknowledge" in page(sender, "/home")
    outsider = log_in(app, case.outsider_name)
    page(outsider, f"/reading/critical-results/{raised['id']}", 404)
    page(outsider, f"/reading/requests/{sent['id']}", 404)
    page(sender, "/reading/worklist", 403)


def test_the_sweep_is_scheduled(app: Flask) -> None:
    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["reading-critical-sweep"]["task"] == "imaging.reading.critical_sweep"


def test_an_unacknowledged_critical_result_is_on_every_page_of_the_facility(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    case = _case(app, session, world)
    sent = _send(client, case)
    url = f"/api/v1/reading-requests/{sent['id']}"
    assert client.post(f"{url}/claim", headers=case.readers[0]).status_code == 200
    sender, outsider = log_in(app, case.sender_name), log_in(app, case.outsider_name)
    assert 'class="page-banner"' not in page(sender, "/home")
    raised = client.post(
        f"{url}/critical-results",
        json={"category": 1, "finding": "Tension pneumothorax."},
        headers=case.readers[0],
    ).get_json()
    for path in ("/home", "/patients", "/imaging/studies", "/referrals/"):
        html = page(sender, path)
        assert 'class="page-banner"' in html, path
        assert f'href="/reading/critical-results/{raised["id"]}"' in html, path
    assert 'class="page-banner"' not in page(outsider, "/home")
    # The banner's text names no patient and no finding: it is on every page.
    assert "Tension pneumothorax" not in page(sender, "/patients")
    acked = client.post(
        f"/api/v1/critical-results/{raised['id']}/acknowledge",
        json={"method": "phone", "read_back": "Tension pneumothorax."},
        headers=case.sender,
    )
    assert acked.status_code == 200, acked.get_json()
    assert 'class="page-banner"' not in page(sender, "/home")
