"""Video pages: the list of one's own sessions (linked from the specialist's home) and the
session page's names, states and times."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub import db
from hub.models import AuditEvent, User
from tests.support import factories as f
from tests.support.pages import FORM_CSRF
from tests.support.personas import World
from tests.video.support import open_session, persona_user, world_video_consult


def _as(app: Flask, world: World, name: str) -> FlaskClient:
    """A page client logged in through the form as the persona's user."""
    with app.app_context(), db.transaction() as sess:
        username = sess.get_one(User, persona_user(app, world, name)).username
    client = app.test_client()
    match = FORM_CSRF.search(client.get("/login").get_data(as_text=True))
    assert match
    resp = client.post(
        "/login", data={"csrf_token": match.group(1), "username": username, "password": f.PASSWORD}
    )
    assert resp.status_code == 302
    return client


def _listed(app: Flask) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(
            sess.scalar(
                select(func.count(AuditEvent.id)).where(AuditEvent.action == "video:session:listed")
            )
            or 0
        )


def test_the_sessions_page_lists_ones_own_sessions_and_the_home_links_it(
    app: Flask, world: World
) -> None:
    first = open_session(app, world, world_video_consult(app, world))
    second = open_session(app, world, world_video_consult(app, world))
    doc = _as(app, world, "specialist")
    before = _listed(app)
    page = doc.get("/video/sessions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'data-session-id="(\d+)"', html)]
    assert ids.index(second["id"]) < ids.index(first["id"])  # newest first
    assert f'href="/video/sessions/{second["id"]}"' in html  # open: a way in
    assert '<time datetime="' in html
    with app.app_context(), db.transaction() as sess:
        requester = sess.get_one(User, persona_user(app, world, "hw_a")).full_name
    assert requester in html  # who else is in it
    assert _listed(app) == before + 1
    # Paging back from the newest; a nonsense position shows the first page, never a 500.
    older = doc.get(f"/video/sessions?before={second['id']}").get_data(as_text=True)
    assert f'data-session-id="{second["id"]}"' not in older
    assert f'data-session-id="{first["id"]}"' in older
    for bad in ("x", "-1", str(2**40)):
        assert doc.get(f"/video/sessions?before={bad}").status_code == 200
    # The specialist's home links the page.
    assert 'href="/video/sessions"' in doc.get("/home").get_data(as_text=True)

    # Someone in no session sees none of them.
    gp = _as(app, world, "gp_a").get("/video/sessions").get_data(as_text=True)
    assert 'id="no-sessions"' in gp and "data-session-id" not in gp
    # Anonymous: to the login page.
    assert app.test_client().get("/video/sessions").status_code in (302, 401)


def test_the_session_page_names_people_and_formats_times_in_the_browser(
    app: Flask, world: World
) -> None:
    video = open_session(
        app,
        world,
        world_video_consult(app, world),
        kind="scheduled",
        scheduled_at="2026-12-01T09:30:00+03:30",
    )
    html = _as(app, world, "hw_a").get(f"/video/sessions/{video['id']}").get_data(as_text=True)
    # The appointment as an instant the page formats in the reader's zone and calendar.
    assert '<time datetime="2026-12-01T06:00:00Z">' in html
    with app.app_context(), db.transaction() as sess:
        specialist = sess.get_one(User, persona_user(app, world, "specialist")).full_name
    assert f"{specialist} (Specialist)" in html
    # Before joining: Leave is disabled, the toggles say they are not pressed.
    assert re.search(r'<button[^>]*id="leave-button"[^>]*class="danger"[^>]*disabled', html)
    assert re.search(r'id="mute-button"[^>]*aria-pressed="false">Mute<', html)
    assert re.search(r'id="camera-button"[^>]*aria-pressed="false">Turn camera off<', html)
    assert re.search(r'<div id="waiting-room"[^>]*hidden', html)
