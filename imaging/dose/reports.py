"""Facility dose reports: per device and exam type against the reference levels, the national
node's sending, flagged exams; and reference levels proposed from the hub's own data.

Proposed levels follow ICRP Publication 135: per exam type, the median of each room's
(device's) exams, then the 75th percentile of those medians over the rooms (national), or the
median of the facility's own rooms (local). A room counts only with ``MIN_EXAMS`` exams.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from hub.models import Facility
from hub.permissions import require
from imaging.dose import services
from imaging.dose.models import DoseReport, NodeSend, ReferenceLevel, ReportState
from imaging.models import Study
from imaging.services import study_visibility

STUDIES_SCANNED = 500  # the newest studies with dose a report looks at
MIN_EXAMS = 3
# The value of one exam compared with each quantity's level.
QUANTITIES = ("ctdivol_mgy", "dlp_mgycm", "dap_gym2", "agd_mgy")


@dataclass
class ExamRow:
    device: str
    exam_type: str
    exams: int = 0
    flagged: int = 0
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def median(self, quantity: str) -> float | None:
        found = self.values.get(quantity)
        return statistics.median(found) if found else None


@dataclass(frozen=True)
class FlaggedExam:
    study_instance_uid: str
    patient_id: int | None
    exam_type: str | None
    kinds: tuple[str, ...]


@dataclass
class Dashboard:
    facility: Facility | None
    facilities: list[Facility]
    studies: int
    rows: list[ExamRow]
    levels: dict[tuple[str, str], float]
    node: dict[str, int]
    flagged: list[FlaggedExam]


def _exam_values(out: services.StudyDoseOut) -> dict[str, float]:
    """One exam's values compared with the levels: the highest CTDIvol of its series, its DLP
    and DAP totals, the AGD of its views (mean)."""
    ctdivols = [e.ctdivol_mgy for e in out.events if e.ctdivol_mgy]
    agds = [e.agd_mgy for e in out.events if e.agd_mgy]
    found = {
        "ctdivol_mgy": max(ctdivols) if ctdivols else None,
        "dlp_mgycm": out.totals.ct_dlp_mgycm,
        "dap_gym2": out.totals.dap_gym2,
        "agd_mgy": statistics.mean(agds) if agds else None,
    }
    return {k: v for k, v in found.items() if v is not None}


def _device(report: DoseReport | None) -> str:
    if report is None:
        return "—"
    parts = [report.manufacturer, report.model, report.station or report.serial]
    return " · ".join(p for p in parts if p) or "—"


def _scan(
    session: Session, principal: Principal, facility_id: int | None, settings: ImagingSettings
) -> list[tuple[Study, DoseReport, services.StudyDoseOut]]:
    condition = study_visibility(principal)
    if facility_id is not None:
        condition = condition & (Study.facility_id == facility_id)
    studies = session.scalars(
        select(Study)
        .where(
            condition,
            Study.id.in_(select(DoseReport.study_id).where(DoseReport.state == ReportState.READ)),
        )
        .order_by(Study.id.desc())
        .limit(STUDIES_SCANNED)
    ).all()
    found = []
    for study in studies:
        first = session.scalar(
            select(DoseReport)
            .where(DoseReport.study_id == study.id, DoseReport.state == ReportState.READ)
            .order_by(DoseReport.id)
            .limit(1)
        )
        assert first is not None
        found.append((study, first, services.dose_of(session, study, settings)))
    return found


def dashboard(
    session: Session,
    principal: Principal,
    settings: ImagingSettings,
    facility_code: str | None = None,
) -> Dashboard:
    """The dose of the facility's exams (the caller's, or one they may see), audited."""
    action = "imaging:dose:dashboard_viewed"
    require(principal, "imaging:read", action=action)
    sent = select(Study.facility_id).where(study_visibility(principal)).distinct()
    facilities = list(
        session.scalars(select(Facility).where(Facility.id.in_(sent)).order_by(Facility.code))
    )
    facility = next((f for f in facilities if f.code == facility_code), None)
    if facility is None and facility_code is None:
        facility = next((f for f in facilities if f.id == principal.facility_id), None)
    if facility is None and facilities:
        facility = facilities[0]
    scanned = _scan(session, principal, facility.id if facility else -1, settings)
    rows: dict[tuple[str, str], ExamRow] = {}
    flagged: list[FlaggedExam] = []
    for study, first, out in scanned:
        exam = out.exam_type or "unclassified"
        row = rows.setdefault((_device(first), exam), ExamRow(_device(first), exam))
        row.exams += 1
        for quantity, value in _exam_values(out).items():
            row.values[quantity].append(value)
        if out.flags:
            row.flagged += 1
            flagged.append(
                FlaggedExam(
                    study.study_instance_uid,
                    study.patient_id,
                    out.exam_type,
                    tuple(sorted({f.kind for f in out.flags})),
                )
            )
    levels = {
        (level.exam_type, level.quantity): level.value
        for level in session.scalars(
            select(ReferenceLevel).where(ReferenceLevel.facility_id.is_(None))
        )
    }
    node: dict[str, int] = {}
    if facility is not None:
        for state, count in session.execute(
            select(NodeSend.state, func.count(NodeSend.id))
            .join(Study, Study.id == NodeSend.study_id)
            .where(Study.facility_id == facility.id)
            .group_by(NodeSend.state)
        ):
            node[state.value] = int(count)
    audit.record(
        session,
        principal,
        action,
        object_type="facility",
        object_id=facility.id if facility else None,
        details={"studies": len(scanned)},
    )
    return Dashboard(
        facility,
        facilities,
        len(scanned),
        sorted(rows.values(), key=lambda r: (r.device, r.exam_type)),
        levels,
        node,
        flagged[:50],
    )


@dataclass(frozen=True)
class Proposal:
    exam_type: str
    quantity: str
    rooms: int
    value: float


def proposals(session: Session, principal: Principal, settings: ImagingSettings) -> list[Proposal]:
    """National levels proposed from the exams the caller may see (ICRP 135)."""
    require(principal, "imaging:read", action="imaging:dose:levels_viewed")
    by_room: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for study, first, out in _scan(session, principal, None, settings):
        if out.exam_type is None:
            continue
        room = f"{study.facility_id}:{_device(first)}"
        for quantity, value in _exam_values(out).items():
            by_room[(out.exam_type, quantity)][room].append(value)
    found = []
    for (exam, quantity), rooms in sorted(by_room.items()):
        medians = [statistics.median(v) for v in rooms.values() if len(v) >= MIN_EXAMS]
        if not medians:
            continue
        if len(medians) == 1:
            value = medians[0]
        else:
            value = statistics.quantiles(medians, n=4, method="inclusive")[2]
        found.append(Proposal(exam, quantity, len(medians), value))
    return found
