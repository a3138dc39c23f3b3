"""Recordings past their retention date lose their file (the row stays, the deletion is audited);
younger ones are untouched; a deleted recording's download says so (410)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent, utcnow
from tests.support.personas import World
from tests.video.support import open_session, world_video_consult
from video import retention, storage
from video.models import RecordingStatus, VideoRecording


def _recording(app: Flask, session_id: int, consult_id: int, retain_days: int) -> int:
    with app.app_context(), db.transaction() as sess:
        row = VideoRecording(
            session_id=session_id,
            consult_id=consult_id,
            status=RecordingStatus.VALID,
            filename=f"retention-{retain_days}.mkv",
            content_type="video/x-matroska",
            retain_until=utcnow() + timedelta(days=retain_days),
        )
        sess.add(row)
        sess.flush()
        path = storage.path_of(app.config["HUB_SETTINGS"].video, row)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x1a\x45\xdf\xa3recording")
        return row.id


def test_expired_recordings_lose_their_file_and_say_so(
    app: Flask, client: FlaskClient, world: World
) -> None:
    consult = world_video_consult(app, world)
    video = open_session(app, world, consult)
    old = _recording(app, video["id"], consult, retain_days=-1)
    young = _recording(app, video["id"], consult, retain_days=365)
    settings = app.config["HUB_SETTINGS"].video
    factory = db.get_db(app).session_factory
    assert factory is not None
    with app.app_context():
        assert retention.sweep(factory, settings) >= 1
        assert retention.sweep(factory, settings) == 0  # nothing left to do twice
    with app.app_context(), db.transaction() as sess:
        gone, kept = sess.get_one(VideoRecording, old), sess.get_one(VideoRecording, young)
        assert gone.deleted_at is not None and kept.deleted_at is None
        assert not storage.path_of(settings, gone).exists()
        assert storage.path_of(settings, kept).is_file()
        audited = sess.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "video:recording:deleted")
        ).all()
    assert any(d.get("recording") == old for d in audited)
    resp = client.get(f"/api/v1/video-recordings/{old}/file", headers=world["hw_a"].headers)
    assert resp.status_code == 410 and resp.get_json()["error"]["code"] == "deleted_by_retention"
    kept_file = client.get(f"/api/v1/video-recordings/{young}/file", headers=world["hw_a"].headers)
    assert kept_file.status_code == 200
