"""Delivering a study's dose SRs and its KOS to the national dose node (outbox handler).

Each object the node answers success for is recorded in ``dose_node_send.delivered`` and never
sent again. A node that is down or busy leaves the study's progress recorded and queues a new
outbox message after a backoff, rather than failing this one (a failed outbox message would
roll back the progress with it); a node that refuses an object leaves the study ``refused``
with the node's status and comment, for a person to look at. The study's row is locked while
it is sent, so two workers never send the same study at once.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, outbox
from hub.auth.principal import SYSTEM
from hub.config import ImagingSettings
from hub.models import utcnow
from imaging.archive.dose_node import NationalDoseNode
from imaging.archive.errors import ArchiveError, ArchiveUnavailable
from imaging.dose import kos
from imaging.dose.models import DoseReport, NodeSend, NodeState, ReportState
from imaging.dose.node import TOPIC
from imaging.models import Instance, InstanceKind, Series

log = logging.getLogger("imaging.dose.sending")
KOS_DIR = "dose-kos"
MAX_BACKOFF = timedelta(minutes=30)
_STATUS = re.compile(r"status 0x([0-9A-Fa-f]{4})\s*(.*)$")


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 11)))


def kos_path(settings: ImagingSettings, sop_instance_uid: str) -> Path:
    assert settings.storage_dir is not None
    return Path(settings.storage_dir) / KOS_DIR / f"{sop_instance_uid}.dcm"


def _objects(session: Session, study_id: int) -> tuple[list[tuple[str, str, str, str]], list[Any]]:
    """The study's dose SRs as (path, class, uid, syntax), and its images for the KOS."""
    reports = session.execute(
        select(
            Instance.path,
            Instance.sop_class_uid,
            Instance.sop_instance_uid,
            Instance.transfer_syntax_uid,
        )
        .join(DoseReport, DoseReport.instance_id == Instance.id)
        .where(
            DoseReport.study_id == study_id,
            DoseReport.state == ReportState.READ,
            Instance.path.is_not(None),
        )
        .order_by(Instance.id)
    ).all()
    images = session.execute(
        select(Instance.sop_class_uid, Instance.sop_instance_uid, Series.series_instance_uid)
        .join(Series, Series.id == Instance.series_id)
        .where(Instance.study_id == study_id, Instance.kind == InstanceKind.IMAGE)
        .order_by(Instance.id)
    ).all()
    return [tuple(r) for r in reports], list(images)  # type: ignore[misc]


def deliver(session: Session, payload: dict[str, Any]) -> None:
    """Outbox handler of ``TOPIC``: send what the node does not have yet of one study."""
    settings: ImagingSettings = current_app.config["HUB_SETTINGS"].imaging
    if settings.national_dose_node is None:
        raise outbox.PermanentError("HUB_NATIONAL_DOSE_NODE is no longer set")
    stmt = select(NodeSend).where(NodeSend.study_id == int(payload["study_id"]))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None or row.state in (NodeState.ACCEPTED, NodeState.REFUSED):
        return  # nothing left to send, or waiting for a person
    send_study(session, row, settings, NationalDoseNode.from_settings(settings))


def send_study(
    session: Session, row: NodeSend, settings: ImagingSettings, node: NationalDoseNode
) -> None:
    """Send the study's undelivered dose SRs, then its KOS; record each outcome on ``row``."""
    assert settings.storage_dir is not None
    root = Path(settings.storage_dir)
    reports, images = _objects(session, row.study_id)
    if not reports:
        row.state, row.comment = NodeState.REFUSED, "the study has no readable dose report"
        return
    path = kos_path(settings, row.kos_sop_instance_uid)
    if not path.exists():
        document = kos.build(
            [root / r[0] for r in reports],
            [kos.Reference(*image) for image in images],
            sop_instance_uid=row.kos_sop_instance_uid,
            series_instance_uid=row.kos_series_instance_uid,
            manufacturer="Telemedicine hub",
        )
        kos.write(document, path)
    kos_class = "1.2.840.10008.5.1.4.1.1.88.59"
    objects = [(root / p, c, u, ts) for p, c, u, ts in reports]
    objects.append((path, kos_class, row.kos_sop_instance_uid, "1.2.840.10008.1.2.1"))
    delivered = list(row.delivered or [])
    pending = [o for o in objects if o[2] not in delivered]
    row.attempts += 1
    row.updated_at = utcnow()
    try:
        with node.store(sorted({(o[1], o[3]) for o in pending})) as connection:
            for number, (file, sop_class, sop_uid, syntax) in enumerate(pending, 1):
                if not connection.accepts(sop_class, syntax):
                    _refused(row, None, f"the node accepts no context for {sop_class}")
                    break
                refused = connection.send(file, sop_class, sop_uid, syntax, number)
                if refused is None:
                    delivered.append(sop_uid)
                    row.delivered = list(delivered)  # a new list: JSON columns track assignment
                    continue
                if not refused.permanent:
                    raise ArchiveUnavailable(str(refused))
                match = _STATUS.search(str(refused))
                status = int(match.group(1), 16) if match else None
                _refused(row, status, (match.group(2) if match else str(refused)) or None)
                break
    except ArchiveError as exc:
        # Down, busy or lost mid-send: keep what was delivered and try again later.
        row.comment = str(exc)[:2000]
        row.state = NodeState.SENT if delivered else NodeState.LOCAL
        outbox.add(session, TOPIC, {"study_id": row.study_id}, utcnow() + backoff(row.attempts))
        log.warning("the national dose node did not take a study now: %s", exc)
        return
    if row.state is NodeState.REFUSED:
        _audit(session, row, "imaging:dose:node_refused")
        return
    if all(o[2] in delivered for o in objects):
        row.state, row.comment, row.status = NodeState.ACCEPTED, None, None
        row.accepted_at = utcnow()
        _audit(session, row, "imaging:dose:node_accepted")
    else:
        row.state = NodeState.SENT


def _refused(row: NodeSend, status: int | None, comment: str | None) -> None:
    row.state = NodeState.REFUSED
    row.status = status
    row.comment = comment[:2000] if comment else None


def _audit(session: Session, row: NodeSend, action: str) -> None:
    audit.record(
        session,
        SYSTEM,
        action,
        object_type="study",
        object_id=row.study_id,
        details={
            "kos_sop_instance_uid": row.kos_sop_instance_uid,
            "delivered": len(row.delivered or []),
            "status": row.status,
        },
    )
