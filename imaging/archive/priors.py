"""Priors: a patient's earlier studies held by the central archive (C-FIND, study level).

The archive is asked under each PatientID the patient is known by: the national id and the
facility PatientIDs mapped to it. Retrieval (C-MOVE/C-GET) is not done here; the answer says
which studies the hub already holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from hub.models import Patient
from hub.permissions import patient_visibility, require
from imaging.archive.central import CentralArchive
from imaging.models import PatientKey, Study
from imaging.services import _patient_ids

MAX_ANSWERS = 500
_KEYS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedInstances",
)


@dataclass(frozen=True)
class Prior:
    study_instance_uid: str
    study_date: date | None
    description: str
    modalities: list[str]
    instances: int | None
    held_by_hub: bool


def _date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else None
    except ValueError:
        return None


def _identifier(patient_id: str) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = patient_id
    for keyword in _KEYS:
        setattr(query, keyword, "")
    return query


def find_studies(archive: CentralArchive, patient_ids: list[str]) -> list[dict[str, Any]]:
    """Study-level C-FIND on the central archive for each PatientID."""
    found: dict[str, dict[str, Any]] = {}
    for answer in archive.find(_identifier(patient_id) for patient_id in patient_ids):
        uid = str(answer.get("StudyInstanceUID", "") or "")
        if uid and len(found) < MAX_ANSWERS:
            raw = answer.get("ModalitiesInStudy", "")
            modalities = (
                [str(m) for m in raw]
                if isinstance(raw, MultiValue)
                else [m for m in str(raw or "").split("\\") if m]
            )
            count = answer.get("NumberOfStudyRelatedInstances", None)
            found[uid] = {
                "uid": uid,
                "date": _date(str(answer.get("StudyDate", "") or "")),
                "description": str(answer.get("StudyDescription", "") or ""),
                "modalities": modalities,
                "instances": int(count) if count not in (None, "") else None,
            }
    return list(found.values())


def priors(
    session: Session,
    principal: Principal,
    settings: ImagingSettings,
    national_id: str,
    country: str | None = None,
) -> list[Prior] | None:
    """Earlier studies of a patient the caller may see; None without a central archive."""
    action = "imaging:prior:queried"
    require(principal, "imaging:read", action=action)
    visible = list(
        session.scalars(
            select(Patient.id).where(
                Patient.id.in_(_patient_ids(session, national_id, country)),
                patient_visibility(principal),
            )
        )
    )
    if settings.central_pacs is None:
        return None
    if not visible:
        return []
    ids = set(session.scalars(select(Patient.national_id).where(Patient.id.in_(visible))))
    ids |= set(
        session.scalars(
            select(PatientKey.dicom_patient_id).where(PatientKey.patient_id.in_(visible))
        )
    )
    # The reply may take seconds: end the transaction (and SQLite's lock) before asking.
    session.commit()
    answers = find_studies(CentralArchive.from_settings(settings), sorted(ids))
    held = set(
        session.scalars(
            select(Study.study_instance_uid).where(
                Study.study_instance_uid.in_([a["uid"] for a in answers])
            )
        )
    )
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=visible[0],
        details={"patients": visible, "answers": len(answers)},
    )
    return sorted(
        (
            Prior(
                a["uid"],
                a["date"],
                a["description"],
                a["modalities"],
                a["instances"],
                a["uid"] in held,
            )
            for a in answers
        ),
        key=lambda p: p.study_date or date.min,
        reverse=True,
    )
