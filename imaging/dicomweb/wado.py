"""WADO-RS (PS3.18 10.4): instances as ``multipart/related; type="application/dicom"`` streamed
from storage, metadata as DICOM JSON with bulk data as ``BulkDataURI``s, bulk data and frames
in the stored transfer syntax (uncompressed frames also JPEG-LS or RLE lossless, on request:
``transcode.py``), and rendered frames (PNG or JPEG) for browsers that cannot decode.

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
from typing import Any

from PIL import Image
from pydicom import dcmread
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import UID

from imaging import render

CHUNK = 1024 * 1024
DICOM = "application/dicom"
OCTET = "application/octet-stream"
# Bulk data (binary values) above this many bytes is left out of metadata (PS3.18 F.2.7).
BULK_THRESHOLD = 1024
# Pixels are always bulk data, whatever their size: viewers fetch them as frames or bulk data.
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
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
# The syntax a frame media type stands for when the request names none (PS3.18 8.7.3.5).
DEFAULT_SYNTAX = {
    "image/jls": "1.2.840.10008.1.2.4.80",
    "image/dicom-rle": "1.2.840.10008.1.2.5",
}
# What uncompressed frames may be transcoded to (lossless only), with their media types.
TRANSCODED_TYPES = {syntax: FRAME_TYPES[syntax] for syntax in DEFAULT_SYNTAX.values()}


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


def frame_type(
    accepted: list[Accepted], stored: str, encodable: frozenset[str] = frozenset()
) -> tuple[str, str]:
    """(part media type, transfer syntax) of frames stored in ``stored``, from the first entry
    of the request that can be met; raises :class:`NotAcceptable` when none can.

    ``transfer-syntax=*`` takes the frames as stored, under their own media type, whatever the
    entry's type (as Orthanc answers it; Cornerstone asks so). Uncompressed frames are also
    sent in a syntax of ``encodable`` (lossless ones the hub can encode them to) when an entry
    names it, or names its media type (``image/jls`` means JPEG-LS lossless)."""
    native = stored in NATIVE_LITTLE
    media = OCTET if native else FRAME_TYPES.get(stored, OCTET)
    # Native little-endian pixels are the same bytes whichever of those syntaxes is named.
    same = NATIVE_LITTLE if native else {stored}
    for entry in accepted:
        if (
            entry.transfer_syntax == "*"
            and entry.part_type != DICOM
            and _wants_multipart(entry, entry.part_type or media)
        ):
            return media, stored
        if entry.transfer_syntax is None and _wants_multipart(entry, media):
            if native or entry.part_type == media:
                return media, stored
        elif entry.transfer_syntax in same and _wants_multipart(entry, media):
            return media, str(entry.transfer_syntax)
        if not native:
            continue
        wanted = entry.transfer_syntax or DEFAULT_SYNTAX.get(entry.part_type or "")
        target = TRANSCODED_TYPES.get(wanted or "")
        if wanted in encodable and target is not None and _wants_multipart(entry, target):
            return target, wanted
    raise NotAcceptable(f"The frames are available only as {media} in {stored}.")


def bulk_type(accepted: list[Accepted], encapsulated: str | None) -> tuple[str, str | None]:
    """(part media type, transfer syntax) of bulk data: as for frames, except that compressed
    pixels are sent as stored to a request that accepts anything (what its BulkDataURI names:
    the hub does not transcode). Other bulk data is octet-stream, with no transfer syntax."""
    if encapsulated is None:
        return frame_type(accepted, EXPLICIT_LITTLE)[0], None
    if any(e.media_type == "*/*" and e.transfer_syntax in (None, "*") for e in accepted):
        return FRAME_TYPES.get(encapsulated, OCTET), encapsulated
    return frame_type(accepted, encapsulated)


def rendered_type(accepted: list[Accepted]) -> str:
    for entry in accepted:
        if entry.media_type in ("*/*", "image/*", "image/png"):
            return "image/png"
        if entry.media_type == "image/jpeg":
            return "image/jpeg"
    raise NotAcceptable("Rendered images are available as image/png or image/jpeg.")


def boundary() -> str:
    return secrets.token_hex(16)


class Vanished(Exception):
    """A file was removed (retention) after the answer's length was sent."""


