"""``hub media``: the recording worker. An aiortc peer that joins a session through the hub's own
signalling when the session asked for a recording and every participant consented, receives each
participant's audio and video, and writes one verified Matroska file per participant leg, stored
with the consult and kept under the retention rules.

Sessions are claimed with a lease in the database, so several media worker processes share the
work and a crashed worker's session is taken over once its lease runs out. aiortc decodes and
re-encodes everything (~35% of a core per 640x480 leg), so scale out with processes. Only the
media worker and the synthetic peer import this module (aiortc is heavy for the web process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import socketio
from aioice import ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from flask import Flask
from sqlalchemy import or_, select, update

from hub import db
from hub.models import utcnow
from video import services, storage, timeline
from video.models import (
    ParticipantRole,
    RecordingStatus,
    SessionStatus,
    VideoParticipant,
    VideoRecording,
    VideoSession,
)
from video.recorder import LegRecorder, verify
from video.signalling import NAMESPACE, recorder_token

log = logging.getLogger("hub.video.media")
LEASE = timedelta(seconds=30)
POLL_SECONDS = 1.0
IDLE_STOP_SECONDS = 8.0


def allow_loopback_candidates() -> None:
    """Let aioice offer 127.0.0.1 (single-machine tests; browsers there offer loopback too)."""
    original = ice.get_host_addresses
    if getattr(original, "_hub_loopback", False):
        return

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        found = original(use_ipv4, use_ipv6)
        return (["127.0.0.1"] if use_ipv4 else []) + found

    with_loopback._hub_loopback = True  # type: ignore[attr-defined]
    ice.get_host_addresses = with_loopback


# --- Database side (run in an executor thread) ---------------------------------------------


def _people_connected(sess: Any, video: VideoSession) -> set[int]:
    recorders = {p.id for p in video.participants if p.role is ParticipantRole.RECORDER}
    return services.connected(sess, video) - recorders


def claim(app: Flask, worker: str, limit: int) -> list[int]:
    """Sessions this worker takes now: recordable, someone connected, nobody else's lease."""
    if limit <= 0:
        return []
    now = utcnow()
    claimed: list[int] = []
    with db.transaction(app) as sess:
        candidates = sess.scalars(
            select(VideoSession)
            .where(
                VideoSession.status == SessionStatus.OPEN,
                VideoSession.record.is_(True),
                or_(
                    VideoSession.recorder_lease_until.is_(None),
                    VideoSession.recorder_lease_until < now,
                ),
            )
            .order_by(VideoSession.id)
            .with_for_update(skip_locked=True)
        ).all()
        for video in candidates:
            if len(claimed) >= limit:
                break
            if not services.recording_allowed(sess, video) or not _people_connected(sess, video):
                continue
            video.recorder_worker, video.recorder_lease_until = worker, now + LEASE
            claimed.append(video.id)
    return claimed


def renew(app: Flask, worker: str, session_id: int) -> bool:
    """Extend the lease; False when the session ended, lost consent or went to another worker."""
    with db.transaction(app) as sess:
        video = sess.get(VideoSession, session_id)
        if video is None or video.recorder_worker != worker:
            return False
        if not services.recording_allowed(sess, video):
            return False
        video.recorder_lease_until = utcnow() + LEASE
        return True


def release(app: Flask, worker: str, session_id: int) -> None:
    with db.transaction(app) as sess:
        sess.execute(
            update(VideoSession)
            .where(VideoSession.id == session_id, VideoSession.recorder_worker == worker)
            .values(recorder_worker=None, recorder_lease_until=None)
        )


def people_connected(app: Flask, session_id: int) -> int:
    with db.transaction(app) as sess:
        video = sess.get_one(VideoSession, session_id)
        return len(_people_connected(sess, video))


def start_leg(app: Flask, session_id: int, participant_id: int) -> tuple[int, Path]:
    """The recording's row (status recording) and the file it is written to."""
    with db.transaction(app) as sess:
        video = sess.get_one(VideoSession, session_id)
        row = VideoRecording(
            session_id=video.id,
            consult_id=video.consult_id,
            participant_id=participant_id,
            status=RecordingStatus.RECORDING,
            filename=f"session-{video.id}-participant-{participant_id}-{uuid.uuid4().hex[:8]}.mkv",
            content_type="video/x-matroska",
        )
        sess.add(row)
        sess.flush()
        person = sess.get(VideoParticipant, participant_id)
        timeline.add(sess, video, "recording_started", person, recording_id=row.id)
        return row.id, storage.path_of(app.config["HUB_SETTINGS"].video, row)


