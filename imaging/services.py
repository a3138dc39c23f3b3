"""Reading the study index with permission checks and audit; legal hold; patient linking.

Who sees a study: whoever may see its patient (home facility, region, consult grants), and the
staff of the facility that sent it (also before its PatientID is linked to a hub patient),
and the radiologist a reading request of the study is assigned to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, or_, select, true, update
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.hooks import PatientMerge
from hub.models import Facility, Patient, Role
from hub.national_id import InvalidNationalId, normalise
from hub.permissions import CLINICAL_ROLES, REGION_ROLES, patient_visibility, require
from imaging.models import (
    ForwardItem,
    ForwardState,
    Instance,
    InstanceKind,
    PatientKey,
    Quarantined,
    Series,
    Study,
)
from imaging.reading.models import ReadingRequest, ReadingStatus

# How many instances with problems a study's answer lists (the count is always complete).
PROBLEMS_LISTED = 100
HOLD_ROLES = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})
LINKERS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})


def study_visibility(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Study` for the studies the principal may see."""
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return true()
    clauses: list[ColumnElement[bool]] = [
        Study.patient_id.in_(select(Patient.id).where(patient_visibility(principal)))
    ]
    if principal.facility_id is not None and principal.roles & (
        CLINICAL_ROLES | {Role.FACILITY_ADMIN}
    ):
        clauses.append(Study.facility_id == principal.facility_id)
    if principal.region_id is not None and principal.roles & REGION_ROLES:
        clauses.append(
            Study.facility_id.in_(
                select(Facility.id).where(Facility.region_id == principal.region_id)
            )
        )
    if principal.user_id is not None and principal.has_role(Role.RADIOLOGIST):
        # Teleradiology: access follows the reading request assigned to the radiologist.
        clauses.append(
            Study.id.in_(
                select(ReadingRequest.study_id).where(
                    ReadingRequest.assigned_to_id == principal.user_id,
                    ReadingRequest.status.in_((ReadingStatus.IN_PROGRESS, ReadingStatus.COMPLETED)),
                )
            )
        )
    return or_(*clauses)


def get_study(
    session: Session,
    principal: Principal,
    study_uid: str,
    *,
    purpose: str = "viewed",
    audited: bool = True,
) -> Study:
    """A study the caller may see; others are refused as not found, and the refusal audited."""
    action = f"imaging:study:{purpose}"
    require(principal, "imaging:read", action=action)
    study = session.scalar(
        select(Study).where(Study.study_instance_uid == study_uid, study_visibility(principal))
    )
    if study is None:
        exists = session.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
        if exists is None:
            raise NotFound("Not found.")
        raise AccessDenied(action=action, object_type="study", object_id=exists, hide=True)
    if audited:
        audit.record(
            session,
            principal,
            action,
            object_type="study",
            object_id=study.id,
            details={"patient_id": study.patient_id},
        )
    return study


def _patient_ids(session: Session, national_id: str, country: str | None) -> list[int]:
    countries = (
        [country.upper()]
        if country
        else list(session.scalars(select(Patient.id_country).distinct()))
    )
    ids: list[int] = []
    for code in countries:
        try:
            value = normalise(code, national_id)
        except InvalidNationalId:
            continue
        ids.extend(
            session.scalars(
                select(Patient.id).where(Patient.id_country == code, Patient.national_id == value)
            )
        )
    return ids


def list_studies(
    session: Session,
    principal: Principal,
    *,
    national_id: str | None = None,
    country: str | None = None,
    facility_id: int | None = None,
    text: str | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> list[Study]:
    """Studies within scope, newest first by id; optionally of one patient by national id,
    sent by one facility, or matching ``text`` in their description, accession number or the
    patient's name or id as the header gives them."""
    require(principal, "imaging:read", action="imaging:study:listed")
    stmt = select(Study).where(study_visibility(principal))
    if facility_id is not None:
        stmt = stmt.where(Study.facility_id == facility_id)
    if text and text.strip():
        needle = text.strip().lower()
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        Study.description,
                        Study.accession_number,
                        Study.dicom_patient_name,
                        Study.dicom_patient_id,
                    )
                )
            )
        )
    if national_id is not None:
        patients = _patient_ids(session, national_id, country)
        # Studies of records merged into this patient belong to it too.
        merged = (
            list(session.scalars(select(Patient.id).where(Patient.merged_into_id.in_(patients))))
            if patients
            else []
        )
        stmt = stmt.where(Study.patient_id.in_(patients + merged))
    if after_id:
        stmt = stmt.where(Study.id < after_id)
    studies = list(session.scalars(stmt.order_by(Study.id.desc()).limit(limit)))
    audit.record(
        session,
        principal,
        "imaging:study:listed",
        object_type="study",
        details={"ids": [s.id for s in studies]},
    )
    return studies


