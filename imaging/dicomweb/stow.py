"""STOW-RS (PS3.18 10.5): a ``multipart/related`` request of ``application/dicom`` parts,
stored through the upload's checks, facility checks, indexing and audit (``imaging.upload``).

The body is spooled to disk and its parts are read through windows on the spooled file: a
large request costs no memory. A part that is not DICOM, names another study than the one
posted to, or is refused by the index (another facility's study, a damaged file) becomes an
entry of the FailedSOPSequence with its reason; the other parts are stored. A part with file
meta information but no 128-byte preamble (pydicom's ``dcmwrite`` of a dataset made in memory,
as ``dicomweb-client`` sends it) is stored as the PS3.10 file it describes.
"""

from __future__ import annotations

import io
import mmap
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from pydicom import dcmread
from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.errors import BadRequest
from hub.permissions import require
from imaging import upload
from imaging.dicom.parse import MalformedDataset
from imaging.index import Indexer
from imaging.storage import Storage

# PS3.18 Table 10.5.3-1 / PS3.4 Annex B failure reasons.
PROCESSING_FAILURE = 0x0110
DUPLICATE_DIFFERS = 0x0111
DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
READ = 1024 * 1024
# Enough of a part to hold its preamble and file meta information.
HEAD = 64 * 1024
# A PS3.10 file's preamble and prefix, and how its file meta group starts without them (a
# group 0002 element, explicit VR little endian: pydicom may leave out the group length).
PREAMBLE = bytes(128) + b"DICM"
FILE_META_GROUP = b"\x02\x00"


class UnsupportedMedia(BadRequest):
    status = 415
    code = "unsupported_media_type"


@dataclass
class Outcome:
    """Per part: what it was (if it could be read) and whether it was stored."""

    stored: list[tuple[str, str]] = field(default_factory=list)  # (class, instance)
    failed: list[tuple[str, str, int, str]] = field(default_factory=list)  # + reason, why
    studies: set[str] = field(default_factory=set)


def boundary_of(content_type: str | None) -> str:
    """The boundary of a ``multipart/related; type="application/dicom"`` request."""
    if not content_type:
        raise UnsupportedMedia('Send multipart/related; type="application/dicom".')
    pieces = [p.strip() for p in content_type.split(";")]
    if pieces[0].lower() != "multipart/related":
        raise UnsupportedMedia('Send multipart/related; type="application/dicom".')
    params = {}
    for piece in pieces[1:]:
        name, _, value = piece.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    if params.get("type", "application/dicom").lower() != "application/dicom":
        raise UnsupportedMedia(
            'Only application/dicom parts are stored (type="application/dicom").'
        )
    mark = params.get("boundary", "")
    if not mark or len(mark) > 70:
        raise BadRequest("The multipart boundary is missing or too long.", code="bad_multipart")
    return mark


