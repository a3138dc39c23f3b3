"""A live hub for video browser tests, with a video consult between the demo health worker and
the demo pulmonologist, and Chromium's WebRTC settings (fake camera/microphone, loopback ICE)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from hub.db import make_engine
from hub.models import User, utcnow
from tests.support.live import CHROMIUM_ARGS, demo_env, run_hub_command
from tests.support.processes import HubProcess, free_port, running_hub, start_hub

WEBRTC_ARGS = [
    *CHROMIUM_ARGS,
    "--headless",
    "--use-fake-device-for-media-stream=fps=30",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    # Keep WebRTC on the loopback interface only (no mDNS names for host candidates).
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
REQUESTER = "chw.demo"
SPECIALIST = "specialist.demo"
OUTSIDER = "gp.demo"  # another facility's GP: not a participant


@dataclass
class VideoHub:
    proc: HubProcess
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.proc.base_url

    def audited(self, action: str, outcome: str) -> int:
        """How many audit events of this action and outcome the hub wrote."""
        from sqlalchemy import func

        from hub.models import AuditEvent

        engine = make_engine(self.env["HUB_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return int(
                    conn.scalar(
                        select(func.count(AuditEvent.id)).where(
                            AuditEvent.action == action, AuditEvent.outcome == outcome
                        )
                    )
                    or 0
                )
        finally:
            engine.dispose()

    def guest_link(self, session_id: int, *, hours_valid: int = 24) -> str:
        """Invite the patient (as the requester does); the guest page's URL."""
        from datetime import timedelta

        from sqlalchemy.orm import Session

        from hub.auth.principal import user_principal
        from hub.config import VideoSettings
        from video import services
        from video.models import ParticipantRole, VideoParticipant

        engine = make_engine(self.env["HUB_DATABASE_URL"])
        try:
            with Session(engine, expire_on_commit=False) as sess:
                chw = sess.scalar(select(User).where(User.username == REQUESTER))
                assert chw is not None
                invitation = services.invite(
                    sess,
                    user_principal(chw, "session"),
                    session_id,
                    role=ParticipantRole.PATIENT,
                    username=None,
                    settings=VideoSettings(guest_link_hours=24),
                )
                if hours_valid <= 0:
                    person = sess.get_one(VideoParticipant, invitation.participant.id)
                    person.guest_expires_at = utcnow() - timedelta(hours=1)
                sess.commit()
        finally:
            engine.dispose()
        return f"{self.base_url}/video/guest/{invitation.guest_token}"

    def token(self, username: str) -> str:
        """A personal token of a demo account (as `hub token create` makes)."""
        from sqlalchemy.orm import Session

        from tests.support import factories as f

        engine = make_engine(self.env["HUB_DATABASE_URL"])
        try:
            with Session(engine) as sess:
                user = sess.scalar(select(User).where(User.username == username))
                assert user is not None
                token = f.personal_token(sess, user)
                sess.commit()
                return token
        finally:
            engine.dispose()

    def new_consult(self) -> int:
        """A new accepted video consult of the demo pair, without a session."""
        from sqlalchemy.orm import Session

        from tests.video.support import video_consult

        engine = make_engine(self.env["HUB_DATABASE_URL"])
        try:
            with Session(engine, expire_on_commit=False) as sess:
                chw = sess.scalar(select(User).where(User.username == REQUESTER))
                doc = sess.scalar(select(User).where(User.username == SPECIALIST))
                assert chw is not None and doc is not None and chw.facility is not None
                consult = video_consult(sess, chw.facility, chw, doc)
                sess.commit()
                return consult.id
        finally:
            engine.dispose()

    def new_session(self, *, record: bool = False, admit_all: bool = False) -> int:
        """A new accepted video consult of the demo pair with an open session; its id."""
        from sqlalchemy.orm import Session

        from hub.auth.principal import user_principal
        from tests.video.support import video_consult
        from video import services
        from video.models import SessionKind

        engine = make_engine(self.env["HUB_DATABASE_URL"])
        try:
            with Session(engine, expire_on_commit=False) as sess:
                chw = sess.scalar(select(User).where(User.username == REQUESTER))
                doc = sess.scalar(select(User).where(User.username == SPECIALIST))
                assert chw is not None and doc is not None and chw.facility is not None
                consult = video_consult(sess, chw.facility, chw, doc, recording_consent=record)
                video = services.create(
                    sess,
                    user_principal(chw, "session"),
                    consult.id,
                    kind=SessionKind.INSTANT,
                    scheduled_at=None,
                    record=record,
                )
                for person in video.participants:
                    if record:  # both agreed (the page's checkbox does the same)
                        person.recording_consent_at = utcnow()
                    if admit_all:  # as if the specialist had admitted them earlier
                        person.admitted_at = person.admitted_at or utcnow()
                sess.commit()
                return video.id
        finally:
            engine.dispose()


@contextmanager
def video_hub(directory: Path, **extra: str) -> Iterator[VideoHub]:
    port = free_port()
    env = {**demo_env(directory, port), "HUB_WEB_THREADS": "32", **extra}
    run_hub_command("db", "upgrade", env=env)
    run_hub_command("seed-demo", env=env)
    with running_hub("web", env=env, log_dir=directory / "logs", port=port) as proc:
        yield VideoHub(proc, env)


@contextmanager
def media_worker(hub: VideoHub, directory: Path) -> Iterator[HubProcess]:
    """``hub media`` against the live hub, until the block ends."""
    env = {**hub.env, "HUB_MEDIA_ALLOW_LOOPBACK": "true", "HUB_BASE_URL": hub.base_url}
    proc = start_hub("media", env=env, log_dir=directory)
    try:
        yield proc
    finally:
        proc.cleanup()


def recordings(hub: VideoHub, session_id: int) -> list[dict[str, object]]:
    from video.models import VideoRecording

    engine = make_engine(hub.env["HUB_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(VideoRecording.__table__).where(VideoRecording.session_id == session_id)
            ).mappings()
            found = [dict(r) for r in rows]
    finally:
        engine.dispose()
    for row in found:
        row["status"] = getattr(row["status"], "value", row["status"])
    return found


# Connection state and decoded inbound video frames per peer, from getStats().
STATS_JS = """async () => {
  const v = window.hubVideo;
  if (!v) return null;
  const out = {joined: v.joined, me: v.me, refused: v.refused || null, peers: {}};
  const stats = await window.hubVideoStats();
  for (const s of stats) {
    const peer = v.peers[s.peer];
    out.peers[s.peer] = {
      state: peer ? peer.pc.connectionState : null, role: peer ? peer.role : null,
      frames: s.frames, width: s.width, height: s.height, localType: s.localType || null,
      bytes: s.bytes, bytesSent: s.bytesSent, freezes: s.freezes || 0};
  }
  return out;
}"""
