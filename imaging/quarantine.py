"""A second object under a SOP Instance UID already stored: the same bytes are a harmless
resend; other content is kept aside (file and row) for a person to look at, never dropped and
never put in place of the stored instance.

Every path that indexes instances (the node, uploads, retrieval) answers a duplicate here.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
from collections.abc import Sequence

from sqlalchemy import select

from hub import audit
from hub.auth.principal import Principal
from imaging.dicom.parse import Parsed
from imaging.index import Indexer, node_principal
from imaging.models import Quarantined, QuarantineReason
from imaging.storage import Chunk, Storage

log = logging.getLogger("imaging.quarantine")
READ_CHUNK = 1024 * 1024
# Quarantined files are named so that the orphan sweep (``*.dcm``) never takes them.
SUFFIX = ".quarantined"


class Duplicate(enum.Enum):
    IDENTICAL = "identical"  # the same object again: nothing to do
    RESTORED = "restored"  # it replaced a stored copy left short by a crash
    DELETED = "deleted"  # its stored file was removed by retention, as intended
    QUARANTINED = "quarantined"  # other content: kept aside for a person
    DAMAGED = "damaged"  # the stored copy is damaged and this one differs in size
    WITHDRAWN = "withdrawn"  # its row was taken back meanwhile: nothing is stored


def _digest(chunks: Sequence[Chunk]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _same_bytes(storage: Storage, relative: str, chunks: Sequence[Chunk]) -> bool:
    """Whether the stored file holds exactly ``chunks`` (compared piece by piece)."""
    with storage.full(relative).open("rb") as stored:
        for chunk in chunks:
            view = memoryview(chunk)
            for start in range(0, len(view), READ_CHUNK):
                part = view[start : start + READ_CHUNK]
                if stored.read(len(part)) != part:
                    return False
        return stored.read(1) == b""


def resolve(
    indexer: Indexer,
    storage: Storage,
    parsed: Parsed,
    chunks: Sequence[Chunk],
    *,
    calling_ae: str,
    facility_id: int,
    principal: Principal | None = None,
) -> Duplicate:
    """What to make of an instance whose SOP Instance UID is indexed already."""
    stored = indexer.stored_instance(parsed.sop_instance_uid)
    if stored is None:
        return Duplicate.WITHDRAWN
    instance_id, relative, size = stored
    if relative is None:
        return Duplicate.DELETED
    if not storage.intact(relative, size):
        # A copy left short by a crash during its flush (the row had committed, the sender
        # was never answered) is replaced by this one, if it is the size indexed.
        if sum(len(chunk) for chunk in chunks) != size:
            return Duplicate.DAMAGED
        storage.restore(relative, list(chunks))
        return Duplicate.RESTORED
    if _same_bytes(storage, relative, chunks):
        return Duplicate.IDENTICAL
    keep(
        indexer,
        storage,
        parsed,
        chunks,
        instance_id=instance_id,
        calling_ae=calling_ae,
        facility_id=facility_id,
        principal=principal,
    )
    return Duplicate.QUARANTINED


def keep(
    indexer: Indexer,
    storage: Storage,
    parsed: Parsed,
    chunks: Sequence[Chunk],
    *,
    instance_id: int | None,
    calling_ae: str,
    facility_id: int,
    principal: Principal | None,
) -> Quarantined:
    """Store the object under ``quarantine/`` with its row (once per distinct content)."""
    digest = _digest(chunks)
    with indexer.session_factory() as session:
        found = session.scalar(
            select(Quarantined).where(
                Quarantined.sop_instance_uid == parsed.sop_instance_uid,
                Quarantined.sha256 == digest,
                Quarantined.resolved_at.is_(None),
            )
        )
        if found is not None:
            return found  # the sender tried again: one copy is enough
        relative = f"quarantine/{digest[:2]}/{digest[:32]}.{secrets.token_hex(4)}{SUFFIX}"
        size = storage.write(relative, list(chunks))
        row = Quarantined(
            reason=QuarantineReason.DUPLICATE_DIFFERS,
            facility_id=facility_id,
            instance_id=instance_id,
            sop_instance_uid=parsed.sop_instance_uid,
            study_instance_uid=parsed.study_uid,
            calling_ae=calling_ae[:16],
            path=relative,
            size=size,
            sha256=digest,
        )
        session.add(row)
        try:
            session.flush()
            audit.record(
                session,
                principal or node_principal(calling_ae, facility_id),
                "imaging:instance:quarantined",
                object_type="quarantine",
                object_id=row.id,
                details={
                    "reason": row.reason.value,
                    "instance_id": instance_id,
                    "facility_id": facility_id,
                    "calling_ae": calling_ae,
                },
            )
            session.commit()
        except BaseException:
            session.rollback()
            storage.delete(relative)
            raise
    log.warning(
        "kept a different object under a stored SOP Instance UID from %s in quarantine (%d)",
        calling_ae,
        row.id,
    )
    return row
