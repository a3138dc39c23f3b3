"""Frames of uncompressed instances compressed losslessly on request (WADO-RS frames).

A health post on a 2 Mbit/s link waits 2.1 s for one uncompressed 512² CT slice; JPEG-LS
lossless sends the same pixels in about a third of the bytes, and the viewer decodes it in the
browser. Only lossless syntaxes are offered: what a reader sees is what the modality stored.
The encoders are pydicom's (JPEG-LS through pyjpegls, RLE its own); frames whose pixel
module an encoder does not take (floating point, 1-bit, colour by plane, ...) are not
transcoded, and the request falls back to the next media type it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydicom import dcmread
from pydicom.pixels import get_encoder

from imaging.dicomweb.wado import TRANSCODED_TYPES


class CannotTranscode(Exception):
    """The frames cannot be encoded in the syntax asked for; send them as stored."""


@dataclass(frozen=True)
class PixelModule:
    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric_interpretation: str
    planar_configuration: int

    def encoder_options(self) -> dict[str, object]:
        options: dict[str, object] = {
            "rows": self.rows,
            "columns": self.columns,
            "samples_per_pixel": self.samples_per_pixel,
            "bits_allocated": self.bits_allocated,
            "bits_stored": self.bits_stored,
            "pixel_representation": self.pixel_representation,
            "photometric_interpretation": self.photometric_interpretation,
            "number_of_frames": 1,
        }
        if self.samples_per_pixel > 1:
            options["planar_configuration"] = self.planar_configuration
        return options


def pixel_module(path: Path) -> PixelModule:
    """The Image Pixel module of a stored instance, read without its pixels."""
    ds = dcmread(path, stop_before_pixels=True)
    try:
        return PixelModule(
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            samples_per_pixel=int(getattr(ds, "SamplesPerPixel", 1) or 1),
            bits_allocated=int(ds.BitsAllocated),
            bits_stored=int(getattr(ds, "BitsStored", ds.BitsAllocated)),
            pixel_representation=int(getattr(ds, "PixelRepresentation", 0) or 0),
            photometric_interpretation=str(ds.PhotometricInterpretation),
            planar_configuration=int(getattr(ds, "PlanarConfiguration", 0) or 0),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise CannotTranscode(f"incomplete pixel module: {exc}") from None


@cache
def available() -> frozenset[str]:
    """The target syntaxes whose encoder is installed."""
    return frozenset(uid for uid in TRANSCODED_TYPES if get_encoder(uid).is_available)


def encodable(module: PixelModule) -> frozenset[str]:
    """The syntaxes frames of this pixel module may be sent as."""
    if module.bits_allocated not in (8, 16):
        return frozenset()
    if module.samples_per_pixel == 1:
        ok = module.photometric_interpretation in ("MONOCHROME1", "MONOCHROME2")
    else:
        # Colour frames interleaved by pixel only: an encoder reorders nothing.
        ok = module.photometric_interpretation == "RGB" and module.planar_configuration == 0
    return available() if ok else frozenset()


def encode(frames: list[bytes], module: PixelModule, syntax: str) -> list[bytes]:
    """Each frame encoded in ``syntax``; :class:`CannotTranscode` when an encoder refuses."""
    encoder = get_encoder(syntax)
    options = module.encoder_options()
    out = []
    for frame in frames:
        try:
            # bytes, not the bytearray JPEG-LS gives: a WSGI server writes only bytes.
            out.append(bytes(encoder.encode(frame, **options)))  # type: ignore[arg-type]
        except (RuntimeError, ValueError) as exc:
            raise CannotTranscode(str(exc)) from None
    return out
