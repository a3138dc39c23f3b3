"""WADO-RS (PS3.18 10.4): instances as ``multipart/related; type="application/dicom"`` streamed
from storage, metadata as DICOM JSON without bulk data, frames in the stored transfer syntax,
and rendered frames (PNG or JPEG) for browsers that cannot decode.

Files are read in chunks as the answer is sent: a study's size costs no memory here, and
nothing reads the database once the answer has started.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID

from imaging import render

CHUNK = 1024 * 1024
DICOM = "application/dicom"
OCTET = "application/octet-stream"
# Bulk data (binary values) above this many bytes is left out of metadata (PS3.18 F.2.7).
BULK_THRESHOLD = 1024
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
NATIVE_LITTLE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"})
EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
# The media type of a compressed frame, by transfer syntax (PS3.18 Table 8.7.3-2).
FRAME_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}


class NotAcceptable(Exception):
    """None of the media types the request accepts can be given (406)."""


@dataclass(frozen=True)
class Accepted:
    media_type: str  # e.g. multipart/related or image/png
    part_type: str | None  # the type parameter of multipart/related
    transfer_syntax: str | None


def parse_accept(header: str | None) -> list[Accepted]:
    """The Accept header's entries in order (quality factors are not weighed)."""
    if not header or not header.strip():
        return [Accepted("*/*", None, None)]
    out = []
    for entry in _split(header, ","):
        pieces = _split(entry, ";")
        if not pieces or not pieces[0].strip():
            continue
        params = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        out.append(
            Accepted(pieces[0].strip().lower(), params.get("type"), params.get("transfer-syntax"))
        )
    return out or [Accepted("*/*", None, None)]


def _split(text: str, sep: str) -> list[str]:
    """Split outside double quotes (a type parameter may be quoted)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _wants_multipart(entry: Accepted, part_type: str) -> bool:
    if entry.media_type in ("*/*", "multipart/*"):
        return True
    return entry.media_type == "multipart/related" and entry.part_type in (None, part_type, "*/*")


def instance_syntax(accepted: list[Accepted], stored: Iterable[str]) -> None:
    """Check that instances stored in ``stored`` transfer syntaxes may be sent as they are;
    raises :class:`NotAcceptable` otherwise (the hub does not transcode)."""
    syntaxes = set(stored)
    for entry in accepted:
        if not _wants_multipart(entry, DICOM):
            continue
        if entry.transfer_syntax in (None, "*") or syntaxes <= {entry.transfer_syntax}:
            return
    raise NotAcceptable(
        "The instances are sent only in their stored transfer syntax: "
        + ", ".join(sorted(syntaxes))
    )


def frame_type(accepted: list[Accepted], stored: str) -> tuple[str, str]:
    """(part media type, transfer syntax) of frames stored in ``stored``; raises
    :class:`NotAcceptable` when the request accepts neither."""
    native = stored in NATIVE_LITTLE
    media = OCTET if native else FRAME_TYPES.get(stored, OCTET)
    # Native little-endian pixels are the same bytes whichever of those syntaxes is named.
    same = NATIVE_LITTLE if native else {stored}
    for entry in accepted:
        if not _wants_multipart(entry, media):
            continue
        if entry.transfer_syntax in (None, "*"):
            if native or entry.part_type == media:
                return media, stored
            continue
        if entry.transfer_syntax in same:
            return media, entry.transfer_syntax
    raise NotAcceptable(f"The frames are available only as {media} in {stored}.")


def rendered_type(accepted: list[Accepted]) -> str:
    for entry in accepted:
        if entry.media_type in ("*/*", "image/*", "image/png"):
            return "image/png"
        if entry.media_type == "image/jpeg":
            return "image/jpeg"
    raise NotAcceptable("Rendered images are available as image/png or image/jpeg.")


def boundary() -> str:
    return secrets.token_hex(16)


def multipart_files(paths: list[Path], mark: str, part_type: str = DICOM) -> Iterator[bytes]:
    """Each file as one part, read a chunk at a time."""
    head = f"--{mark}\r\nContent-Type: {part_type}\r\n\r\n".encode()
    for path in paths:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            continue  # removed by retention since the index was read
        with handle:
            yield head
            while chunk := handle.read(CHUNK):
                yield chunk
        yield b"\r\n"
    yield f"--{mark}--\r\n".encode()


def multipart_bytes(parts: Iterable[bytes], mark: str, part_type: str) -> Iterator[bytes]:
    head = f"--{mark}\r\nContent-Type: {part_type}\r\n\r\n".encode()
    for part in parts:
        yield head
        yield part
        yield b"\r\n"
    yield f"--{mark}--\r\n".encode()


class NoSuchFrame(Exception):
    pass


def frames(path: Path, numbers: list[int]) -> list[bytes]:
    """The pixel data of frames ``numbers`` (1-based) as stored: native frames are read at
    their offset, encapsulated ones from their fragments; nothing else of the file is read."""
    ds = dcmread(path, defer_size=256)
    if "PixelData" not in ds:
        raise NoSuchFrame("no pixel data")
    count = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if any(not 1 <= n <= count for n in numbers):
        raise NoSuchFrame("no such frame")
    raw = ds.get_item(0x7FE00010, keep_deferred=True)
    offset = raw.value_tell  # type: ignore[attr-defined]
    syntax = str(ds.file_meta.TransferSyntaxUID)
    with path.open("rb") as handle:
        if UID(syntax).is_encapsulated:
            handle.seek(offset)
            wanted = set(numbers)
            found: dict[int, bytes] = {}
            for index, frame in enumerate(generate_frames(handle, number_of_frames=count), 1):
                if index in wanted:
                    found[index] = frame
                if len(found) == len(wanted):
                    break
            return [found[n] for n in numbers]
        bits = int(ds.BitsAllocated)
        pixels = int(ds.Rows) * int(ds.Columns) * int(getattr(ds, "SamplesPerPixel", 1) or 1)
        size = (pixels * bits + 7) // 8
        out = []
        for n in numbers:
            handle.seek(offset + (n - 1) * size)
            out.append(handle.read(size))
        return out


def metadata(path: Path, syntax: str) -> dict[str, object]:
    """An instance's attributes as DICOM JSON, bulk data and pixels left out."""
    ds = dcmread(path, stop_before_pixels=True)
    _drop_bulk(ds)
    out = ds.to_json_dict()
    out["00020010"] = {"vr": "UI", "Value": [syntax]}
    return out


def _drop_bulk(ds: Dataset) -> None:
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value:
                _drop_bulk(item)
        elif elem.VR in BINARY_VRS and elem.value is not None and len(elem.value) > BULK_THRESHOLD:
            del ds[elem.tag]


def metadata_stream(items: list[tuple[Path, str]]) -> Iterator[bytes]:
    """A JSON array of each instance's metadata, written one instance at a time."""
    yield b"["
    first = True
    for path, syntax in items:
        try:
            one = metadata(path, syntax)
        except FileNotFoundError:
            continue
        yield (b"" if first else b",") + json.dumps(one).encode()
        first = False
    yield b"]"


def rendered(path: Path, frame: int, media: str, window: tuple[float, float] | None) -> bytes:
    """One frame drawn by :mod:`imaging.render`, as PNG or JPEG."""
    center, width = window if window else (None, None)
    png, _c, _w = render.render_png(path, frame, center, width)
    if media == "image/png":
        return png
    image = Image.open(io.BytesIO(png))
    out = io.BytesIO()
    image.convert("L" if image.mode in ("L", "I", "I;16") else "RGB").save(out, "JPEG", quality=90)
    return out.getvalue()
