"""Indexing a received dose document, in the transaction that indexes its instance.

The indexer calls :meth:`DoseIntake.take` for instances of the SR classes that carry dose
reports, once the file is durable and before the instance's rows commit: the dose rows (or
the document's refusal with its reason) and the study's queued sending to the national node
commit with the instance, or not at all. A dose document that cannot be read never refuses the
instance itself, nor the study's other instances: the instance is stored as received, and the
refusal is recorded beside it.

Each irradiation event counts once per study (its Irradiation Event UID): a second document
naming events already counted adds only its new ones to the study's totals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from imaging.dose import parse
from imaging.dose.models import DoseEvent, DoseReport, ReportState
from imaging.dose.node import queue_study

log = logging.getLogger("imaging.dose")

# The totals a document adds to its study, by report column and event column.
_COUNTED = (
    ("ct_dlp_mgycm", "dlp_mgycm"),
    ("dap_gym2", "dap_gym2"),
    ("agd_mgy", "agd_mgy"),
    ("dose_rp_gy", "dose_rp_gy"),
)


def is_candidate(sop_class_uid: str) -> bool:
    """Whether an instance of this class may be a dose document (read when indexed)."""
    return sop_class_uid in parse.DOSE_CLASSES


@dataclass(frozen=True)
class DoseIntake:
    """What the indexer needs to read dose documents: where files are, and whether the
    national dose node is configured (then each dose study is queued for it)."""

    storage_root: Path
    national_node: bool = False

    def take(
        self,
        session: Session,
        instance_id: int,
        study_id: int,
        relative_path: str,
        principal: Principal,
        sop_class_uid: str,
        sop_instance_uid: str,
    ) -> DoseReport | None:
        """Index the instance's dose document; never raises (the instance is kept)."""
        try:
            with session.begin_nested():
                return index_document(
                    session,
                    principal,
                    instance_id,
                    study_id,
                    self.storage_root / relative_path,
                    sop_class_uid,
                    sop_instance_uid,
                    national_node=self.national_node,
                )
        except Exception as exc:
            # Only the type: a database error's text carries row values.
            log.error("cannot index a dose document: %s", type(exc).__name__)
            return None


def dose_intake(settings: ImagingSettings) -> DoseIntake | None:
    """The intake for the configured storage (None without one: nothing to read from)."""
    if settings.storage_dir is None:
        return None
    return DoseIntake(Path(settings.storage_dir), settings.national_dose_node is not None)


def index_document(
    session: Session,
    principal: Principal,
    instance_id: int,
    study_id: int,
    path: Path,
    sop_class_uid: str,
    sop_instance_uid: str,
    *,
    national_node: bool = False,
) -> DoseReport | None:
    """Read one stored dose document into the dose index; None when it is no dose document
    (an ordinary structured report); a refused :class:`DoseReport` when it cannot be read."""
    try:
        facts = parse.read_file(path)
    except parse.NotADoseReport as exc:
        reason = str(exc)
        if "not an X-Ray Radiation Dose Report" in reason and sop_class_uid != parse.RDSR_CLASS:
            return None  # an Enhanced or Comprehensive SR that reports something else
        row = DoseReport(
            instance_id=instance_id,
            study_id=study_id,
            sop_instance_uid=sop_instance_uid,
            state=ReportState.REFUSED,
            reason=reason,
        )
        session.add(row)
        session.flush()
        _audit(session, principal, row)
        return row
    row = DoseReport(
        instance_id=instance_id,
        study_id=study_id,
        sop_instance_uid=facts.sop_instance_uid,
        state=ReportState.READ,
        template=facts.template,
        modality=facts.modality,
        manufacturer=_cut(facts.manufacturer),
        model=_cut(facts.model),
        serial=_cut(facts.serial),
        station=_cut(facts.station),
        events_declared=facts.events_declared,
        ct_dlp_mgycm=facts.ct_dlp_mgycm,
        dap_gym2=facts.dap_gym2,
        agd_mgy=facts.agd_mgy,
        dose_rp_gy=facts.dose_rp_gy,
        fluoro_time_s=facts.fluoro_time_s,
        problems="; ".join(facts.problems)[:2000] or None,
    )
    session.add(row)
    session.flush()
    known = set(
        session.scalars(
            select(DoseEvent.irradiation_event_uid).where(
                DoseEvent.study_id == study_id, DoseEvent.irradiation_event_uid.is_not(None)
            )
        )
    )
    new: list[parse.Event] = []
    for event in facts.events:
        uid = event.uid if event.uid and len(event.uid) <= 64 else None
        if uid is not None and uid in known:
            row.duplicate_events += 1
            continue
        if uid is not None:
            known.add(uid)
        new.append(event)
        session.add(_event_row(row, study_id, uid, event))
    for total, per_event in _COUNTED:
        if row.duplicate_events == 0:
            counted = getattr(facts, total)
        else:
            values = [getattr(e, per_event) for e in new if getattr(e, per_event) is not None]
            counted = sum(values) if values else None
        setattr(row, f"counted_{total}", counted)
    session.flush()
    if national_node:
        queue_study(session, study_id)
    _audit(session, principal, row)
    return row


def _event_row(report: DoseReport, study_id: int, uid: str | None, e: parse.Event) -> DoseEvent:
    return DoseEvent(
        report_id=report.id,
        study_id=study_id,
        irradiation_event_uid=uid,
        kind=e.kind,
        started=_cut(e.started, 32),
        protocol=_cut(e.protocol, 255),
        target_region=_cut(e.target_region, 128),
        target_region_code=_cut(e.target_region_code),
        acquisition_type=_cut(e.acquisition_type),
        ctdivol_mgy=e.ctdivol_mgy,
        dlp_mgycm=e.dlp_mgycm,
        phantom=_cut(e.phantom),
        ssde_mgy=e.ssde_mgy,
        dap_gym2=e.dap_gym2,
        dose_rp_gy=e.dose_rp_gy,
        agd_mgy=e.agd_mgy,
        exposure_time_s=e.exposure_time_s,
        laterality=e.laterality,
        fluoroscopy=e.fluoroscopy,
        dose_check=e.dose_check or None,
    )


def _audit(session: Session, principal: Principal, row: DoseReport) -> None:
    audit.record(
        session,
        principal,
        "imaging:dose:received" if row.state is ReportState.READ else "imaging:dose:refused",
        object_type="study",
        object_id=row.study_id,
        details={"dose_report_id": row.id, "state": row.state.value},
    )


def _cut(value: str | None, length: int = 64) -> str | None:
    return value[:length] if value else None
