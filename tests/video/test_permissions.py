"""Permission matrix of the video API (the rows for its routes; see tests/hub)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub import db
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World
from tests.video.support import open_session, world_video_consult
from video import storage
from video.models import RecordingStatus, VideoRecording

# Who sees a video consult of a facility-A patient requested by hw_a, assigned to the specialist.
SEE = frozenset({"hw_a", "gp_a", "specialist", "command_x", "admin_a", "national"})
# The requester's side and the assigned specialist open sessions.
OPENERS = frozenset({"hw_a", "gp_a", "specialist"})
# The session's participants: the requester (hw_a) and the specialist.
PARTICIPANTS = frozenset({"hw_a", "specialist"})


@dataclass(frozen=True)
class Probe:
    fresh_consult: int  # no session yet: the first opener creates it, the rest get 409
    consult: int
    session: int
    recording: int
    guest: int  # the patient's participant id (a guest link)


def rules(p: Probe) -> list[Rule]:
    s = f"/api/v1/video-sessions/{p.session}"
    return [
        Rule(
            "POST",
            "/api/v1/consults/{consult_id}/video-sessions",
            lambda w: f"/api/v1/consults/{p.fresh_consult}/video-sessions",
            OPENERS,
            lambda w: {"kind": "instant"},
        ),
        Rule(
            "GET",
            "/api/v1/consults/{consult_id}/video-sessions",
            lambda w: f"/api/v1/consults/{p.consult}/video-sessions",
            SEE,
        ),
        Rule("GET", "/api/v1/video-sessions/{session_id}", lambda w: s, SEE),
        Rule(
            "POST",
            "/api/v1/video-sessions/{session_id}/participants",
            lambda w: f"{s}/participants",
            PARTICIPANTS,
            lambda w: {"role": "patient"},
        ),
        Rule(
            "PUT",
            "/api/v1/video-sessions/{session_id}/recording-consent",
            lambda w: f"{s}/recording-consent",
            PARTICIPANTS,
            lambda w: {"consent": True},
        ),
        Rule("GET", "/api/v1/video-sessions/{session_id}/ice", lambda w: f"{s}/ice", PARTICIPANTS),
        Rule(
            "GET",
            "/api/v1/video-recordings/{recording_id}/file",
            lambda w: f"/api/v1/video-recordings/{p.recording}/file",
            SEE,
        ),
        # The first participant revokes the guest link; the other gets 409 (not a refusal).
        Rule(
            "POST",
            "/api/v1/video-sessions/{session_id}/participants/{participant_id}/revoke",
            lambda w: f"{s}/participants/{p.guest}/revoke",
            PARTICIPANTS,
        ),
        # Last: the first participant ends it, the other gets 409 (not a refusal).
        Rule("POST", "/api/v1/video-sessions/{session_id}/end", lambda w: f"{s}/end", PARTICIPANTS),
    ]


@pytest.fixture(scope="session")
def probe(app: Flask, world: World) -> Probe:
    fresh = world_video_consult(app, world)
    consult = world_video_consult(app, world)
    video = open_session(app, world, consult)
    with app.app_context(), db.transaction() as sess:
        row = VideoRecording(
            session_id=video["id"],
            consult_id=consult,
            status=RecordingStatus.VALID,
            filename="probe.mkv",
            content_type="video/x-matroska",
        )
        sess.add(row)
        sess.flush()
        path = storage.path_of(app.config["HUB_SETTINGS"].video, row)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x1a\x45\xdf\xa3probe")
        recording = row.id
    with app.test_client() as client:
        invited = client.post(
            f"/api/v1/video-sessions/{video['id']}/participants",
            json={"role": "patient"},
            headers=world["hw_a"].headers,
        )
        assert invited.status_code == 201, invited.get_json()
    return Probe(fresh, consult, video["id"], recording, invited.get_json()["participant"]["id"])


def test_video_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, probe: Probe
) -> None:
    assert run_matrix(app, client, world, rules(probe)) == []