@dataclass(frozen=True)
class Multipart:
    """A ``multipart/related`` body of files: its length, known before it is sent (a client
    then reads it without chunked decoding), and its bytes, a chunk at a time."""

    length: int
    chunks: Iterator[bytes]


def multipart_files(paths: list[Path], mark: str, part_type: str = DICOM) -> Multipart:
    """Each file as one part. Files removed since the index was read are left out; one
    removed while the answer is sent breaks it off (its length was promised)."""
    head = f"--{mark}\r\nContent-Type: {part_type}\r\n\r\n".encode()
    tail = f"--{mark}--\r\n".encode()
    present = []
    for path in paths:
        try:
            present.append((path, path.stat().st_size))
        except FileNotFoundError:
            continue
    length = sum(len(head) + size + 2 for _p, size in present) + len(tail)

    def chunks() -> Iterator[bytes]:
        for path, size in present:
            try:
                handle = path.open("rb")
            except FileNotFoundError:
                raise Vanished(str(path.name)) from None
            with handle:
                yield head
                left = size
                while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                    left -= len(chunk)
                    yield chunk
                if left:
                    raise Vanished(str(path.name))
            yield b"\r\n"
        yield tail

    return Multipart(length, chunks())


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


def metadata(path: Path, syntax: str, root: str | None = None) -> dict[str, object]:
    """An instance's attributes as DICOM JSON. Bulk data (pixels, large binary values) is not
    read: with ``root`` (the DICOMweb root) each becomes a ``BulkDataURI`` under the instance's
    ``bulkdata`` resource (PS3.18 F.2.6), without it it is left out."""
    ds = dcmread(path, defer_size=BULK_THRESHOLD)
    taken = _take_bulk(ds)
    out = ds.to_json_dict()
    out["00020010"] = {"vr": "UI", "Value": [syntax]}
    if root is not None:
        base = (
            f"{root}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
            f"/instances/{ds.SOPInstanceUID}/bulkdata/"
        )
        for trail, vr in taken:
            node: dict[str, Any] = out
            for tag, index in zip(trail[0:-1:2], trail[1:-1:2], strict=True):
                node = node[tag]["Value"][int(index)]
            node[trail[-1]] = {"vr": vr, "BulkDataURI": base + "/".join(trail)}
    return out


def _length(raw: DataElement | RawDataElement) -> int:
    if isinstance(raw, RawDataElement):
        return int(raw.length)
    return len(raw.value) if raw.value is not None else 0


def _vr(raw: DataElement | RawDataElement) -> str:
    vr = str(raw.VR or dictionary_VR(raw.tag))
    # An implicit VR file's pixels: "OB or OW" in the dictionary; OW is what they are on disk.
    return "OW" if " or " in vr else vr


