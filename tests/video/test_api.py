"""Video API: opening sessions, scheduled times per time zone, invitations, consent, bad input."""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import Flask
from flask.testing import FlaskClient

from hub.config import VideoSettings
from tests.support.paging import all_pages, assert_refuses_bad_cursors
from tests.support.personas import World
from tests.video.support import open_session, world_video_consult
from video import turn


def test_turn_credentials_follow_the_coturn_rest_scheme() -> None:
    cred = turn.credential("s3cret-s3cret-s3cret", "p7", 600, now=1_000_000)
    assert cred.username == "1000600:p7"
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1000600:p7", hashlib.sha1).digest()
    assert base64.b64decode(cred.credential) == expected
    config = turn.ice_config(
        VideoSettings(
            turn_secret="s3cret-s3cret-s3cret",
            turn_urls=("turn:127.0.0.1:3478?transport=udp",),
            relay_only=True,
        ),
        "p7",
    )
    assert config["iceTransportPolicy"] == "relay"
    assert config["iceServers"][0]["username"].endswith(":p7")


def test_open_invite_consent_and_end(app: Flask, client: FlaskClient, world: World) -> None:
    consult = world_video_consult(app, world, recording_consent=True)
    video = open_session(
        app, world, consult, kind="scheduled", scheduled_at="2026-12-01T09:30:00+03:30", record=True
    )
    roles = {p["role"]: p for p in video["participants"]}
    assert set(roles) == {"requester", "specialist"}
    assert roles["specialist"]["admitted"] and not roles["requester"]["admitted"]
    # Shown in each side's zone (facilities default to UTC): 09:30 +03:30 is 06:00 UTC.
    assert roles["requester"]["scheduled_local"].startswith("2026-12-01 06:00")
    again = client.post(
        f"/api/v1/consults/{consult}/video-sessions", json={}, headers=world["gp_a"].headers
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "session_open"

    s = f"/api/v1/video-sessions/{video['id']}"
    guest = client.post(
        f"{s}/participants", json={"role": "patient"}, headers=world["hw_a"].headers
    )
    assert guest.status_code == 201
    assert "/video/guest/" in guest.get_json()["guest_url"]
    assert not client.get(s, headers=world["hw_a"].headers).get_json()["recording_allowed"]
    for name in ("hw_a", "specialist"):
        resp = client.put(
            f"{s}/recording-consent", json={"consent": True}, headers=world[name].headers
        )
        assert resp.status_code == 200
    # The guest has not consented yet.
    assert not client.get(s, headers=world["hw_a"].headers).get_json()["recording_allowed"]

    ice = client.get(f"{s}/ice", headers=world["specialist"].headers).get_json()
    assert ice["max_bitrate"] > 0 and ice["ice_transport_policy"] == "all"

    ended = client.post(f"{s}/end", headers=world["specialist"].headers)
    assert ended.status_code == 200 and ended.get_json()["status"] == "ended"
    assert client.post(f"{s}/end", headers=world["hw_a"].headers).status_code == 409


def test_sessions_of_a_consult_page_by_next_cursor(
    app: Flask, client: FlaskClient, world: World
) -> None:
    consult = world_video_consult(app, world)
    made = []
    for _ in range(3):
        video = open_session(app, world, consult)
        made.append(video["id"])
        ended = client.post(
            f"/api/v1/video-sessions/{video['id']}/end", headers=world["specialist"].headers
        )
        assert ended.status_code == 200
    url = f"/api/v1/consults/{consult}/video-sessions"
    h = world["hw_a"].headers
    one_page = client.get(url, headers=h).get_json()
    assert one_page["next_cursor"] is None
    walked = all_pages(client, url, h, limit=1)
    assert [v["id"] for v in walked] == [v["id"] for v in one_page["items"]] == made
    one = client.get(f"/api/v1/video-sessions/{made[0]}", headers=h).get_json()
    assert set(walked[0]) == set(one) and walked[0]["join_url"] == f"/video/sessions/{made[0]}"
    assert_refuses_bad_cursors(client, url, h)


def test_bad_input_is_a_clear_4xx(app: Flask, client: FlaskClient, world: World) -> None:
    consult = world_video_consult(app, world)
    url = f"/api/v1/consults/{consult}/video-sessions"
    h = world["hw_a"].headers
    cases = [
        ({"kind": "scheduled"}, 422),
        ({"kind": "scheduled", "scheduled_at": "2026-12-01T09:30:00"}, 422),
        ({"kind": "instant", "scheduled_at": "2026-12-01T09:30:00Z"}, 422),
        ({"kind": "weekly"}, 422),
        ({"record": "maybe"}, 422),
        ({"surprise": 1}, 422),
    ]
    for body, status in cases:
        resp = client.post(url, json=body, headers=h)
        assert resp.status_code == status, (body, resp.get_json())
        assert "error" in resp.get_json()
    assert (
        client.post(url, data="{", headers={**h, "Content-Type": "application/json"}).status_code
        == 400
    )
    assert (
        client.post("/api/v1/consults/999999999/video-sessions", json={}, headers=h).status_code
        == 404
    )
    assert client.get("/api/v1/video-sessions/999999999", headers=h).status_code == 404
    video = open_session(app, world, consult)
    s = f"/api/v1/video-sessions/{video['id']}/participants"
    for body in (
        {"role": "recorder"},
        {"role": "interpreter", "username": "nobody-here"},
        {"role": "patient", "username": "someone"},
        {"role": "requester"},
    ):
        assert client.post(s, json=body, headers=h).status_code == 422, body


def test_an_interpreter_from_elsewhere_takes_part_without_seeing_the_consult(
    app: Flask, client: FlaskClient, world: World
) -> None:
    consult = world_video_consult(app, world)
    video = open_session(app, world, consult)
    s = f"/api/v1/video-sessions/{video['id']}"
    hw_b = world["hw_b"].headers  # a health worker of facility B: cannot see this consult
    username = client.get("/api/v1/me", headers=hw_b).get_json()["username"]
    assert client.get(f"{s}/ice", headers=hw_b).status_code == 404
    invited = client.post(
        f"{s}/participants",
        json={"role": "interpreter", "username": username},
        headers=world["specialist"].headers,
    )
    assert invited.status_code == 201, invited.get_json()
    again = client.post(
        f"{s}/participants",
        json={"role": "interpreter", "username": username},
        headers=world["hw_a"].headers,
    )
    assert again.status_code == 409
    assert client.get(f"{s}/ice", headers=hw_b).status_code == 200
    consent = client.put(f"{s}/recording-consent", json={"consent": True}, headers=hw_b)
    assert consent.status_code == 200 and consent.get_json()["role"] == "interpreter"
    assert client.get(s, headers=hw_b).status_code == 404  # the consult stays private
    # A second specialist must be a specialist.
    wrong = client.post(
        f"{s}/participants",
        json={"role": "second_specialist", "username": username},
        headers=world["specialist"].headers,
    )
    assert wrong.status_code in (409, 422)
