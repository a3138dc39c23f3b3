"""How many frames an instance really holds: NumberOfFrames checked against its pixel data.

A declared count is only a claim; the viewer builds a list per frame and the renderer indexes
frames, so a 1 KB instance declaring a million frames must not become a million frames. The
count recorded is what the pixel data can hold, and the disagreement is kept as a problem code
(shown on the study, reported to the sender as a warning).
"""

from __future__ import annotations

from dataclasses import dataclass

NATIVE_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
    }
)
# MPEG-2, MPEG-4 and HEVC: one video stream whose fragments are not frames (PS3.5 8.2.5),
# so the fragments say nothing about the count.
VIDEO_PREFIX = "1.2.840.10008.1.2.4.10"
BITS = frozenset({1, 8, 16, 32, 64})
SAMPLES = frozenset({1, 3, 4})
# No real object comes near this; a count beyond it is recorded as this, with a problem code
# (a video's count cannot be checked against its stream, and 1-bit frames are tiny).
MAX_FRAMES = 100_000


@dataclass(frozen=True)
class PixelData:
    """The top-level pixel data element as the walk found it."""

    encapsulated: bool
    length: int  # native: the value's length in bytes
    offset_table_length: int = 0  # encapsulated: the basic offset table item's length
    fragments: int = 0  # encapsulated: items after the offset table


def _declared(text: str) -> tuple[int, list[str]]:
    if not text:
        return 1, []
    try:
        value = int(text.split("\\")[0])
    except ValueError:
        return 1, ["invalid_number_of_frames"]
    if value < 1:
        return 1, ["invalid_number_of_frames"]
    return value, []


def check_frames(
    *,
    declared: str,
    rows: int | None,
    columns: int | None,
    samples: int | None,
    bits_allocated: int | None,
    photometric: str,
    pixels: PixelData | None,
    transfer_syntax: str,
) -> tuple[int, tuple[str, ...]]:
    """(frames the pixel data holds, problem codes) for an instance's declared NumberOfFrames."""
    frames, problems = _held(
        declared=declared,
        rows=rows,
        columns=columns,
        samples=samples,
        bits_allocated=bits_allocated,
        photometric=photometric,
        pixels=pixels,
        transfer_syntax=transfer_syntax,
    )
    if frames > MAX_FRAMES:
        return MAX_FRAMES, (*problems, "too_many_frames")
    return frames, problems


def _held(
    *,
    declared: str,
    rows: int | None,
    columns: int | None,
    samples: int | None,
    bits_allocated: int | None,
    photometric: str,
    pixels: PixelData | None,
    transfer_syntax: str,
) -> tuple[int, tuple[str, ...]]:
    frames, problems = _declared(declared)
    if pixels is None:
        # No pixel data (a report, a waveform): nothing to show frame by frame.
        return 1, tuple(problems)
    if pixels.encapsulated:
        return _encapsulated(frames, problems, pixels, transfer_syntax)
    if transfer_syntax not in NATIVE_SYNTAXES:
        problems.append("pixel_data_not_encapsulated")
        return 1, tuple(problems)
    samples = samples or 1
    if not rows or not columns or bits_allocated not in BITS or samples not in SAMPLES:
        problems.append("invalid_image_attributes")
        return 1, tuple(problems)
    # Native YBR_FULL_422 stores two samples' worth per pixel (PS3.3 C.7.6.3.1.2).
    per_pixel = 2 if photometric == "YBR_FULL_422" and samples == 3 else samples
    frame_bits = rows * columns * per_pixel * bits_allocated
    held = pixels.length * 8 // frame_bits
    if held == 0:
        problems.append("pixel_data_truncated")
        return 1, tuple(problems)
    if held < frames:
        problems.append("frames_exceed_pixel_data")
        return held, tuple(problems)
    return frames, tuple(problems)


def _encapsulated(
    frames: int, problems: list[str], pixels: PixelData, transfer_syntax: str
) -> tuple[int, tuple[str, ...]]:
    if pixels.fragments == 0:
        problems.append("pixel_data_truncated")
        return 1, tuple(problems)
    if transfer_syntax.startswith(VIDEO_PREFIX):
        return frames, tuple(problems)
    offsets = pixels.offset_table_length // 4
    if offsets:
        # A non-empty offset table has one entry per frame, each starting a fragment.
        held = min(offsets, pixels.fragments)
        if offsets != frames or offsets > pixels.fragments:
            problems.append("frames_differ_from_offset_table")
        return held, tuple(problems)
    # Without one, every frame takes one fragment at least (PS3.5 A.4).
    if frames > pixels.fragments:
        problems.append("frames_exceed_fragments")
        return pixels.fragments, tuple(problems)
    return frames, tuple(problems)
