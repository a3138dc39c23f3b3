"""Retention of recordings: a recording is part of the consult's record (SEEDS 001) and kept
until its ``retain_until`` (HUB_RECORDING_RETENTION_YEARS, at least 10); then its file goes.

As for imaging, each deletion is committed and audited before the file is removed: a crash in
between leaves a file nothing points to, never a row pointing at nothing. The row stays.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import audit
from hub.auth.principal import SYSTEM
from hub.config import VideoSettings
from hub.models import utcnow
from video import storage
from video.models import VideoRecording


def expired(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(VideoRecording.id).where(
                VideoRecording.retain_until.is_not(None),
                VideoRecording.retain_until <= now,
                VideoRecording.deleted_at.is_(None),
            )
        )
    )


def sweep(
    factory: sessionmaker[Session], settings: VideoSettings, now: datetime | None = None
) -> int:
    """Delete the files of recordings past their retention date; returns how many."""
    now = now or utcnow()
    with factory() as session:
        ids = expired(session, now)
    done = 0
    for recording_id in ids:
        with factory() as session, session.begin():
            row = session.get(VideoRecording, recording_id, with_for_update=True)
            if row is None or row.deleted_at is not None:
                continue  # another worker was first
            row.deleted_at = utcnow()
            path = storage.path_of(settings, row)
            audit.record(
                session,
                SYSTEM,
                "video:recording:deleted",
                object_type="consult",
                object_id=row.consult_id,
                details={
                    "recording": row.id,
                    "kept_until": row.retain_until.isoformat() if row.retain_until else None,
                },
            )
        path.unlink(missing_ok=True)
        done += 1
    return done