def study_facilities(session: Session, principal: Principal) -> list[Facility]:
    """The facilities that sent a study the principal may see (a list page's choice)."""
    require(principal, "imaging:read", action="imaging:study:listed")
    sent = select(Study.facility_id).where(study_visibility(principal)).distinct()
    return list(
        session.scalars(select(Facility).where(Facility.id.in_(sent)).order_by(Facility.code))
    )


@dataclass(frozen=True)
class SeriesSummary:
    series: Series
    instances: int


def series_of(session: Session, study_id: int) -> list[SeriesSummary]:
    rows = session.execute(
        select(Series, func.count(Instance.id))
        .outerjoin(Instance, (Instance.series_id == Series.id) & Instance.deleted_at.is_(None))
        .where(Series.study_id == study_id)
        .group_by(Series.id)
        .order_by(Series.series_number, Series.id)
    ).all()
    return [SeriesSummary(series, int(count)) for series, count in rows]


def instance_counts(session: Session, study_id: int) -> tuple[int, int]:
    """(stored instances, instances deleted by retention)."""
    rows = session.execute(
        select(Instance.deleted_at.is_(None), func.count(Instance.id))
        .where(Instance.study_id == study_id)
        .group_by(Instance.deleted_at.is_(None))
    ).all()
    stored = sum(int(c) for alive, c in rows if alive)
    deleted = sum(int(c) for alive, c in rows if not alive)
    return stored, deleted


def problems_of(session: Session, study: Study) -> tuple[int, list[Instance], int]:
    """(instances with problems, the first PROBLEMS_LISTED of them, objects quarantined)."""
    flagged = (Instance.study_id == study.id) & Instance.problems.is_not(None)
    count = session.scalar(select(func.count(Instance.id)).where(flagged)) or 0
    listed = list(
        session.scalars(
            select(Instance).where(flagged).order_by(Instance.id).limit(PROBLEMS_LISTED)
        )
    )
    quarantined = session.scalar(
        select(func.count(Quarantined.id)).where(
            Quarantined.study_instance_uid == study.study_instance_uid,
            Quarantined.resolved_at.is_(None),
        )
    )
    return int(count), listed, int(quarantined or 0)


# Frames per page of a series in the viewer and its JSON: never one list of every frame (a
# series of multi-frame instances may hold hundreds of thousands).
FRAMES_PAGE = 1000


def frames_page(
    session: Session, series_id: int, start: int = 0, limit: int = FRAMES_PAGE
) -> tuple[list[tuple[int, int]], int]:
    """(instance id, frame) pairs from the ``start``-th frame of a series, at most ``limit``,
    and the series' total frame count."""
    shown = (
        (Instance.series_id == series_id)
        & Instance.deleted_at.is_(None)
        & (Instance.kind == InstanceKind.IMAGE)
    )
    total = int(session.scalar(select(func.sum(Instance.frames)).where(shown)) or 0)
    page: list[tuple[int, int]] = []
    seen = 0
    rows = session.execute(
        select(Instance.id, Instance.frames)
        .where(shown)
        .order_by(Instance.instance_number, Instance.id)
        .execution_options(yield_per=1000)
    )
    for instance_id, frames in rows:
        count = max(int(frames), 1)
        if seen + count > start:
            first = max(start - seen, 0)
            page.extend(
                (instance_id, f) for f in range(first, min(count, first + limit - len(page)))
            )
            if len(page) >= limit:
                break
        seen += count
    rows.close()
    return page, total


def forwarding_times(session: Session, study_id: int) -> tuple[datetime | None, datetime | None]:
    """(arrival of the oldest instance still waiting to be forwarded, last one forwarded)."""
    waiting = session.scalar(
        select(func.min(Instance.received_at))
        .join(ForwardItem, ForwardItem.instance_id == Instance.id)
        .where(ForwardItem.study_id == study_id, ForwardItem.state == ForwardState.PENDING)
    )
    sent = session.scalar(
        select(func.max(ForwardItem.sent_at)).where(
            ForwardItem.study_id == study_id, ForwardItem.state == ForwardState.SENT
        )
    )
    return waiting, sent


def series_with_images(session: Session, study_id: int) -> set[int]:
    """Ids of the study's series with a stored image (a report series has none to show)."""
    return set(
        session.scalars(
            select(Instance.series_id)
            .where(
                Instance.study_id == study_id,
                Instance.deleted_at.is_(None),
                Instance.path.is_not(None),
                Instance.kind == InstanceKind.IMAGE,
            )
            .distinct()
        )
    )


