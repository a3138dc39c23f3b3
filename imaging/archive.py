"""Deleting expired instances from the central archive (SEEDS 000 retention, "configurably").

DICOM has no delete, so this speaks the archive's REST API (Orthanc's: look an instance up by
its SOP Instance UID, then delete it). Retention queues one outbox message per study in the
same transaction that marks its instances deleted, so a deletion is never forgotten and is
retried while the archive is down.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from hub import audit, outbox
from hub.auth.principal import SYSTEM

log = logging.getLogger("imaging.archive")
TOPIC = "imaging.archive_delete"
TIMEOUT = 30


class OrthancRest:
    """The few calls retention needs; errors say whether retrying can help, never the URL
    (it may carry credentials)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def _call(self, method: str, path: str, body: bytes | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (http/https checked by the settings)
            self.base + path, data=body, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code >= 500 or exc.code == 429:
                raise outbox.RetryableError(f"archive answered {exc.code}") from None
            raise outbox.PermanentError(f"archive refused {method}: {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise outbox.RetryableError(f"archive unreachable ({type(exc).__name__})") from None
        return json.loads(raw) if raw else None

    def delete_instance(self, sop_instance_uid: str) -> bool:
        """Delete the instance if the archive holds it; True when something was deleted."""
        found = self._call("POST", "/tools/lookup", sop_instance_uid.encode("ascii")) or []
        deleted = False
        for match in found:
            if match.get("Type") == "Instance":
                ident = urllib.parse.quote(str(match["ID"]), safe="")
                self._call("DELETE", f"/instances/{ident}")
                deleted = True
        return deleted


def queue_deletion(session: Session, study_id: int, sop_instance_uids: list[str]) -> None:
    """In the retention transaction: delete these from the central archive too."""
    outbox.add(session, TOPIC, {"study_id": study_id, "sop_instance_uids": sop_instance_uids})


@outbox.handler(TOPIC)
def deliver(session: Session, payload: dict[str, Any]) -> None:
    base = current_app.config["HUB_SETTINGS"].imaging.central_archive_rest
    if base is None:
        raise outbox.PermanentError("HUB_CENTRAL_ARCHIVE_REST is no longer set")
    archive = OrthancRest(base)
    # Deleting an instance twice is harmless: a retry after a partial run skips what is gone.
    deleted = sum(archive.delete_instance(uid) for uid in payload["sop_instance_uids"])
    audit.record(
        session,
        SYSTEM,
        "imaging:archive:instances_deleted",
        object_type="study",
        object_id=payload["study_id"],
        details={"asked": len(payload["sop_instance_uids"]), "deleted": deleted},
    )
