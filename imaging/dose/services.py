"""Reading the dose index with the study's and the patient's permission rules, audited.

A study's dose is seen by whoever may see the study (``imaging.services.get_study``); a
patient's cumulative dose by whoever may see the patient and read imaging. Totals count each
irradiation event once (see :mod:`imaging.dose.ingest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from hub.errors import AccessDenied, NotFound
from hub.models import Patient, Role, utcnow
from hub.permissions import can_see_patient, require
from imaging import services as imaging_services
from imaging.dose import fhir, headers, reference
from imaging.dose.models import (
    DoseEvent,
    DoseReport,
    ExamTypeRule,
    NodeSend,
    ReferenceLevel,
    ReportState,
)
from imaging.dose.schemas import (
    DoseDocumentOut,
    DoseEventOut,
    DoseFlag,
    DoseSums,
    DoseTotals,
    NationalNodeOut,
    PatientDoseOut,
    PatientStudyDose,
    ReferenceLevelIn,
    ReferenceLevelList,
    ReferenceLevelOut,
    StudyDoseOut,
)
from imaging.models import Instance, InstanceKind, Series, Study

_QUANTITIES = ("ct_dlp_mgycm", "dap_gym2", "agd_mgy", "dose_rp_gy")


@dataclass(frozen=True)
class _StudyDose:
    out: StudyDoseOut
    study_date: date | None


def _sum(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _facts(events: Sequence[DoseEvent]) -> list[reference.EventFacts]:
    return [
        reference.EventFacts(
            e.irradiation_event_uid,
            e.ctdivol_mgy,
            e.dlp_mgycm,
            e.phantom,
            e.agd_mgy,
            e.target_region_code,
            e.protocol,
        )
        for e in events
    ]


def _levels(session: Session, exam: str | None, facility_id: int) -> list[ReferenceLevel]:
    if exam is None:
        return []
    return list(
        session.scalars(
            select(ReferenceLevel).where(
                ReferenceLevel.exam_type == exam,
                (ReferenceLevel.facility_id.is_(None))
                | (ReferenceLevel.facility_id == facility_id),
            )
        )
    )


def _flags(
    session: Session,
    study: Study,
    exam: str | None,
    totals: DoseTotals,
    facts: list[reference.EventFacts],
    factor_percent: int,
) -> list[DoseFlag]:
    flags: list[DoseFlag] = []
    for event, limit in reference.ctdivol_alerts(facts):
        assert event.ctdivol_mgy is not None
        flags.append(
            DoseFlag(
                kind="ctdivol_alert",
                quantity="ctdivol_mgy",
                value=event.ctdivol_mgy,
                limit=limit,
                irradiation_event_uid=event.uid,
            )
        )
    factor = factor_percent / 100.0
    for level in _levels(session, exam, study.facility_id):
        limit = level.value * factor
        values: list[tuple[float, str | None]] = []
        if level.quantity == "ctdivol_mgy":
            values = [(e.ctdivol_mgy, e.uid) for e in facts if e.ctdivol_mgy]
        elif level.quantity == "dlp_mgycm" and totals.ct_dlp_mgycm is not None:
            values = [(totals.ct_dlp_mgycm, None)]
        elif level.quantity == "agd_mgy":
            values = [(e.agd_mgy, e.uid) for e in facts if e.agd_mgy]
        elif level.quantity == "dap_gym2" and totals.dap_gym2 is not None:
            values = [(totals.dap_gym2, None)]
        for value, uid in values:
            if value > limit:
                flags.append(
                    DoseFlag(
                        kind="drl" if level.facility_id is None else "local_drl",
                        quantity=level.quantity,
                        value=value,
                        limit=limit,
                        exam_type=exam,
                        source=level.source,
                        irradiation_event_uid=uid,
                    )
                )
    return flags


def _node_out(session: Session, study_id: int, configured: bool, has_dose: bool) -> NationalNodeOut:
    if not configured:
        return NationalNodeOut(state="not_configured")
    row = session.scalar(select(NodeSend).where(NodeSend.study_id == study_id))
    if row is None:
        return NationalNodeOut(state="none" if not has_dose else "local")
    return NationalNodeOut(
        state=row.state.value,
        status=row.status,
        comment=row.comment,
        kos_sop_instance_uid=row.kos_sop_instance_uid,
        attempts=row.attempts,
        updated_at=row.updated_at,
        accepted_at=row.accepted_at,
    )


def mapping_rules(session: Session, facility_id: int) -> list[reference.MappingRule]:
    """The facility's exam-type rules, oldest first (the first matching rule wins)."""
    rows = session.execute(
        select(ExamTypeRule.pattern, ExamTypeRule.exam_type)
        .where(ExamTypeRule.facility_id == facility_id)
        .order_by(ExamTypeRule.id)
    )
    return [reference.MappingRule(pattern, exam) for pattern, exam in rows]


