"""Writes the short alert tones under ``static/sounds/`` (run once; the files are committed).

Generated rather than downloaded: two soft sine notes with a fade, 16 kHz mono, 16-bit PCM,
small enough to load with the page. ``python -m frontend.make_sounds`` rewrites them.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 16_000
SOUNDS = Path(__file__).resolve().parent / "static" / "sounds"


def _note(freq: float, seconds: float, volume: float = 0.45) -> list[int]:
    count = int(RATE * seconds)
    fade = int(RATE * 0.02)  # 20 ms in and out: no click at the edges
    samples = []
    for i in range(count):
        envelope = min(1.0, i / fade, (count - i) / fade)
        value = volume * envelope * math.sin(2 * math.pi * freq * i / RATE)
        samples.append(int(value * 32767))
    return samples


def command_alert() -> list[int]:
    """Two rising notes (A5, E6), a short gap between them."""
    return _note(880.0, 0.18) + [0] * int(RATE * 0.06) + _note(1318.5, 0.26)


def write(path: Path, samples: list[int]) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def main() -> None:
    SOUNDS.mkdir(parents=True, exist_ok=True)
    write(SOUNDS / "command-alert.wav", command_alert())


if __name__ == "__main__":
    main()
