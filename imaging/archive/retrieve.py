"""Retrieving a prior study from the central archive into the hub (C-GET), so it can be viewed
beside the consult's own images and linked without the archive being reachable later.

Only a study the archive files under one of the patient's PatientIDs is fetched, for a caller
who may see that patient. The instances are stored and indexed as the node stores what a
modality sends, never forwarded back, and the study is linked to the patient.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from flask import Flask
from pydicom.dataset import Dataset
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import audit, db
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from hub.errors import Conflict, NotFound
from hub.models import Patient
from hub.permissions import patient_visibility, require
from imaging import storage
from imaging.archive.central import CentralArchive
from imaging.archive.client import GET_TIMEOUTS
from imaging.dicom.parse import MalformedDataset, parse
from imaging.dose.ingest import dose_intake
from imaging.index import DuplicateInstance, ForeignInstance, Indexer
from imaging.models import PatientKey, Study
from imaging.services import _patient_ids
from imaging.storage import file_meta, relative_path

log = logging.getLogger("imaging.retrieve")
SUCCESS, CANNOT_UNDERSTAND, OUT_OF_RESOURCES = 0x0000, 0xC000, 0xA700
STUDY_MISMATCH = 0xA900  # as the node answers (imaging.dicom.node)


@dataclass(frozen=True)
class Retrieved:
    study_instance_uid: str
    instances: int  # stored now
    failed: int  # the archive could not send, or the hub could not keep
    already_held: bool


def _patient(
    session: Session, principal: Principal, national_id: str, country: str | None
) -> tuple[Patient, set[str]]:
    patient = session.scalar(
        select(Patient)
        .where(
            Patient.id.in_(_patient_ids(session, national_id, country)),
            patient_visibility(principal),
        )
        .limit(1)
    )
    if patient is None:
        raise NotFound("Not found.")
    ids = {patient.national_id}
    ids |= set(
        session.scalars(
            select(PatientKey.dicom_patient_id).where(PatientKey.patient_id == patient.id)
        )
    )
    return patient, ids


def _archive_patient_id(archive: CentralArchive, study_uid: str) -> str | None:
    """The PatientID the archive files the study under, or None if it does not hold it."""
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    query.PatientID = ""
    found = None
    for answer in archive.find([query], GET_TIMEOUTS):
        found = str(answer.get("PatientID", "") or "")
    return found


def retrieve_prior(
    app: Flask,
    session: Session,
    principal: Principal,
    settings: ImagingSettings,
    study_uid: str,
    national_id: str,
    country: str | None = None,
) -> Retrieved:
    """Fetch a patient's earlier study from the central archive into the hub's storage."""
    action = "imaging:prior:retrieved"
    require(principal, "imaging:read", action=action)
    if settings.central_pacs is None:
        raise Conflict("This hub has no central archive to fetch from.", code="no_archive")
    patient, patient_ids = _patient(session, principal, national_id, country)
    patient_id, facility_id = patient.id, patient.home_facility_id
    held = session.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
    # The reply may take a while: end the transaction (and SQLite's lock) before asking.
    session.commit()
    if held is None:
        archive = CentralArchive.from_settings(settings)
        filed_under = _archive_patient_id(archive, study_uid)
        if filed_under is None or filed_under not in patient_ids:
            # Not this patient's study (or not in the archive): say no more than not found.
            raise NotFound("Not found.")
        stored, failed = _get(app, archive, settings, study_uid, facility_id)
    else:
        stored, failed = 0, 0
    with db.transaction(app) as tx:
        tx.execute(
            update(Study)
            .where(Study.study_instance_uid == study_uid, Study.patient_id.is_(None))
            .values(patient_id=patient_id)
        )
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=patient_id,
        details={"study": study_uid, "instances": stored, "failed": failed},
    )
    return Retrieved(study_uid, stored, failed, held is not None)


def _get(
    app: Flask,
    archive: CentralArchive,
    settings: ImagingSettings,
    study_uid: str,
    facility_id: int,
) -> tuple[int, int]:
    """C-GET the study; every instance the archive sends is stored durably and indexed."""
    assert settings.central_pacs is not None
    factory = db.get_db(app).session_factory
    assert factory is not None
    # Never sent back where it came from, nor to the national dose node (the facility that
    # made the study sent it); its dose documents still count in the patient's history.
    intake = dose_intake(settings)
    indexer = Indexer(
        factory,
        forward=False,
        dose=None if intake is None else replace(intake, national_node=False),
    )
    store = storage.from_settings(settings)
    calling = settings.central_pacs.ae_title
    counts = {"stored": 0, "failed": 0}

    def on_instance(sop_class: str, sop_uid: str, syntax: str, data: bytes) -> int:
        try:
            parsed = parse(data, syntax, sop_class_uid=sop_class, sop_instance_uid=sop_uid)
        except MalformedDataset:
            counts["failed"] += 1
            return CANNOT_UNDERSTAND
        relative = relative_path(parsed.study_uid, parsed.sop_instance_uid)
        meta = file_meta(sop_class, sop_uid, syntax)
        try:
            store.write(relative, [meta, data])
        except OSError as exc:
            log.error("cannot keep a retrieved instance: %s", exc.strerror)
            counts["failed"] += 1
            return OUT_OF_RESOURCES
        try:
            indexer.add(parsed, relative, len(meta) + len(data), calling, facility_id)
        except DuplicateInstance:
            store.delete(relative)
            return SUCCESS
        except ForeignInstance as exc:
            # The hub holds this study for another facility or patient: never merged.
            store.delete(relative)
            log.warning("refused a retrieved instance: %s", exc.comment)
            counts["failed"] += 1
            return STUDY_MISMATCH
        except Exception as exc:
            store.delete(relative)
            # Only the type: a database error's text carries the row's values.
            log.error("cannot keep a retrieved instance: %s", type(exc).__name__)
            counts["failed"] += 1
            return OUT_OF_RESOURCES
        counts["stored"] += 1
        return SUCCESS

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    archive.get(query, on_instance)
    return counts["stored"], counts["failed"]