def _header_paths(session: Session, study_id: int, storage_dir: Path | None) -> list[Path]:
    if storage_dir is None:
        return []
    rows = session.scalars(
        select(Instance.path)
        .join(Series, Series.id == Instance.series_id)
        .where(
            Instance.study_id == study_id,
            Instance.kind == InstanceKind.IMAGE,
            Instance.path.is_not(None),
            Series.modality.in_(headers.MODALITIES),
        )
        .order_by(Instance.id)
        .limit(headers.LIMIT)
    )
    return [storage_dir / p for p in rows if p]


def _study_dose(
    session: Session, study: Study, settings: ImagingSettings, *, with_headers: bool = True
) -> _StudyDose:
    documents = list(
        session.scalars(
            select(DoseReport).where(DoseReport.study_id == study.id).order_by(DoseReport.id)
        )
    )
    read = [d for d in documents if d.state is ReportState.READ]
    events = list(
        session.scalars(
            select(DoseEvent).where(DoseEvent.study_id == study.id).order_by(DoseEvent.id)
        )
    )
    facts = _facts(events)
    source = "rdsr" if read else "none"
    modality = read[0].modality if read else None
    totals = DoseTotals(
        ct_dlp_mgycm=_sum([d.counted_ct_dlp_mgycm for d in read]),
        dap_gym2=_sum([d.counted_dap_gym2 for d in read]),
        agd_mgy=_sum([d.counted_agd_mgy for d in read]),
        dose_rp_gy=_sum([d.counted_dose_rp_gy for d in read]),
        fluoro_time_s=_sum([d.fluoro_time_s for d in read]),
    )
    if not read and with_headers:
        found = headers.read(_header_paths(session, study.id, settings.storage_dir))
        if found.images and (found.ctdivol_by_series or found.dap_gym2 or found.agd_mgy):
            source = "image_headers"
            modality = found.modality
            totals = DoseTotals(
                ct_dlp_mgycm=None,
                dap_gym2=found.dap_gym2,
                agd_mgy=found.agd_mgy,
                dose_rp_gy=None,
            )
            facts = [
                reference.EventFacts(None, value, None, None, None, None, None)
                for value in found.ctdivol_by_series.values()
            ]
    # Classified at each read, so a facility's new rule applies to its earlier exams too.
    exam = reference.exam_type(
        modality, study.description, facts, mapping_rules(session, study.facility_id)
    )
    fallback_region = {
        "ct_head": "head",
        "ct_chest": "chest",
        "ct_abdomen_pelvis": "abdomen_pelvis",
    }.get(exam or "")
    out = StudyDoseOut(
        study_instance_uid=study.study_instance_uid,
        modality=modality,
        source=source,
        exam_type=exam,
        events=[DoseEventOut.model_validate(e) for e in events],
        totals=totals,
        effective_dose_msv_estimate=reference.effective_dose(facts, fallback_region),
        documents=[
            DoseDocumentOut.model_validate(
                {**{c: getattr(d, c) for c in DoseDocumentOut.model_fields}, "state": d.state.value}
            )
            for d in documents
        ],
        flags=_flags(session, study, exam, totals, facts, settings.dose_drl_factor_percent),
        national_node=_node_out(
            session, study.id, settings.national_dose_node is not None, bool(read)
        ),
    )
    return _StudyDose(out, study.study_date)


def study_dose(
    session: Session, principal: Principal, study_uid: str, settings: ImagingSettings
) -> StudyDoseOut:
    """A study's dose, for whoever may see the study (audited as ``imaging:study:dose_viewed``)."""
    study = imaging_services.get_study(session, principal, study_uid, purpose="dose_viewed")
    return _study_dose(session, study, settings).out


def _sums(items: Sequence[_StudyDose]) -> DoseSums:
    by_modality: dict[str, int] = {}
    for item in items:
        key = item.out.modality or "unknown"
        by_modality[key] = by_modality.get(key, 0) + 1

    def total(name: str) -> float:
        return sum(getattr(i.out.totals, name) or 0.0 for i in items)

    return DoseSums(
        studies=len(items),
        ct_dlp_mgycm=total("ct_dlp_mgycm"),
        dap_gym2=total("dap_gym2"),
        agd_mgy=total("agd_mgy"),
        dose_rp_gy=total("dose_rp_gy"),
        effective_dose_msv_estimate=round(
            sum(i.out.effective_dose_msv_estimate or 0.0 for i in items), 3
        ),
        by_modality=by_modality,
    )


