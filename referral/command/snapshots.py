"""Nightly progress snapshots: each day's figures of every region and university, kept so the
national secretariat can follow progress over time even as live data changes. Taking a day's
snapshot again replaces that day's rows (idempotent per day)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import SYSTEM, Principal
from hub.models import MacroRegion, utcnow
from referral.command import progress
from referral.command.monitoring_models import ProgressSnapshot


def _upsert(
    session: Session,
    existing: dict[str, ProgressSnapshot],
    day: date,
    key: str,
    region_id: int,
    university_id: int | None,
    figures: progress.Figures,
) -> None:
    row = existing.get(key)
    if row is None:
        row = ProgressSnapshot(day=day, scope_key=key, region_id=region_id)
        session.add(row)
    row.university_id = university_id
    row.figures = figures.as_dict()
    row.created_at = utcnow()


def take(session: Session, day: date, principal: Principal = SYSTEM) -> int:
    """Snapshot ``day`` (a UTC day) for every region and university; returns the rows kept."""
    start, end = progress.bounds(day, day)
    codes = progress.specialty_codes(session)
    existing = {
        row.scope_key: row
        for row in session.scalars(select(ProgressSnapshot).where(ProgressSnapshot.day == day))
    }
    kept = 0
    for region in session.scalars(select(MacroRegion).order_by(MacroRegion.number)):
        found = progress.region_progress(session, region, start, end, codes)
        _upsert(session, existing, day, f"region:{region.id}", region.id, None, found.figures)
        kept += 1
        for uni in found.universities:
            key = f"university:{uni.university_id}"
            _upsert(session, existing, day, key, region.id, uni.university_id, uni.figures)
            kept += 1
    session.flush()
    audit.record(
        session,
        principal,
        "command:progress:snapshot",
        object_type="progress_snapshot",
        object_id=day.isoformat(),
        details={"rows": kept},
    )
    return kept


def take_missing(session: Session, today: date | None = None) -> int:
    """The beat's job: yesterday's snapshot, unless it was already taken (runs hourly, so a
    night the workers were down is caught up the next hour they run)."""
    day = (today or utcnow().date()) - timedelta(days=1)
    if session.scalar(select(ProgressSnapshot.id).where(ProgressSnapshot.day == day).limit(1)):
        return 0
    return take(session, day)


def history(session: Session, region_id: int, first: date, last: date) -> list[ProgressSnapshot]:
    """A region's own snapshots (not its universities') between two days, oldest first."""
    return list(
        session.scalars(
            select(ProgressSnapshot)
            .where(
                ProgressSnapshot.scope_key == f"region:{region_id}",
                ProgressSnapshot.day >= first,
                ProgressSnapshot.day <= last,
            )
            .order_by(ProgressSnapshot.day)
        )
    )