def _take_bulk(ds: Dataset, trail: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Remove the bulk data of ``ds`` and its items without reading it: the path of each
    (tags and item numbers from 0, as in its BulkDataURI) and its VR."""
    taken = []
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        key = f"{int(tag):08X}"
        vr = _vr(raw)
        if vr == "SQ":
            for index, item in enumerate(ds[tag].value):
                taken += _take_bulk(item, (*trail, key, str(index)))
        elif vr in BINARY_VRS and (_length(raw) > BULK_THRESHOLD or tag in PIXEL_TAGS):
            del ds[tag]
            taken.append(((*trail, key), vr))
    return taken


def metadata_stream(items: list[tuple[Path, str]], root: str | None = None) -> Iterator[bytes]:
    """A JSON array of each instance's metadata, written one instance at a time."""
    yield b"["
    first = True
    for path, syntax in items:
        try:
            one = metadata(path, syntax, root)
        except FileNotFoundError:
            continue
        yield (b"" if first else b",") + json.dumps(one).encode()
        first = False
    yield b"]"


class NoSuchBulkData(Exception):
    """The path names no binary value of the instance."""


@dataclass(frozen=True)
class BulkData:
    """Where one binary value is: a range of the file (top level) or its bytes (in an item).
    ``encapsulated`` is the transfer syntax of compressed pixel data, sent frame by frame."""

    offset: int = 0
    length: int = 0
    value: bytes | None = None
    encapsulated: str | None = None
    frames: int = 1


def parse_bulk_path(text: str) -> list[int]:
    """``7FE00010`` or ``00400275/0/00081199/2/00420011`` as tags and item numbers; raises
    :class:`NoSuchBulkData` when it is neither."""
    pieces = text.split("/")
    if len(pieces) % 2 == 0 or len(pieces) > 15:
        raise NoSuchBulkData(text)
    out = []
    for position, piece in enumerate(pieces):
        if position % 2 == 0:
            if len(piece) != 8 or not all(c in "0123456789abcdefABCDEF" for c in piece):
                raise NoSuchBulkData(text)
            out.append(int(piece, 16))
        else:
            if not piece.isdigit() or len(piece) > 6:
                raise NoSuchBulkData(text)
            out.append(int(piece))
    return out


def bulk_data(path: Path, trail: list[int]) -> BulkData:
    """Find the binary value at ``trail`` (from :func:`parse_bulk_path`); a top-level value
    is located, not read, so a large one costs no memory."""
    ds = dcmread(path, defer_size=BULK_THRESHOLD)
    node = ds
    for tag, index in zip(trail[0:-1:2], trail[1:-1:2], strict=True):
        if tag not in node or node[tag].VR != "SQ" or index >= len(node[tag].value):
            raise NoSuchBulkData("no such item")
        node = node[tag].value[index]
    tag = trail[-1]
    if tag not in node:
        raise NoSuchBulkData("no such attribute")
    raw = node.get_item(tag, keep_deferred=True)
    if _vr(raw) not in BINARY_VRS:
        raise NoSuchBulkData("not a binary attribute")
    syntax = str(ds.file_meta.TransferSyntaxUID)
    # Not read yet (deferred): located in the file, read only as it is sent.
    located = raw if isinstance(raw, RawDataElement) and raw.value is None else None
    if len(trail) == 1 and tag == 0x7FE00010 and UID(syntax).is_encapsulated:
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        if located is not None:
            return BulkData(offset=located.value_tell, encapsulated=syntax, frames=frames)
        return BulkData(value=bytes(node[tag].value), encapsulated=syntax, frames=frames)
    if len(trail) == 1 and located is not None:
        return BulkData(offset=located.value_tell, length=located.length)
    value = node[tag].value
    return BulkData(value=bytes(value) if value is not None else b"")


def file_range(path: Path, offset: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of the file from ``offset``, a chunk at a time."""
    with path.open("rb") as handle:
        handle.seek(offset)
        while length > 0 and (chunk := handle.read(min(CHUNK, length))):
            length -= len(chunk)
            yield chunk


def encapsulated_frames(path: Path, found: BulkData) -> Iterator[bytes]:
    """Each frame of encapsulated pixel data (:func:`bulk_data`), one at a time."""
    if found.value is not None:
        yield from generate_frames(found.value, number_of_frames=found.frames)
        return
    with path.open("rb") as handle:
        handle.seek(found.offset)
        yield from generate_frames(handle, number_of_frames=found.frames)


def multipart_stream(
    parts: Iterable[Iterable[bytes]], mark: str, part_type: str
) -> Iterator[bytes]:
    """Parts each given as chunks, streamed as ``multipart/related``."""
    head = f"--{mark}\r\nContent-Type: {part_type}\r\n\r\n".encode()
    for part in parts:
        yield head
        yield from part
        yield b"\r\n"
    yield f"--{mark}--\r\n".encode()


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