def _plus_years(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year + years)
    except ValueError:  # 29 February
        return at.replace(year=at.year + years, day=28)


def finish_leg(app: Flask, recording_id: int, leg: LegRecorder) -> bool:
    """Close the file, decode it completely, and record the result on the row."""
    leg.close()
    counters = leg.counters
    checked = verify(leg.path, counters.written_video, counters.written_audio)
    settings = app.config["HUB_SETTINGS"].video
    ended = utcnow()
    with db.transaction(app) as sess:
        row = sess.get_one(VideoRecording, recording_id)
        row.status = RecordingStatus.VALID if checked.valid else RecordingStatus.INVALID
        row.size, row.sha256 = checked.size, checked.sha256 if checked.size else None
        row.video_frames, row.audio_frames = checked.video_frames, checked.audio_frames
        row.duration_seconds = round(checked.duration_seconds, 3)
        row.ended_at = ended
        row.retain_until = _plus_years(ended, settings.recording_retention_years)
        video = sess.get_one(VideoSession, row.session_id)
        person = sess.get(VideoParticipant, row.participant_id) if row.participant_id else None
        timeline.add(
            sess,
            video,
            "recording_stopped",
            person,
            recording_id=row.id,
            valid=checked.valid,
            received_video=counters.received_video,
            written_video=counters.written_video,
            decoded_video=checked.video_frames,
            dropped=counters.dropped,
            problem=checked.problem or (counters.errors[0] if counters.errors else None),
        )
    if not checked.valid:
        log.warning("recording %s is invalid: %s", recording_id, checked.problem)
    return checked.valid


# --- The WebRTC side ------------------------------------------------------------------------


@dataclass
class Leg:
    participant_id: int
    pc: Any
    pc_id: str
    offerer: bool
    recorder: LegRecorder | None = None
    recording_id: int | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    starting: asyncio.Lock = field(default_factory=asyncio.Lock)