def instances_of_series(session: Session, series_id: int) -> list[Instance]:
    return list(
        session.scalars(
            select(Instance)
            .where(
                Instance.series_id == series_id,
                Instance.deleted_at.is_(None),
                Instance.kind == InstanceKind.IMAGE,
            )
            .order_by(Instance.instance_number, Instance.id)
        )
    )


def set_legal_hold(
    session: Session, principal: Principal, study_uid: str, hold: bool, reason: str | None
) -> Study:
    """Freeze (or release) a study against retention deletion."""
    action = "imaging:study:legal_hold"
    require(principal, "imaging:write", roles=HOLD_ROLES, action=action)
    study = get_study(session, principal, study_uid, purpose="viewed")
    if hold and not reason:
        raise ValidationFailed("A legal hold needs a reason.", details={"reason": "required"})
    study.legal_hold = hold
    study.legal_hold_reason = reason if hold else None
    audit.record(
        session,
        principal,
        action,
        object_type="study",
        object_id=study.id,
        details={"hold": hold, "reason_length": len(reason or "")},
    )
    return study


def link_patient(session: Session, principal: Principal, study_uid: str, patient_id: int) -> Study:
    """Map the study's PatientID (at its facility) to a hub patient, for it and later studies."""
    action = "imaging:study:patient_linked"
    require(principal, "imaging:write", roles=LINKERS, action=action)
    study = get_study(session, principal, study_uid, purpose="viewed")
    patient = session.scalar(
        select(Patient).where(Patient.id == patient_id, patient_visibility(principal))
    )
    if patient is None:
        raise ValidationFailed("Unknown patient.", details={"patient_id": patient_id})
    if study.patient_id is not None and study.patient_id != patient.id:
        raise Conflict("The study is already linked to another patient.", code="linked")
    if not study.dicom_patient_id:
        raise ValidationFailed("The study has no PatientID to map.")
    key = session.scalar(
        select(PatientKey).where(
            PatientKey.facility_id == study.facility_id,
            PatientKey.issuer == study.issuer,
            PatientKey.dicom_patient_id == study.dicom_patient_id,
        )
    )
    if key is None:
        session.add(
            PatientKey(
                facility_id=study.facility_id,
                issuer=study.issuer,
                dicom_patient_id=study.dicom_patient_id,
                patient_id=patient.id,
            )
        )
    elif key.patient_id != patient.id:
        raise Conflict("This PatientID is mapped to another patient.", code="linked")
    # Every study of that PatientID from that facility follows.
    session.execute(
        update(Study)
        .where(
            Study.facility_id == study.facility_id,
            Study.issuer == study.issuer,
            Study.dicom_patient_id == study.dicom_patient_id,
            Study.patient_id.is_(None),
        )
        .values(patient_id=patient.id)
    )
    session.flush()
    session.refresh(study)
    audit.record(
        session,
        principal,
        action,
        object_type="study",
        object_id=study.id,
        details={"patient_id": patient.id},
    )
    return study


def move_studies(session: Session, principal: Principal, merge: PatientMerge) -> None:
    """Patient merge seam: the duplicate's studies and PatientID keys move to the survivor."""
    session.execute(
        update(Study)
        .where(Study.patient_id == merge.duplicate_id)
        .values(patient_id=merge.survivor_id)
    )
    session.execute(
        update(PatientKey)
        .where(PatientKey.patient_id == merge.duplicate_id)
        .values(patient_id=merge.survivor_id)
    )


def retention_dates(
    study: Study,
    image_years: int,
    report_years: int,
) -> tuple[date | None, date | None]:
    """When the study's images and its reports may be deleted (from the study date)."""
    start = study.study_date or study.received_at.date()
    return _add_years(start, image_years), _add_years(start, report_years)


def _add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def stored_paths(session: Session, study_id: int) -> list[str]:
    """Relative paths of the study's stored files, in series and instance order."""
    rows = session.execute(
        select(Instance.path)
        .join(Series, Series.id == Instance.series_id)
        .where(
            Instance.study_id == study_id, Instance.deleted_at.is_(None), Instance.path.is_not(None)
        )
        .order_by(Series.series_number, Series.id, Instance.instance_number, Instance.id)
    ).all()
    return [str(r[0]) for r in rows]


def export_package(session: Session, principal: Principal, study_uid: str) -> Study:
    """Check and audit a CD/download package of a study."""
    return get_study(session, principal, study_uid, purpose="exported")
