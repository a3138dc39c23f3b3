"""One frame of a stored instance as a PNG, with window/level applied (for the web viewer)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut, pixel_array

MAX_SIDE = 2048


class CannotRender(Exception):
    """The instance has no displayable pixels here (no pixel data, or an unsupported codec)."""


def _first(value: object) -> float | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str | bytes | int | float):
            value = next(iter(value))  # type: ignore[call-overload]
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, StopIteration):
        return None


def render_png(
    path: Path, frame: int = 0, center: float | None = None, width: float | None = None
) -> tuple[bytes, float, float]:
    """The PNG of ``frame`` and the window (center, width) it was drawn with."""
    try:
        # Large values (the pixel data) are left on disk until asked for.
        ds = dcmread(path, defer_size=4096)
        if "PixelData" not in ds:
            raise CannotRender("no pixel data")
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        if not 0 <= frame < frames:
            raise CannotRender("no such frame")
        # Only the frame asked for is decoded: a multi-frame instance's whole pixel array
        # would cost the web worker its size times the frames.
        pixels = pixel_array(path, index=frame if frames > 1 else None)
    except CannotRender:
        raise
    except Exception as exc:  # codec missing or damaged pixel data
        raise CannotRender(type(exc).__name__) from None
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if samples == 3:
        image = Image.fromarray(_to_uint8(pixels).astype(np.uint8), "RGB")
        return _png(image), 128.0, 256.0
    values = apply_modality_lut(pixels, ds).astype(np.float32)
    if center is None or width is None:
        center = _first(ds.get("WindowCenter"))
        width = _first(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        low, high = float(values.min()), float(values.max())
        center, width = (low + high) / 2, max(high - low, 1.0)
    low = center - width / 2
    scaled = np.clip((values - low) / width * 255.0, 0, 255).astype(np.uint8)
    if str(getattr(ds, "PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        scaled = 255 - scaled
    return _png(Image.fromarray(scaled, "L")), center, width


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    top = float(pixels.max()) or 1.0
    return (pixels.astype(np.float32) / top * 255).astype(np.uint8)


def _png(image: Image.Image) -> bytes:
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)  # speed over size: frames are scrolled through
    return out.getvalue()