class SessionRecorder:
    """One session's peer: a Socket.IO client of the hub plus one aiortc peer connection per
    participant. As the recorder (``worker`` given) it receives and records; as a participant
    (``token`` given) it sends ``tracks`` instead (``video.synthetic``: a test pattern and a
    tone)."""

    def __init__(
        self,
        app: Flask,
        worker: str | None,
        session_id: int,
        base_url: str,
        *,
        token: str | None = None,
        tracks: list[MediaStreamTrack] | None = None,
    ) -> None:
        self.app = app
        self.worker = worker
        self.session_id = session_id
        self.base_url = base_url
        self.token = token
        self.legs: dict[int, Leg] = {}
        self.ice: dict[str, Any] = {}
        self.sio: Any = None
        self.stopping = asyncio.Event()
        self.results: list[bool] = []
        self.received = {"audio": 0, "video": 0}
        self.connected_at: float | None = None
        self.tracks: list[MediaStreamTrack] = list(tracks or [])

    @property
    def recording(self) -> bool:
        return self.worker is not None

    def connected_legs(self) -> int:
        return sum(1 for leg in self.legs.values() if leg.pc.connectionState == "connected")

    async def _db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, self.app, *args)

    def _configuration(self) -> Any:
        servers = [
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in self.ice.get("iceServers", [])
        ]
        return RTCConfiguration(iceServers=servers)

    async def run(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5)
        self.sio.on("signal", self._on_signal, namespace=NAMESPACE)
        self.sio.on("peer-left", self._on_peer_left, namespace=NAMESPACE)
        self.sio.on("peer-joined", self._on_peer_joined, namespace=NAMESPACE)
        self.sio.on("connect", self._on_connect, namespace=NAMESPACE)
        self.sio.on("admitted", self._on_connect, namespace=NAMESPACE)

        def auth() -> dict[str, str]:
            # Called on every (re)connection: the recorder's credential lives two minutes.
            if self.recording:
                secret = self.app.config["SECRET_KEY"]
                return {"recorder": recorder_token(secret, self.session_id)}
            return {"token": self.token or ""}

        try:
            await self.sio.connect(
                self.base_url,
                namespaces=[NAMESPACE],
                auth=auth,
                transports=["websocket"],
                wait_timeout=15,
            )
            idle = 0.0
            while not self.stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 2.0)
                if self.stopping.is_set() or not self.recording:
                    continue
                assert self.worker is not None
                if not await self._db(renew, self.worker, self.session_id):
                    break
                if await self._db(people_connected, self.session_id) == 0:
                    idle += 2.0
                    if idle >= IDLE_STOP_SECONDS:
                        break
                else:
                    idle = 0.0
        except Exception:
            log.exception("recording of session %s failed", self.session_id)
        finally:
            await self._shutdown()

    async def _on_connect(self, _data: Any = None) -> None:
        ack = await self.sio.call("join", {"session_id": self.session_id}, namespace=NAMESPACE)
        if ack and ack.get("ok") and ack.get("status") == "waiting":
            return  # the "admitted" event calls this again
        if not ack or not ack.get("ok") or ack.get("status") != "joined":
            log.warning("media worker could not join session %s", self.session_id)
            self.stopping.set()
            return
        self.ice = ack["ice"]
        for peer in ack["peers"]:
            if peer["role"] != ParticipantRole.RECORDER.value:
                existing = self.legs.get(peer["participant_id"])
                if existing is None or existing.pc.connectionState != "connected":
                    await self._offer(peer["participant_id"])

    async def _on_peer_joined(self, data: dict[str, Any]) -> None:
        # The newcomer offers to everyone present, the recorder included (see _on_signal).
        return None

    async def _on_peer_left(self, data: dict[str, Any]) -> None:
        leg = self.legs.pop(int(data["participant_id"]), None)
        if leg is not None:
            await self._close_leg(leg)

    def _new_leg(self, participant_id: int, offerer: bool, pc_id: str | None = None) -> Leg:
        pc = RTCPeerConnection(self._configuration())
        leg = Leg(participant_id, pc, pc_id or uuid.uuid4().hex[:16], offerer)
        self.legs[participant_id] = leg

        @pc.on("track")
        def _on_track(track: Any) -> None:
            leg.tasks.append(asyncio.ensure_future(self._consume(leg, track)))

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = asyncio.get_running_loop().time()
            if pc.connectionState == "failed" and self.legs.get(participant_id) is leg:
                self.legs.pop(participant_id, None)
                await self._close_leg(leg)

        return leg

    async def _consume(self, leg: Leg, track: Any) -> None:
        if not self.recording:
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                self.received[track.kind] += 1
        async with leg.starting:  # audio and video arrive together: one file per leg
            if leg.recorder is None:
                leg.recording_id, path = await self._db(
                    start_leg, self.session_id, leg.participant_id
                )
                leg.recorder = LegRecorder(path)
                leg.recorder.start()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert leg.recorder is not None
            leg.recorder.push(track.kind, frame)

    async def _send(self, to: int, payload: dict[str, Any]) -> None:
        await self.sio.emit("signal", {"to": to, **payload}, namespace=NAMESPACE)

    async def _offer(self, participant_id: int) -> None:
        old = self.legs.pop(participant_id, None)
        if old is not None:
            await self._close_leg(old)
        leg = self._new_leg(participant_id, offerer=True)
        if self.tracks:
            for track in self.tracks:
                leg.pc.addTrack(track)
        else:
            leg.pc.addTransceiver("audio", direction="recvonly")
            leg.pc.addTransceiver("video", direction="recvonly")
        await leg.pc.setLocalDescription(await leg.pc.createOffer())
        await self._send(
            participant_id,
            {"pc": leg.pc_id, "description": {"type": "offer", "sdp": leg.pc.localDescription.sdp}},
        )

    async def _on_signal(self, msg: dict[str, Any]) -> None:
        sender = int(msg["from"])
        description = msg.get("description")
        leg = self.legs.get(sender)
        if description and description.get("type") == "offer":
            if leg is not None and leg.pc_id != msg.get("pc"):
                self.legs.pop(sender, None)
                await self._close_leg(leg)
                leg = None
            if leg is None:
                leg = self._new_leg(sender, offerer=False, pc_id=msg.get("pc"))
            await leg.pc.setRemoteDescription(RTCSessionDescription(**description))
            await self._apply_candidates(leg)
            if self.tracks and not any(t.sender.track for t in leg.pc.getTransceivers()):
                for track in self.tracks:
                    leg.pc.addTrack(track)
            await leg.pc.setLocalDescription(await leg.pc.createAnswer())
            await self._send(
                sender,
                {
                    "pc": leg.pc_id,
                    "description": {"type": "answer", "sdp": leg.pc.localDescription.sdp},
                },
            )
            return
        if leg is None or leg.pc_id != msg.get("pc"):
            return
        if description and description.get("type") == "answer":
            await leg.pc.setRemoteDescription(RTCSessionDescription(**description))
            await self._apply_candidates(leg)
        elif msg.get("candidate"):
            leg.pending.append(msg["candidate"])
            if leg.pc.remoteDescription is not None:
                await self._apply_candidates(leg)

    async def _apply_candidates(self, leg: Leg) -> None:
        queued, leg.pending = leg.pending, []
        for item in queued:
            text = str(item.get("candidate") or "")
            if not text:
                continue
            try:
                candidate = candidate_from_sdp(
                    text.split(":", 1)[1] if text.startswith("candidate:") else text
                )
                candidate.sdpMid = item.get("sdpMid")
                candidate.sdpMLineIndex = item.get("sdpMLineIndex")
                await leg.pc.addIceCandidate(candidate)
            except Exception:  # a candidate aiortc cannot use (e.g. TCP) is skipped
                log.debug("skipped an ICE candidate aiortc cannot use")

    async def _close_leg(self, leg: Leg) -> None:
        await leg.pc.close()
        for task in leg.tasks:
            task.cancel()
        await asyncio.gather(*leg.tasks, return_exceptions=True)
        if leg.recorder is not None and leg.recording_id is not None:
            valid = await asyncio.get_running_loop().run_in_executor(
                None, finish_leg, self.app, leg.recording_id, leg.recorder
            )
            self.results.append(valid)

    async def _shutdown(self) -> None:
        legs, self.legs = list(self.legs.values()), {}
        for leg in legs:
            await self._close_leg(leg)
        try:
            if self.sio is not None and self.sio.connected:
                await self.sio.emit("leave", namespace=NAMESPACE)
                await self.sio.disconnect()
        except Exception:
            log.debug("socket already closed")
        if self.worker is not None:
            await self._db(release, self.worker, self.session_id)


