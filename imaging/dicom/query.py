"""C-FIND over the study index at PATIENT, STUDY and SERIES level.

A calling AE sees only the studies its own facility sent or whose patient is registered there:
a modality or PACS proxy cannot browse another organisation's images.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from hub.models import Patient
from imaging.models import Instance, Series, Study

MAX_MATCHES = 1000


class QueryError(ValueError):
    """The identifier cannot be answered (unknown level, malformed matching key)."""


def _value(identifier: Dataset, keyword: str) -> str:
    if keyword not in identifier:
        return ""
    raw = identifier.get(keyword)
    value = getattr(raw, "value", raw)
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _match_text(column: Any, pattern: str) -> ColumnElement[bool] | None:
    """DICOM single value or wildcard matching (``*`` and ``?``) on a text column."""
    if not pattern or pattern == "*":
        return None
    if "*" in pattern or "?" in pattern:
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = escaped.replace("*", "%").replace("?", "_")
        return column.like(like, escape="\\")
    return column == pattern


def _match_uids(column: Any, value: str) -> ColumnElement[bool] | None:
    if not value:
        return None
    uids = [u.strip() for u in value.split("\\") if u.strip()]
    return column.in_(uids) if len(uids) > 1 else column == uids[0]


def _parse_date(text: str) -> date:
    if len(text) != 8 or not text.isdigit():
        raise QueryError("a date matching key is not YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise QueryError("a date matching key is not a real date") from None


def _match_date(column: Any, value: str) -> ColumnElement[bool] | None:
    if not value:
        return None
    if "-" not in value:
        return column == _parse_date(value)
    start, _, end = value.partition("-")
    clauses = []
    if start:
        clauses.append(column >= _parse_date(start))
    if end:
        clauses.append(column <= _parse_date(end))
    return and_(*clauses) if clauses else None


def _scope(facility_id: int) -> ColumnElement[bool]:
    return or_(
        Study.facility_id == facility_id,
        Study.patient_id.in_(select(Patient.id).where(Patient.home_facility_id == facility_id)),
    )


def _study_filters(identifier: Dataset) -> list[ColumnElement[bool]]:
    conditions = [
        _match_text(Study.dicom_patient_id, _value(identifier, "PatientID")),
        _match_text(Study.dicom_patient_name, _value(identifier, "PatientName")),
        _match_uids(Study.study_instance_uid, _value(identifier, "StudyInstanceUID")),
        _match_date(Study.study_date, _value(identifier, "StudyDate")),
        _match_text(Study.accession_number, _value(identifier, "AccessionNumber")),
        _match_text(Study.study_id, _value(identifier, "StudyID")),
        _match_text(Study.description, _value(identifier, "StudyDescription")),
    ]
    modality = _value(identifier, "ModalitiesInStudy")
    if modality and modality != "*":
        wanted = [m for m in modality.split("\\") if m]
        conditions.append(Study.id.in_(select(Series.study_id).where(Series.modality.in_(wanted))))
    return [c for c in conditions if c is not None]


def _echo(identifier: Dataset, answer: Dataset) -> Dataset:
    """Return only the keys asked for, plus the level; charset of our answers is UTF-8."""
    out = Dataset()
    out.SpecificCharacterSet = "ISO_IR 192"
    out.QueryRetrieveLevel = identifier.QueryRetrieveLevel
    for elem in identifier:
        if elem.keyword in ("QueryRetrieveLevel", "SpecificCharacterSet") or not elem.keyword:
            continue
        if elem.keyword in answer:
            out[elem.tag] = answer[elem.tag]
        else:
            out.add_new(elem.tag, elem.VR, None)
    return out


def _study_answer(study: Study, modalities: str, series: int, instances: int) -> Dataset:
    ds = Dataset()
    ds.PatientID = study.dicom_patient_id
    ds.IssuerOfPatientID = study.issuer
    ds.PatientName = study.dicom_patient_name
    ds.PatientBirthDate = study.dicom_birth_date
    ds.PatientSex = study.dicom_sex
    ds.StudyInstanceUID = study.study_instance_uid
    ds.StudyDate = study.study_date.strftime("%Y%m%d") if study.study_date else ""
    ds.StudyTime = study.study_time
    ds.AccessionNumber = study.accession_number
    ds.StudyID = study.study_id
    ds.StudyDescription = study.description
    ds.ReferringPhysicianName = study.referring_physician
    ds.ModalitiesInStudy = modalities.split("\\") if modalities else ""
    ds.NumberOfStudyRelatedSeries = series
    ds.NumberOfStudyRelatedInstances = instances
    return ds


def _counts(session: Session, study_ids: list[int]) -> dict[int, tuple[str, int, int]]:
    if not study_ids:
        return {}
    rows = session.execute(
        select(Series.study_id, Series.modality, func.count(Instance.id))
        .join(Instance, Instance.series_id == Series.id)
        .where(Series.study_id.in_(study_ids), Instance.deleted_at.is_(None))
        .group_by(Series.study_id, Series.id, Series.modality)
    ).all()
    out: dict[int, tuple[set[str], int, int]] = {}
    for study_id, modality, count in rows:
        mods, series, instances = out.get(study_id, (set(), 0, 0))
        if modality:
            mods.add(modality)
        out[study_id] = (mods, series + 1, instances + count)
    return {k: ("\\".join(sorted(m)), s, i) for k, (m, s, i) in out.items()}


def find(session: Session, level: str, identifier: Dataset, facility_id: int) -> list[Dataset]:
    """Answers to one C-FIND identifier within the calling facility's scope."""
    if level not in {"PATIENT", "STUDY", "SERIES"}:
        raise QueryError("only PATIENT, STUDY and SERIES level queries are supported")
    stmt: Select[Any] = select(Study).where(_scope(facility_id), *_study_filters(identifier))
    if level == "SERIES":
        study_uid = _value(identifier, "StudyInstanceUID")
        if not study_uid:
            raise QueryError("a SERIES level query needs the Study Instance UID")
        return _series(session, stmt, identifier)
    studies = list(session.scalars(stmt.order_by(Study.id).limit(MAX_MATCHES)))
    counts = _counts(session, [s.id for s in studies])
    if level == "STUDY":
        return [_echo(identifier, _study_answer(s, *counts.get(s.id, ("", 0, 0)))) for s in studies]
    patients: dict[tuple[str, str], Dataset] = {}
    for s in studies:
        key = (s.dicom_patient_id, s.issuer)
        answer = patients.get(key)
        if answer is None:
            answer = _study_answer(s, "", 0, 0)
            answer.NumberOfPatientRelatedStudies = 0
            answer.NumberOfPatientRelatedSeries = 0
            answer.NumberOfPatientRelatedInstances = 0
            patients[key] = answer
        _, series, instances = counts.get(s.id, ("", 0, 0))
        answer.NumberOfPatientRelatedStudies += 1
        answer.NumberOfPatientRelatedSeries += series
        answer.NumberOfPatientRelatedInstances += instances
    return [_echo(identifier, a) for a in patients.values()]


def _series(session: Session, studies: Select[Any], identifier: Dataset) -> list[Dataset]:
    conditions = [
        c
        for c in (
            _match_uids(Series.series_instance_uid, _value(identifier, "SeriesInstanceUID")),
            _match_text(Series.modality, _value(identifier, "Modality")),
        )
        if c is not None
    ]
    study_ids = select(studies.subquery().c.id)
    rows = session.execute(
        select(Series, Study.study_instance_uid, func.count(Instance.id))
        .join(Study, Study.id == Series.study_id)
        .outerjoin(Instance, and_(Instance.series_id == Series.id, Instance.deleted_at.is_(None)))
        .where(Series.study_id.in_(study_ids), *conditions)
        .group_by(Series.id, Study.study_instance_uid)
        .order_by(Series.series_number)
        .limit(MAX_MATCHES)
    ).all()
    answers = []
    for series, study_uid, count in rows:
        ds = Dataset()
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series.series_instance_uid
        ds.Modality = series.modality
        ds.SeriesNumber = series.series_number if series.series_number is not None else ""
        ds.SeriesDescription = series.description
        ds.BodyPartExamined = series.body_part
        ds.NumberOfSeriesRelatedInstances = count
        answers.append(_echo(identifier, ds))
    return answers
