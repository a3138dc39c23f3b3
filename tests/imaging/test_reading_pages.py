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
