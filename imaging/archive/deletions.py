"""Deleting expired instances from the central archive (SEEDS 000 retention, "configurably").

DICOM has no delete, so the archive's REST API does it (:meth:`CentralArchive.delete`).
Retention queues one outbox message per study in the same transaction that marks its
instances deleted, so a deletion is never forgotten and is retried while the archive is down.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from hub import audit, outbox
from hub.auth.principal import SYSTEM
from imaging.archive.central import CentralArchive
from imaging.archive.errors import ArchiveError

TOPIC = "imaging.archive_delete"


def queue_deletion(session: Session, study_id: int, sop_instance_uids: list[str]) -> None:
    """In the retention transaction: delete these from the central archive too."""
    outbox.add(session, TOPIC, {"study_id": study_id, "sop_instance_uids": sop_instance_uids})


def deliver(session: Session, payload: dict[str, Any]) -> None:
    """Outbox handler of ``TOPIC``: delete expired copies from the central archive."""
    settings = current_app.config["HUB_SETTINGS"].imaging
    if settings.central_archive_rest is None:
        raise outbox.PermanentError("HUB_CENTRAL_ARCHIVE_REST is no longer set")
    archive = CentralArchive.from_settings(settings)
    try:
        # Deleting an instance twice is harmless: a retry after a partial run skips what is gone.
        deleted = sum(archive.delete(uid) for uid in payload["sop_instance_uids"])
    except ArchiveError as exc:
        if exc.permanent:
            raise outbox.PermanentError(str(exc)) from None
        raise outbox.RetryableError(str(exc)) from None
    audit.record(
        session,
        SYSTEM,
        "imaging:archive:instances_deleted",
        object_type="study",
        object_id=payload["study_id"],
        details={"asked": len(payload["sop_instance_uids"]), "deleted": deleted},
    )
