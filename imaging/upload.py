"""Studies uploaded over HTTP (DICOM Part 10 files, or a zip of them) instead of C-STORE.

Each file goes through the same checks, storage and indexing as an instance received by the
node; a bad file is refused with its reason and never stops the others.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, ValidationFailed
from hub.models import Facility, Role
from hub.permissions import CLINICAL_ROLES, require
from imaging.dicom.parse import MalformedDataset, parse
from imaging.index import DuplicateInstance, Indexer
from imaging.storage import Storage, file_meta, relative_path

UPLOADERS = CLINICAL_ROLES | {Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN}
MAX_MEMBERS = 20000
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_ARCHIVE_BYTES = 4 * 1024 * 1024 * 1024
UPLOAD_AE = "HTTP-UPLOAD"


@dataclass
class UploadReport:
    stored: int = 0
    duplicates: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    studies: set[str] = field(default_factory=set)


def split_part10(raw: bytes) -> tuple[str, str, str, bytes]:
    """(transfer syntax, SOP class, SOP instance, dataset bytes) of a DICOM Part 10 file."""
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
        return values[0x0010], values[0x0002], values[0x0003], raw[pos:]
    except KeyError:
        raise MalformedDataset("the file meta information lacks a required UID") from None


def _members(name: str, stream: IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """The files of an upload: the file itself, or each member of a zip."""
    head = stream.read(4)
    stream.seek(0)
    if head != b"PK\x03\x04":
        yield name, stream.read()
        return
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile:
        raise ValidationFailed("The zip archive is damaged.", details={"file": name}) from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_MEMBERS:
        raise ValidationFailed(f"A zip may hold at most {MAX_MEMBERS} files.")
    # Sizes are checked before anything is inflated (a zip bomb is refused, not unpacked).
    if sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES or any(
        i.file_size > MAX_MEMBER_BYTES for i in infos
    ):
        raise ValidationFailed("The zip archive is too large once unpacked.")
    for info in infos:
        if info.filename.upper().endswith("DICOMDIR"):
            continue
        try:
            yield f"{name}/{info.filename}", archive.read(info)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
            yield f"{name}/{info.filename}", f"ZIPERROR:{type(exc).__name__}".encode()


def upload(
    session: Session,
    principal: Principal,
    files: list[tuple[str, IO[bytes]]],
    *,
    storage: Storage,
    indexer: Indexer,
    facility_code: str | None,
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
    # Each instance commits on its own, as from the node; end the caller's transaction first
    # (SQLite has one writer, and this one would hold the lock through the whole upload).
    session.commit()
    report = UploadReport()
    for name, stream in files:
        for member, raw in _members(name, stream):
            _store_one(report, member, raw, storage, indexer, facility_id, principal)
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
            "studies": len(report.studies),
        },
    )
    return report


def _store_one(
    report: UploadReport,
    name: str,
    raw: bytes,
    storage: Storage,
    indexer: Indexer,
    facility_id: int,
    principal: Principal,
) -> None:
    if raw.startswith(b"ZIPERROR:"):
        report.refused.append((name, "cannot be read from the zip archive"))
        return
    try:
        syntax, sop_class, sop_uid, data = split_part10(raw)
        parsed = parse(data, syntax, sop_class_uid=sop_class, sop_instance_uid=sop_uid)
    except MalformedDataset as exc:
        report.refused.append((name, str(exc)))
        return
    relative = relative_path(parsed.study_uid, parsed.sop_instance_uid)
    meta = file_meta(sop_class, sop_uid, syntax)
    try:
        size = storage.write(relative, [meta, data])
    except OSError:
        report.refused.append((name, "could not be written"))
        return
    for attempt in (1, 2):
        try:
            indexer.add(parsed, relative, size, UPLOAD_AE, facility_id, principal=principal)
        except DuplicateInstance:
            storage.delete(relative)
            report.duplicates += 1
            report.studies.add(parsed.study_uid)
            return
        except IntegrityError:
            if attempt == 1:
                continue
            storage.delete(relative)
            report.refused.append((name, "could not be indexed"))
            return
        report.stored += 1
        report.studies.add(parsed.study_uid)
        return
