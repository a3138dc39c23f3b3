"""Putting studies into the index through the node's own storage and indexing code (without a
network round trip), for API, link and retention tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Flask
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from hub import db
from hub.models import Facility
from imaging import storage as storage_module
from imaging.dicom.parse import parse
from imaging.index import Indexer
from imaging.storage import Storage, file_meta, relative_path
from tests.imaging.dicomdata import ct_instance, sr_instance


@dataclass
class Ingested:
    study_uid: str
    sop_uids: list[str]


def _encode(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, ds)
    return fp.getvalue()


def storage(app: Flask) -> Storage:
    return storage_module.from_settings(app.config["HUB_SETTINGS"].imaging)


def store(
    app: Flask,
    facility: Facility,
    datasets: list[Dataset],
    *,
    forward: bool = False,
    calling_ae: str = "TESTMOD",
) -> list[str]:
    """Store and index ``datasets`` exactly as the node does on C-STORE; their SOP Instance
    UIDs."""
    factory = db.get_db(app).session_factory
    assert factory is not None
    indexer = Indexer(factory, forward=forward)
    files = storage(app)
    uids = []
    for ds in datasets:
        data = _encode(ds)
        stored = str(ds.file_meta.TransferSyntaxUID)
        parsed = parse(
            data, stored, sop_class_uid=str(ds.SOPClassUID), sop_instance_uid=str(ds.SOPInstanceUID)
        )
        relative = relative_path(str(ds.StudyInstanceUID), parsed.sop_instance_uid)
        size_written = files.write(
            relative, [file_meta(str(ds.SOPClassUID), str(ds.SOPInstanceUID), stored), data]
        )
        indexer.add(parsed, relative, size_written, calling_ae, facility.id)
        uids.append(str(ds.SOPInstanceUID))
    return uids


def ingest(
    app: Flask,
    facility: Facility,
    patient_id: str,
    *,
    images: int = 3,
    reports: int = 0,
    size: int = 32,
    study_date: date = date(2024, 5, 1),
    forward: bool = False,
    calling_ae: str = "TESTMOD",
    urgent: bool = False,
    syntax: UID = ExplicitVRLittleEndian,
    phantom: bool = False,
) -> Ingested:
    """Store and index a new study exactly as the node does on C-STORE."""
    study_uid, series_uid = generate_uid(), generate_uid()
    datasets = [
        ct_instance(
            patient_id=patient_id,
            study_uid=study_uid,
            series_uid=series_uid,
            number=n,
            size=size,
            study_date=study_date,
            syntax=syntax,
            phantom=phantom,
        )
        for n in range(1, images + 1)
    ]
    report_series = generate_uid()
    datasets += [
        sr_instance(
            patient_id=patient_id,
            study_uid=study_uid,
            series_uid=report_series,
            study_date=study_date,
        )
        for _ in range(reports)
    ]
    for ds in datasets:
        if urgent:
            ds.StudyPriorityID = "HIGH"
    uids = store(app, facility, datasets, forward=forward, calling_ae=calling_ae)
    return Ingested(study_uid, uids)
