"""Retention (SEEDS 000): images are kept 5 years and reports 10, counted from the study date.

A study under legal hold is never touched. Index rows stay (with ``deleted_at``) so the record
of what existed survives; the files go. Each study's deletion is committed and audited before
its files are removed: a crash in between leaves unreferenced files, which the orphan sweep
deletes, never an index row pointing at nothing it does not know about. With
``HUB_CENTRAL_ARCHIVE_REST`` set, the same transaction queues the deletion of the central
archive's copies (imaging.archive.deletions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from hub import audit
from hub.auth.principal import SYSTEM
from hub.config import ImagingSettings
from hub.models import utcnow
from imaging.archive import deletions
from imaging.models import ForwardItem, ForwardState, Instance, InstanceKind, Study
from imaging.services import retention_dates
from imaging.storage import Storage, sweep_orphans


@dataclass
class Expiry:
    study_id: int
    study_instance_uid: str
    kind: InstanceKind
    kept_until: date
    instances: int
    size: int


@dataclass
class RetentionReport:
    dry_run: bool
    expired: list[Expiry] = field(default_factory=list)
    held: int = 0
    orphans_removed: int = 0

    @property
    def instances(self) -> int:
        return sum(e.instances for e in self.expired)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _candidates(session: Session, today: date, shortest_years: int) -> list[Study]:
    cutoff = _years_before(today, shortest_years)
    cutoff_at = datetime.combine(cutoff + timedelta(days=1), time.min, tzinfo=UTC)
    alive = select(Instance.study_id).where(Instance.deleted_at.is_(None))
    return list(
        session.scalars(
            select(Study)
            .where(
                or_(
                    Study.study_date <= cutoff,
                    and_(Study.study_date.is_(None), Study.received_at < cutoff_at),
                ),
                Study.id.in_(alive),
            )
            .order_by(Study.id)
        )
    )


def run(
    factory: sessionmaker[Session],
    storage: Storage,
    settings: ImagingSettings,
    *,
    today: date | None = None,
    dry_run: bool = False,
    sweep: bool = True,
) -> RetentionReport:
    """Delete (or, in a dry run, list) what retention allows to delete today."""
    today = today or utcnow().date()
    report = RetentionReport(dry_run=dry_run)
    with factory() as session:
        studies = _candidates(
            session, today, min(settings.image_retention_years, settings.report_retention_years)
        )
        study_ids = [s.id for s in studies]
    for study_id in study_ids:
        with factory() as session, session.begin():
            study = session.get_one(Study, study_id)
            if study.legal_hold:
                report.held += 1
                continue
            images_until, reports_until = retention_dates(
                study, settings.image_retention_years, settings.report_retention_years
            )
            doomed: list[tuple[InstanceKind, date]] = []
            if images_until is not None and today >= images_until:
                doomed.append((InstanceKind.IMAGE, images_until))
            if reports_until is not None and today >= reports_until:
                doomed.append((InstanceKind.REPORT, reports_until))
            files: list[str] = []
            for kind, until in doomed:
                rows = session.execute(
                    select(
                        Instance.id, Instance.path, Instance.size, Instance.sop_instance_uid
                    ).where(
                        Instance.study_id == study.id,
                        Instance.kind == kind,
                        Instance.deleted_at.is_(None),
                    )
                ).all()
                if not rows:
                    continue
                report.expired.append(
                    Expiry(
                        study.id,
                        study.study_instance_uid,
                        kind,
                        until,
                        len(rows),
                        sum(int(r[2]) for r in rows),
                    )
                )
                if dry_run:
                    continue
                ids = [r[0] for r in rows]
                files.extend(r[1] for r in rows if r[1])
                session.execute(
                    update(Instance)
                    .where(Instance.id.in_(ids))
                    .values(deleted_at=utcnow(), path=None)
                )
                # Nothing left to forward for these.
                session.execute(
                    update(ForwardItem)
                    .where(
                        ForwardItem.instance_id.in_(ids), ForwardItem.state == ForwardState.PENDING
                    )
                    .values(state=ForwardState.FAILED, last_error="deleted by retention")
                )
                if settings.central_archive_rest:
                    deletions.queue_deletion(session, study.id, [str(r[3]) for r in rows])
                audit.record(
                    session,
                    SYSTEM,
                    f"imaging:study:{kind.value}s_deleted",
                    object_type="study",
                    object_id=study.id,
                    details={
                        "instances": len(ids),
                        "kept_until": until.isoformat(),
                        "patient_id": study.patient_id,
                    },
                )
        for relative in files:
            storage.delete(relative)
    if not dry_run and sweep:
        with factory() as session:
            referenced = set(
                session.scalars(select(Instance.path).where(Instance.path.is_not(None)))
            )
        report.orphans_removed = len(sweep_orphans(storage, {str(p) for p in referenced}))
    if dry_run:
        with factory() as session, session.begin():
            audit.record(
                session,
                SYSTEM,
                "imaging:retention:dry_run",
                object_type="study",
                details={
                    "studies": len({e.study_id for e in report.expired}),
                    "instances": report.instances,
                },
            )
    return report
