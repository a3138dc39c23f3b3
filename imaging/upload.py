"""Studies uploaded over HTTP (DICOM Part 10 files, or a zip of them) instead of C-STORE.

Each file goes through the same checks, storage and indexing as an instance received by the
node; a bad file is refused with its reason and never stops the others. Zip members are never
held in memory: each is spooled to a temporary file as it is inflated, its bytes counted
against the upload's budget (``HUB_UPLOAD_MAX_EXPANDED_BYTES``, ``HUB_UPLOAD_MAX_RATIO``),
then read through a mapping (only element headers are touched) and copied into storage by the
kernel.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from hub.errors import AccessDenied, ValidationFailed
from hub.models import Facility, Role
from hub.permissions import CLINICAL_ROLES, require
from imaging import quarantine
from imaging.dicom.parse import MalformedDataset, Parsed, parse
from imaging.index import DuplicateInstance, ForeignInstance, Indexer
from imaging.storage import Chunk, Storage, file_meta, relative_path

UPLOADERS = CLINICAL_ROLES | {Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN}
MAX_MEMBER_BYTES = 512 * 1024 * 1024
# A small upload may always expand this much, whatever the ratio (tiny zips of small,
# regular test images compress far better than studies do).
RATIO_FLOOR_BYTES = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
UPLOAD_AE = "HTTP-UPLOAD"
ZIP_MAGIC = b"PK\x03\x04"
NESTED = "a zip inside the zip archive is not unpacked"


@dataclass
class UploadReport:
    stored: int = 0
    duplicates: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    studies: set[str] = field(default_factory=set)
    # Files refused because they name another facility's or another patient's study.
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    # Set when a zip went beyond the upload's budget: its remaining members were not read.
    over_budget: str | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    """What one upload may expand to (from the settings, and the upload's own size)."""

    max_expanded: int
    max_ratio: int
    max_members: int

    @classmethod
    def from_settings(cls, settings: ImagingSettings) -> Limits:
        return cls(
            settings.upload_max_expanded_bytes,
            settings.upload_max_ratio,
            settings.upload_max_members,
        )


class OverBudget(Exception):
    """The upload's zips expand beyond what it may (the message says which limit)."""


class _Budget:
    """Expanded bytes counted as they are read, against both limits."""

    def __init__(self, limits: Limits, upload_bytes: int) -> None:
        self.total = 0
        by_ratio = max(limits.max_ratio * upload_bytes, RATIO_FLOOR_BYTES)
        self.limit = min(limits.max_expanded, by_ratio)
        self.by_ratio = by_ratio < limits.max_expanded

    def take(self, count: int) -> None:
        self.total += count
        if self.total > self.limit:
            if self.by_ratio:
                raise OverBudget("The zip archive expands too much for its size.")
            raise OverBudget("The zip archive is too large once unpacked.")


@dataclass
class _Spooled:
    """A file of the upload on disk, mapped for reading."""

    fd: int
    size: int
    view: mmap.mmap | None


def split_part10(raw: bytes | mmap.mmap) -> tuple[str, str, str, int]:
    """(transfer syntax, SOP class, SOP instance, dataset offset) of a DICOM Part 10 file."""
    if len(raw) < 132 or raw[128:132] != b"DICM":
        raise MalformedDataset("not a DICOM file (no DICM prefix)")
    pos, values = 132, {}
    while pos + 8 <= len(raw):
        group, elem = struct.unpack_from("<HH", raw, pos)
        if group != 0x0002:
            break
        vr = raw[pos + 4 : pos + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN"):
            if pos + 12 > len(raw):
                raise MalformedDataset("the file meta information is cut off")
            length = struct.unpack_from("<I", raw, pos + 8)[0]
            start = pos + 12
        else:
            length = struct.unpack_from("<H", raw, pos + 6)[0]
            start = pos + 8
        if start + length > len(raw):
            raise MalformedDataset("the file meta information is cut off")
        values[elem] = raw[start : start + length].rstrip(b"\0 ").decode("ascii", "replace")
        pos = start + length
    try:
        return values[0x0010], values[0x0002], values[0x0003], pos
    except KeyError:
        raise MalformedDataset("the file meta information lacks a required UID") from None


def _spool(source: IO[bytes], spool_dir: Path, budget: _Budget | None, cap: int) -> _Spooled:
    """Copy ``source`` to an unnamed temporary file, counting bytes as they come."""
    handle = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 (closed by _close)
    fd = os.dup(handle.fileno())
    handle.close()
    try:
        size = 0
        while chunk := source.read(READ_CHUNK):
            size += len(chunk)
            if budget is not None:
                budget.take(len(chunk))
            if size > cap:
                raise OverBudget("A file of the zip archive is too large once unpacked.")
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        mapped = mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else None
    except BaseException:
        os.close(fd)
        raise
    return _Spooled(fd, size, mapped)


def _close(spooled: _Spooled) -> None:
    if spooled.view is not None:
        spooled.view.close()
    os.close(spooled.fd)


def _members(
    name: str,
    stream: IO[bytes],
    spool_dir: Path,
    limits: Limits,
    report: UploadReport,
) -> Iterator[tuple[str, _Spooled | str]]:
    """The files of an upload (spooled), or the reason one cannot be read."""
    stream.seek(0, os.SEEK_END)
    upload_bytes = stream.tell()
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head != ZIP_MAGIC:
        # Bounded by the request's size limit; spooled all the same, as zip members are.
        yield name, _spool(stream, spool_dir, None, MAX_MEMBER_BYTES)
        return
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ValidationFailed("The zip archive is damaged.", details={"file": name}) from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > limits.max_members:
        raise ValidationFailed(
            f"A zip may hold at most {limits.max_members} files.",
            details={"file": name, "members": len(infos)},
        )
    budget = _Budget(limits, upload_bytes)
    for position, info in enumerate(infos):
        member = f"{name}/{info.filename}"
        if info.filename.upper().endswith("DICOMDIR"):
            continue
        if info.filename.lower().endswith(".zip"):
            yield member, NESTED
            continue
        try:
            with archive.open(info) as source:
                spooled = _spool(source, spool_dir, budget, MAX_MEMBER_BYTES)
        except OverBudget as exc:
            # Nothing further of this archive is read; what was stored stays stored.
            report.over_budget = str(exc)
            for rest in infos[position:]:
                report.refused.append((f"{name}/{rest.filename}", "not unpacked: " + str(exc)))
            return
        except (
            zipfile.BadZipFile,
            OSError,
            RuntimeError,
            EOFError,
            ValueError,
            NotImplementedError,
        ):
            # Damaged, encrypted or compressed with a method zipfile lacks.
            yield member, "cannot be read from the zip archive"
            continue
        if spooled.view is not None and spooled.view[:4] == ZIP_MAGIC:
            _close(spooled)
            yield member, NESTED
            continue
        yield member, spooled


def upload(
    session: Session,
    principal: Principal,
    files: list[tuple[str, IO[bytes]]],
    *,
    storage: Storage,
    indexer: Indexer,
    facility_code: str | None,
    limits: Limits | None = None,
) -> UploadReport:
    """Store and index uploaded files for the caller's facility (or ``facility_code``)."""
    action = "imaging:instances:uploaded"
    require(principal, "imaging:write", roles=UPLOADERS, action=action)
    facility_id = principal.facility_id
    if facility_code:
        facility = session.scalar(select(Facility).where(Facility.code == facility_code))
        if facility is None:
            raise ValidationFailed("Unknown facility.", details={"facility": facility_code})
        if facility.id != principal.facility_id and not principal.has_role(Role.NATIONAL_ADMIN):
            raise AccessDenied(
                "You can upload only for your own facility.",
                action=action,
                object_type="facility",
                object_id=facility.id,
            )
        facility_id = facility.id
    if facility_id is None:
        raise ValidationFailed(
            "Say which facility the images come from.", details={"facility": "required"}
        )
    if not files:
        raise ValidationFailed("No file was uploaded.", details={"files": "required"})
    limits = limits or Limits.from_settings(ImagingSettings())
    # Each instance commits on its own, as from the node; end the caller's transaction first
    # (SQLite has one writer, and this one would hold the lock through the whole upload).
    session.commit()
    report = UploadReport()
    spool_dir = storage.root / "incoming"
    spool_dir.mkdir(parents=True, exist_ok=True)
    for name, stream in files:
        for member, spooled in _members(name, stream, spool_dir, limits, report):
            if isinstance(spooled, str):
                report.refused.append((member, spooled))
                continue
            try:
                _store_one(report, member, spooled, storage, indexer, facility_id, principal)
            finally:
                _close(spooled)
    audit.record(
        session,
        principal,
        action,
        object_type="facility",
        object_id=facility_id,
        details={
            "stored": report.stored,
            "duplicates": report.duplicates,
            "refused": len(report.refused),
            "conflicts": len(report.conflicts),
            "quarantined": len(report.quarantined),
            "studies": len(report.studies),
        },
    )
    return report


def _store_one(
    report: UploadReport,
    name: str,
    spooled: _Spooled,
    storage: Storage,
    indexer: Indexer,
    facility_id: int,
    principal: Principal,
) -> None:
    if spooled.view is None:
        report.refused.append((name, "not a DICOM file (no DICM prefix)"))
        return
    try:
        syntax, sop_class, sop_uid, offset = split_part10(spooled.view)
        parsed = parse(
            spooled.view, syntax, sop_class_uid=sop_class, sop_instance_uid=sop_uid, offset=offset
        )
    except MalformedDataset as exc:
        report.refused.append((name, str(exc)))
        return
    relative = relative_path(parsed.study_uid, parsed.sop_instance_uid)
    meta = file_meta(sop_class, sop_uid, syntax)
    try:
        size = storage.copy_from(relative, meta, spooled.fd, offset, spooled.size - offset)
    except OSError:
        report.refused.append((name, "could not be written"))
        return
    for attempt in (1, 2):
        try:
            indexer.add(parsed, relative, size, UPLOAD_AE, facility_id, principal=principal)
        except DuplicateInstance:
            storage.delete(relative)
            body = memoryview(spooled.view)[offset:]
            try:
                _duplicate(
                    report, name, parsed, [meta, body], storage, indexer, facility_id, principal
                )
            finally:
                body.release()  # the mapping cannot close while a view of it is alive
            return
        except ForeignInstance as exc:
            storage.delete(relative)
            report.conflicts.append((name, exc.code))
            report.refused.append((name, exc.comment))
            return
        except IntegrityError:
            if attempt == 1:
                continue
            storage.delete(relative)
            report.refused.append((name, "could not be indexed"))
            return
        except BaseException:
            storage.delete(relative)
            raise
        report.stored += 1
        report.studies.add(parsed.study_uid)
        if parsed.problems:
            report.problems[name] = list(parsed.problems)
        return


def _duplicate(
    report: UploadReport,
    name: str,
    parsed: Parsed,
    chunks: list[Chunk],
    storage: Storage,
    indexer: Indexer,
    facility_id: int,
    principal: Principal,
) -> None:
    try:
        found = quarantine.resolve(
            indexer,
            storage,
            parsed,
            chunks,
            calling_ae=UPLOAD_AE,
            facility_id=facility_id,
            principal=principal,
        )
    except OSError:
        report.refused.append((name, "could not be written"))
        return
    if found is quarantine.Duplicate.QUARANTINED:
        report.quarantined.append(name)
    elif found in (quarantine.Duplicate.WITHDRAWN, quarantine.Duplicate.DAMAGED):
        report.refused.append((name, "the stored copy is damaged"))
    else:
        report.duplicates += 1
        report.studies.add(parsed.study_uid)
