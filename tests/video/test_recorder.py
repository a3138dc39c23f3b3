"""The recorder writes Matroska on a worker thread and the check decodes every written frame."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np

from video.recorder import LegRecorder, verify


def _video(i: int, width: int = 640, height: int = 480) -> av.VideoFrame:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, :, 0] = i % 255
    image[(i * 4) % height, :, 1] = 255
    return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")


def _audio(i: int) -> av.AudioFrame:
    tone = (np.sin(np.arange(960) / 10 + i) * 8000).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(
        np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo"
    )
    frame.sample_rate = 48_000
    return frame


def test_recording_is_valid_and_every_frame_decodes(tmp_path: Path) -> None:
    path = tmp_path / "leg.mkv"
    rec = LegRecorder(path)
    rec.start()
    for i in range(60):
        rec.push("audio", _audio(2 * i))
        rec.push("audio", _audio(2 * i + 1))
        # A size change mid-call (bandwidth adaptation) is scaled to the first frame's size.
        rec.push("video", _video(i) if i < 40 else _video(i, 320, 240))
        time.sleep(0.005)
    rec.close()
    assert rec.counters.errors == [] and rec.counters.dropped == 0
    checked = verify(path, rec.counters.written_video, rec.counters.written_audio)
    assert checked.valid, checked
    assert checked.video_frames == 60 and checked.audio_frames >= 100
    assert checked.size > 0 and len(checked.sha256) == 64


def test_audio_only_and_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "audio.mkv"
    rec = LegRecorder(path)
    rec.start()
    for i in range(200):
        rec.push("audio", _audio(i))
    rec.close()
    checked = verify(path, 0, rec.counters.written_audio)
    assert checked.valid and checked.video_frames == 0 and checked.audio_frames > 150

    broken = tmp_path / "broken.mkv"
    broken.write_bytes(path.read_bytes()[:300])
    assert not verify(broken, 0, rec.counters.written_audio).valid
    assert not verify(tmp_path / "missing.mkv", 1, 0).valid
