"""Which sessions the media worker records: only those that asked for it, where the patient's
recording consent is on file and every participant agreed, with someone connected; one worker
at a time (a lease), given up when consent is withdrawn."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import update

from hub import db
from hub.models import utcnow
from tests.support.personas import World
from tests.video.support import open_session, world_video_consult
from video import media, timeline
from video.models import VideoParticipant, VideoSession


def _prepare(app: Flask, world: World, *, patient_consent: bool) -> int:
    consult = world_video_consult(app, world, recording_consent=patient_consent)
    sid = int(open_session(app, world, consult, record=True)["id"])
    with app.app_context(), db.transaction() as sess:
        video = sess.get_one(VideoSession, sid)
        timeline.add(sess, video, "joined", video.participants[0], sid="s1")
    return sid


def _consent_all(app: Flask, sid: int, given: bool = True) -> None:
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(VideoParticipant)
            .where(VideoParticipant.session_id == sid)
            .values(recording_consent_at=utcnow() if given else None)
        )


def test_claims_follow_consent_and_leases(app: Flask, world: World) -> None:
    sid = _prepare(app, world, patient_consent=True)
    no_patient_consent = _prepare(app, world, patient_consent=False)
    _consent_all(app, no_patient_consent)

    def mine(worker: str) -> list[int]:
        return [s for s in media.claim(app, worker, 50) if s in (sid, no_patient_consent)]

    assert mine("w1") == []  # nobody agreed yet
    _consent_all(app, sid)
    assert mine("w1") == [sid]  # the other lacks the patient's recording consent
    assert mine("w2") == []  # w1 holds the lease
    assert media.renew(app, "w1", sid) and not media.renew(app, "w2", sid)
    assert media.people_connected(app, sid) == 1
    _consent_all(app, sid, given=False)  # someone withdrew: the recorder stops
    assert not media.renew(app, "w1", sid)
    media.release(app, "w1", sid)
    _consent_all(app, sid)
    assert mine("w2") == [sid]  # released: another worker may take it
    media.release(app, "w2", sid)