def patient_dose(
    session: Session, principal: Principal, patient_id: int, settings: ImagingSettings
) -> PatientDoseOut:
    """A patient's cumulative dose over time: every study with dose, lifetime and the last 12
    months (audited as ``imaging:dose:patient_viewed``)."""
    action = "imaging:dose:patient_viewed"
    require(principal, "imaging:read", action=action)
    if not can_see_patient(session, principal, patient_id):
        if session.get(Patient, patient_id) is None:
            raise NotFound("Not found.")
        raise AccessDenied(action=action, object_type="patient", object_id=patient_id, hide=True)
    studies = list(
        session.scalars(
            select(Study)
            .where(
                Study.patient_id == patient_id,
                Study.id.in_(
                    select(DoseReport.study_id).where(DoseReport.state == ReportState.READ)
                ),
            )
            .order_by(Study.study_date, Study.id)
        )
    )
    doses = [_study_dose(session, s, settings, with_headers=False) for s in studies]
    since = (utcnow() - timedelta(days=365)).date()
    recent = [d for d in doses if d.study_date is not None and d.study_date >= since]
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=patient_id,
        details={"studies": len(doses)},
    )
    return PatientDoseOut(
        patient_id=patient_id,
        lifetime=_sums(doses),
        last_12_months=_sums(recent),
        studies=[
            PatientStudyDose(
                study_instance_uid=d.out.study_instance_uid,
                study_date=d.study_date,
                modality=d.out.modality,
                exam_type=d.out.exam_type,
                totals=d.out.totals,
                effective_dose_msv_estimate=d.out.effective_dose_msv_estimate,
                flagged=bool(d.out.flags),
            )
            for d in doses
        ],
    )


def reference_levels(
    session: Session, principal: Principal, settings: ImagingSettings
) -> ReferenceLevelList:
    """The national reference levels and the caller's facility's local ones."""
    require(principal, "imaging:read", action="imaging:dose:levels_viewed")
    condition: ColumnElement[bool] = ReferenceLevel.facility_id.is_(None)
    if principal.facility_id is not None:
        condition = or_(condition, ReferenceLevel.facility_id == principal.facility_id)
    rows = session.scalars(
        select(ReferenceLevel)
        .where(condition)
        .order_by(ReferenceLevel.modality, ReferenceLevel.exam_type, ReferenceLevel.quantity)
    )
    return ReferenceLevelList(
        items=[ReferenceLevelOut.model_validate(r) for r in rows],
        factor_percent=settings.dose_drl_factor_percent,
    )


def study_dose_fhir(
    session: Session, principal: Principal, study_uid: str, settings: ImagingSettings
) -> dict[str, object]:
    """The study's dose as a FHIR Radiation Dose Summary Observation (audited as
    ``imaging:study:dose_exported``)."""
    study = imaging_services.get_study(session, principal, study_uid, purpose="dose_exported")
    found = _study_dose(session, study, settings)
    return fhir.observation(found.out, study.patient_id, study.study_date)


def dose_of(session: Session, study: Study, settings: ImagingSettings) -> StudyDoseOut:
    """A study's dose from its dose documents, for a caller that checked and audits its read
    (facility reports)."""
    return _study_dose(session, study, settings, with_headers=False).out


_MODALITY_OF_EXAM = {
    "ct_head": "CT",
    "ct_chest": "CT",
    "ct_abdomen_pelvis": "CT",
    "mammography_view": "MG",
    "chest_xray": "DX",
}


def set_reference_level(
    session: Session, principal: Principal, body: ReferenceLevelIn
) -> ReferenceLevelOut:
    """Set a national level (national administrators) or the caller's facility's local one
    (its administrators); audited with the old and new values."""
    action = "imaging:dose:level_set"
    roles = frozenset({Role.FACILITY_ADMIN}) if body.local else frozenset({Role.NATIONAL_ADMIN})
    require(principal, "imaging:write", roles=roles, action=action)
    facility_id = principal.facility_id if body.local else None
    if body.local and facility_id is None:
        raise AccessDenied("A local level needs a facility.", action=action)
    row = session.scalar(
        select(ReferenceLevel).where(
            ReferenceLevel.exam_type == body.exam_type,
            ReferenceLevel.quantity == body.quantity,
            ReferenceLevel.facility_id.is_(None)
            if facility_id is None
            else ReferenceLevel.facility_id == facility_id,
        )
    )
    before = row.value if row is not None else None
    if row is None:
        row = ReferenceLevel(
            exam_type=body.exam_type,
            modality=_MODALITY_OF_EXAM[body.exam_type],
            quantity=body.quantity,
            facility_id=facility_id,
        )
        session.add(row)
    row.value, row.source, row.updated_at = body.value, body.source, utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="dose_reference_level",
        object_id=row.id,
        details={"before": before, "after": body.value, "facility_id": facility_id},
    )
    return ReferenceLevelOut.model_validate(row)
