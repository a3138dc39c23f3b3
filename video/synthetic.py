"""A peer that sends synthetic media: a moving 640x480 test pattern at 30 fps and a tone.

It joins a session with a participant's token exactly as a browser does (``hub media test-peer``),
so sessions, the recorder and benchmarks can be exercised without cameras or browsers. Production
code (the CLI command) uses it, so it lives here rather than under tests; ``video.testpeer``
re-exports it for the tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, MediaStreamError, VideoStreamTrack

from video.media import SessionRecorder

WIDTH, HEIGHT = 640, 480
RATE = 48_000


class SyntheticVideo(VideoStreamTrack):
    """A grey gradient with a bar sweeping across it: every frame differs, as real video does."""

    def __init__(self) -> None:
        super().__init__()
        y = np.tile(np.linspace(40, 200, WIDTH, dtype=np.uint8), (HEIGHT, 1))
        chroma = np.full((HEIGHT // 2, WIDTH), 128, dtype=np.uint8)
        self._base = np.vstack([y, chroma])
        self._n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = self._base.copy()
        x = (self._n * 8) % (WIDTH - 32)
        image[:HEIGHT, x : x + 32] = 235
        self._n += 1
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        return frame


class SyntheticAudio(AudioStreamTrack):
    """A 440 Hz tone in 20 ms frames at 48 kHz."""

    def __init__(self) -> None:
        super().__init__()
        self._samples = int(AUDIO_PTIME * RATE)
        self._sent = 0
        self._t0: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._t0 is None:
            self._t0 = time.time()
        else:
            wait = self._t0 + self._sent / RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (np.arange(self._samples) + self._sent) / RATE
        tone = (np.sin(2 * math.pi * 440 * t) * 6000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts, frame.time_base = self._sent, fractions.Fraction(1, RATE)
        self._sent += self._samples
        return frame


async def run_test_peer(
    app: Any,
    base_url: str,
    session_id: int,
    token: str,
    seconds: float,
    *,
    once_connected_to: int = 0,
    connect_within: float = 60.0,
) -> dict[str, Any]:
    """Join, send for ``seconds``, leave; what it received and when it first connected.

    With ``once_connected_to`` the ``seconds`` count from the moment that many peers (the other
    participants and the recorder) are connected at once, waited for up to ``connect_within``
    seconds, so a slow recorder start on a loaded machine does not shorten what is sent to it.
    """
    loop = asyncio.get_running_loop()
    tracks = [SyntheticAudio(), SyntheticVideo()]
    peer = SessionRecorder(app, None, session_id, base_url, token=token, tracks=tracks)
    started = loop.time()
    task = asyncio.ensure_future(peer.run())
    all_connected = None
    if once_connected_to:
        while loop.time() - started < connect_within and not task.done():
            if peer.connected_legs() >= once_connected_to:
                all_connected = loop.time() - started
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(seconds)
    peer.stopping.set()
    await task
    connected = None if peer.connected_at is None else peer.connected_at - started
    return {
        "connected_after": connected,
        "all_connected_after": all_connected,
        "received": dict(peer.received),
    }
