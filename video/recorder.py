"""Writing one participant's audio and video to a Matroska file, and checking it afterwards.

Frames arrive on the asyncio loop; encoding happens on a worker thread, so a slow encoder never
stalls the WebRTC receive loop, and the hand-over queue is bounded (frames beyond it are dropped
and counted, never buffered without limit). Timestamps come from the arrival clock (monotonic)
and are forced to increase, which is what a muxer needs; the video encoder opens on the first
video frame, with that frame's size. After closing, the file is decoded from start to end and
must yield every frame that was written.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

log = logging.getLogger("hub.video.recorder")
MS = Fraction(1, 1000)
AUDIO_RATE = 48_000
QUEUE_LIMIT = 240  # ~4 s of 30 fps video plus audio
_STOP = object()


@dataclass
class Verification:
    valid: bool
    video_frames: int
    audio_frames: int
    duration_seconds: float
    size: int
    sha256: str
    problem: str | None = None


@dataclass
class Counters:
    received_video: int = 0
    received_audio: int = 0
    written_video: int = 0
    written_audio: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


class LegRecorder:
    """Records one participant's tracks to ``path`` (Matroska: H.264 video, Opus audio)."""

    def __init__(self, path: Path, *, width_hint: int = 640, height_hint: int = 480) -> None:
        self.path = path
        self.counters = Counters()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name=f"recorder-{path.name}", daemon=True)
        self._t0: float | None = None
        self._started = False
        self._closed = False

    # --- called on the event loop ---------------------------------------------------------
    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def push(self, kind: str, frame: Any) -> None:
        """Hand a decoded frame over; never blocks (a full queue drops the frame)."""
        if self._closed:
            return
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        if kind == "video":
            self.counters.received_video += 1
        else:
            self.counters.received_audio += 1
        try:
            self._queue.put_nowait((kind, frame, now - self._t0))
        except queue.Full:
            self.counters.dropped += 1

    def close(self, timeout: float = 30.0) -> None:
        """Flush and close the file (blocking: call it from an executor thread)."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)

    # --- the worker thread ----------------------------------------------------------------
    def _run(self) -> None:
        container: Any = None
        video: Any = None
        audio: Any = None
        fifo: Any = None
        resampler: Any = None
        last_video_pts = -1
        audio_samples = 0
        pending_audio: list[tuple[Any, float]] = []
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                kind, frame, at = item
                if container is None:
                    if kind == "audio":
                        # Wait (briefly) for the first video frame: the video stream's size is
                        # that frame's size, and both streams must exist before the header.
                        pending_audio.append((frame, at))
                        if len(pending_audio) < 150:  # ~3 s of 20 ms audio frames
                            continue
                        container, video, audio = self._open(None)
                    else:
                        container, video, audio = self._open(frame)
                    fifo = av.AudioFifo()
                    resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE)
                    for held, _held_at in pending_audio:
                        audio_samples = self._audio(
                            container, audio, fifo, resampler, held, audio_samples
                        )
                    pending_audio.clear()
                if kind == "video":
                    if video is None:
                        continue
                    pts = max(int(at * 1000), last_video_pts + 1)
                    last_video_pts = pts
                    image = frame
                    if (
                        frame.width != video.width
                        or frame.height != video.height
                        or frame.format.name != "yuv420p"
                    ):
                        image = frame.reformat(
                            width=video.width, height=video.height, format="yuv420p"
                        )
                    image.pts, image.time_base = pts, MS
                    for packet in video.encode(image):
                        container.mux(packet)
                    self.counters.written_video += 1
                else:
                    audio_samples = self._audio(
                        container, audio, fifo, resampler, frame, audio_samples
                    )
            if container is None and pending_audio:
                container, video, audio = self._open(None)
                fifo = av.AudioFifo()
                resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE)
                for held, _at in pending_audio:
                    audio_samples = self._audio(
                        container, audio, fifo, resampler, held, audio_samples
                    )
        except Exception as exc:  # recorded on the row as an invalid recording
            log.exception("recording failed")
            self.counters.errors.append(type(exc).__name__)
        finally:
            if container is not None:
                try:
                    if video is not None:
                        for packet in video.encode(None):
                            container.mux(packet)
                    if audio is not None:
                        for packet in audio.encode(None):
                            container.mux(packet)
                finally:
                    container.close()

    def _open(self, first_video: Any) -> tuple[Any, Any, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), mode="w", format="matroska")
        video = None
        if first_video is not None:
            video = container.add_stream("libx264", rate=30)
            video.width = first_video.width - first_video.width % 2
            video.height = first_video.height - first_video.height % 2
            video.pix_fmt = "yuv420p"
            video.time_base = MS
            video.codec_context.time_base = MS
            video.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "26"}
        audio = container.add_stream("libopus", rate=AUDIO_RATE)
        audio.layout = "stereo"
        audio.format = "s16"
        return container, video, audio

    def _audio(
        self, container: Any, stream: Any, fifo: Any, resampler: Any, frame: Any, samples: int
    ) -> int:
        frame.pts = None
        for chunk in resampler.resample(frame):
            chunk.pts = None
            fifo.write(chunk)
        size = stream.codec_context.frame_size or 960
        while fifo.samples >= size:
            out = fifo.read(size)
            out.pts, out.time_base, out.sample_rate = samples, Fraction(1, AUDIO_RATE), AUDIO_RATE
            samples += size
            for packet in stream.encode(out):
                container.mux(packet)
            self.counters.written_audio += 1
        return samples


def verify(path: Path, expected_video: int, expected_audio: int) -> Verification:
    """Decode the whole file; valid when it opens and every written frame decodes."""
    size = path.stat().st_size if path.exists() else 0
    digest = hashlib.sha256()
    if size:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    video = audio = 0
    duration = 0.0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(*container.streams):
                if isinstance(frame, av.VideoFrame):
                    video += 1
                else:
                    audio += 1
                if frame.time is not None:
                    duration = max(duration, float(frame.time))
    except Exception as exc:
        return Verification(
            False, video, audio, duration, size, digest.hexdigest(), type(exc).__name__
        )
    problem = None
    if video != expected_video:
        problem = f"video frames: wrote {expected_video}, decoded {video}"
    elif expected_video + expected_audio == 0:
        problem = "empty"
    elif audio < expected_audio:
        problem = f"audio frames: wrote {expected_audio}, decoded {audio}"
    return Verification(problem is None, video, audio, duration, size, digest.hexdigest(), problem)