def spool(source: IO[bytes], directory: Path) -> tuple[int, int]:
    """The request body copied to an unnamed file: (descriptor, size)."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 (closed by the caller)
    fd = os.dup(handle.fileno())
    handle.close()
    size = 0
    try:
        while chunk := source.read(READ):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
            size += len(chunk)
    except BaseException:
        os.close(fd)
        raise
    return fd, size


@dataclass(frozen=True)
class Part:
    content_type: str
    start: int
    end: int


def split_parts(body: mmap.mmap | bytes, mark: str) -> list[Part]:
    """The parts of a multipart body (RFC 2046), as ranges of the body."""
    delimiter = b"--" + mark.encode("ascii", "replace")
    position = body.find(delimiter)
    if position < 0:
        raise BadRequest("The body holds no multipart part.", code="bad_multipart")
    parts = []
    while True:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            break
        head_end = body.find(b"\r\n\r\n", position)
        if head_end < 0:
            raise BadRequest("A part's headers never end.", code="bad_multipart")
        headers = bytes(body[position:head_end]).decode("latin-1")
        content_type = ""
        for line in headers.split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                content_type = value.split(";")[0].strip().lower()
        start = head_end + 4
        following = body.find(b"\r\n" + delimiter, start)
        if following < 0:
            raise BadRequest("The multipart body is cut off.", code="bad_multipart")
        parts.append(Part(content_type, start, following))
        position = following + 2
    return parts


class Window(io.RawIOBase):
    """A read-only file over ``length`` bytes of a descriptor from ``offset``, after ``prefix``
    (the PS3.10 preamble a part may lack)."""

    def __init__(self, fd: int, offset: int, length: int, prefix: bytes = b"") -> None:
        self._fd, self._offset, self._prefix, self._at = fd, offset, prefix, 0
        self._length = len(prefix) + length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._at, os.SEEK_END: self._length}[whence]
        self._at = max(0, min(self._length, base + offset))
        return self._at

    def tell(self) -> int:
        return self._at

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._length - self._at)
        if want <= 0:
            return 0
        if self._at < len(self._prefix):
            data = self._prefix[self._at : self._at + want]
        else:
            data = os.pread(self._fd, want, self._offset + self._at - len(self._prefix))
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


def store(
    session: Session,
    principal: Principal,
    source: IO[bytes],
    content_type: str | None,
    *,
    storage: Storage,
    indexer: Indexer,
    study_uid: str | None,
    limits: upload.Limits,
) -> Outcome:
    """Store the request's parts; returns each part's outcome."""
    require(principal, "imaging:write", roles=upload.UPLOADERS, action="imaging:instances:stored")
    mark = boundary_of(content_type)
    fd, size = spool(source, storage.root / "incoming")
    outcome = Outcome()
    try:
        body = mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else b""
        try:
            parts = split_parts(body, mark)
            named: dict[str, tuple[str, str]] = {}
            files: list[tuple[str, IO[bytes]]] = []
            for number, part in enumerate(parts, 1):
                checked = _check(fd, part, study_uid)
                if not isinstance(checked, Checked):
                    outcome.failed.append(checked)
                    continue
                name = f"part-{number}"
                named[name] = (checked.sop_class, checked.sop_uid)
                window = Window(fd, part.start, part.end - part.start, checked.prefix)
                files.append((name, cast(IO[bytes], window)))
        finally:
            if isinstance(body, mmap.mmap):
                body.close()
        if files:
            report = upload.upload(
                session,
                principal,
                files,
                storage=storage,
                indexer=indexer,
                facility_code=None,
                limits=limits,
            )
            refused = dict(report.refused)
            conflicts = dict(report.conflicts)
            for name, (sop_class, sop_uid) in named.items():
                if name in conflicts or name in refused:
                    why = refused.get(name) or conflicts[name]
                    outcome.failed.append((sop_class, sop_uid, PROCESSING_FAILURE, why))
                elif name in report.quarantined:
                    outcome.failed.append(
                        (sop_class, sop_uid, DUPLICATE_DIFFERS, "another object has this UID")
                    )
                else:
                    outcome.stored.append((sop_class, sop_uid))
            outcome.studies |= report.studies
    finally:
        os.close(fd)
    return outcome


@dataclass(frozen=True)
class Checked:
    """A part that reads as DICOM: its SOP class and instance, and the bytes to put before it
    to make it a PS3.10 file (none when it is one already)."""

    sop_class: str
    sop_uid: str
    prefix: bytes = b""


def _check(fd: int, part: Part, study_uid: str | None) -> Checked | tuple[str, str, int, str]:
    """A part that reads as DICOM, or its failed entry. Only the head (the file meta) is read,
    and the dataset up to the study UID when one was posted to."""
    if part.content_type not in ("application/dicom", ""):
        return ("", "", CANNOT_UNDERSTAND, f"a part of type {part.content_type[:60]} is not DICOM")
    head = os.pread(fd, min(HEAD, part.end - part.start), part.start)
    # pydicom's dcmwrite, as dicomweb-client calls it, writes a dataset made in memory with its
    # file meta information but without the 128-byte preamble and "DICM" (a FileDataset read
    # from a file keeps them). The meta group says all the preamble would: accept such a part.
    bare = head[:2] == FILE_META_GROUP and head[4:6].isalpha() and head[128:132] != b"DICM"
    prefix = PREAMBLE if bare else b""
    try:
        _syntax, sop_class, sop_uid, _offset = upload.split_part10(prefix + head)
    except MalformedDataset as exc:
        return ("", "", CANNOT_UNDERSTAND, str(exc)[:200])
    if study_uid is not None:
        try:
            ds = dcmread(
                Window(fd, part.start, part.end - part.start, prefix),
                stop_before_pixels=True,
                specific_tags=["StudyInstanceUID"],
            )
            found = str(ds.get("StudyInstanceUID", ""))
        except Exception:  # damaged: the upload's own parse says what is wrong
            found = study_uid
        if found != study_uid:
            return (sop_class, sop_uid, DOES_NOT_MATCH, "the instance belongs to another study")
    return Checked(sop_class, sop_uid, prefix)