class MediaWorker:
    """Claims recordable sessions and runs a :class:`SessionRecorder` for each."""

    def __init__(self, app: Flask, base_url: str | None = None) -> None:
        settings = app.config["HUB_SETTINGS"]
        self.app = app
        self.base_url = base_url or settings.base_url
        self.max_sessions = settings.video.media_max_sessions
        self.worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.active: dict[int, asyncio.Task[None]] = {}
        self.recorders: dict[int, SessionRecorder] = {}
        self.stop = asyncio.Event()
        if settings.video.media_allow_loopback:
            allow_loopback_candidates()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop.set)
        while not self.stop.is_set():
            for sid, task in list(self.active.items()):
                if task.done():
                    del self.active[sid]
                    self.recorders.pop(sid, None)
            free = self.max_sessions - len(self.active)
            try:
                taken = await loop.run_in_executor(None, claim, self.app, self.worker, free)
            except Exception:
                log.exception("could not look for sessions to record")
                taken = []
            for session_id in taken:
                recorder = SessionRecorder(self.app, self.worker, session_id, self.base_url)
                self.recorders[session_id] = recorder
                self.active[session_id] = asyncio.ensure_future(recorder.run())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), POLL_SECONDS)
        # Stop cleanly: every open recording is closed, verified and stored before exiting.
        for recorder in self.recorders.values():
            recorder.stopping.set()
        if self.active:
            await asyncio.wait(list(self.active.values()), timeout=60)


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("aioice", "aiortc", "socketio", "engineio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
