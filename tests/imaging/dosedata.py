"""Synthetic X-Ray Radiation Dose SRs for tests: content trees built with highdicom's content
items (TID 10011 and TID 10001 shapes), wrapped in a pydicom document, written as Part 10."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import pydicom
from flask import Flask
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from hub import db
from imaging import storage as storage_module
from imaging.dicom.parse import parse
from imaging.dose.ingest import DoseIntake
from imaging.dose.parse import RDSR_CLASS
from imaging.index import DuplicateInstance, Indexer
from imaging.storage import file_meta, relative_path

CONTAINS = "CONTAINS"


def dcm(value: str, meaning: str) -> Code:
    return Code(value, "DCM", meaning)


def unit(value: str) -> Code:
    return Code(value, "UCUM", value)


def num(code: Code, value: float, units: str) -> hd.sr.NumContentItem:
    return hd.sr.NumContentItem(code, value, unit(units), relationship_type=CONTAINS)


def container(code: Code, items: Sequence[Dataset], relationship: str | None = CONTAINS) -> Dataset:
    item = hd.sr.ContainerContentItem(code, relationship_type=relationship)
    item.ContentSequence = list(items)
    return item


@dataclass
class CtEvent:
    ctdivol: float
    dlp: float
    phantom: str = "113691"  # body
    uid: str | None = None
    ssde: float | None = None
    protocol: str = "ABDOMEN"
    units: tuple[str, str] = ("mGy", "mGy.cm")


def _document(
    content: list[Dataset],
    root: Code,
    *,
    study_uid: str,
    patient_id: str,
    sop_class: str = RDSR_CLASS,
    sop_uid: str | None = None,
    modality_procedure: Code,
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.PatientID = patient_id
    ds.PatientName = "Test^Dose"
    ds.StudyDate = "20260301"
    ds.StudyTime = "101500"
    ds.AccessionNumber = "A1"
    ds.StudyID = "1"
    ds.SeriesNumber = 99
    ds.InstanceNumber = 1
    ds.Manufacturer = "TestVendor"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ContentDate = "20260301"
    ds.ContentTime = "101500"
    name = Dataset()
    name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = (
        root.value,
        root.scheme_designator,
        root.meaning,
    )
    ds.ConceptNameCodeSequence = [name]
    procedure = hd.sr.CodeContentItem(
        dcm("121058", "Procedure reported"), modality_procedure, relationship_type="HAS CONCEPT MOD"
    )
    ds.ContentSequence = [procedure, *content]
    return ds


def ct_rdsr(
    events: Sequence[CtEvent],
    *,
    study_uid: str | None = None,
    patient_id: str = "P1",
    dlp_total: float | None = None,
    dlp_total_unit: str = "mGy.cm",
    sop_uid: str | None = None,
) -> Dataset:
    """A TID 10011 CT Radiation Dose report."""
    total = dlp_total if dlp_total is not None else sum(e.dlp for e in events)
    accumulated = container(
        dcm("113811", "CT Accumulated Dose Data"),
        [
            num(dcm("113812", "Total Number of Irradiation Events"), len(events), "{events}"),
            num(dcm("113813", "CT Dose Length Product Total"), total, dlp_total_unit),
        ],
    )
    acquisitions = []
    for event in events:
        dose_items: list[Dataset] = [
            num(dcm("113830", "Mean CTDIvol"), event.ctdivol, event.units[0]),
            hd.sr.CodeContentItem(
                dcm("113835", "CTDIw Phantom Type"),
                dcm(event.phantom, "phantom"),
                relationship_type=CONTAINS,
            ),
            num(dcm("113838", "DLP"), event.dlp, event.units[1]),
        ]
        if event.ssde is not None:
            dose_items.append(
                num(dcm("113930", "Size Specific Dose Estimation"), event.ssde, "mGy")
            )
        acquisitions.append(
            container(
                dcm("113819", "CT Acquisition"),
                [
                    hd.sr.TextContentItem(
                        dcm("125203", "Acquisition Protocol"), event.protocol, CONTAINS
                    ),
                    hd.sr.UIDRefContentItem(
                        dcm("113769", "Irradiation Event UID"),
                        event.uid or generate_uid(),
                        CONTAINS,
                    ),
                    container(dcm("113829", "CT Dose"), dose_items),
                ],
            )
        )
    return _document(
        [accumulated, *acquisitions],
        dcm("113701", "X-Ray Radiation Dose Report"),
        study_uid=study_uid or generate_uid(),
        patient_id=patient_id,
        sop_uid=sop_uid,
        modality_procedure=Code("77477000", "SCT", "Computed Tomography X-Ray"),
    )


def projection_rdsr(
    daps: Sequence[tuple[float, str]],
    *,
    dap_total: tuple[float, str] | None,
    study_uid: str | None = None,
    patient_id: str = "P1",
    fluoro_time: tuple[float, str] | None = None,
    event_uids: Sequence[str] | None = None,
) -> Dataset:
    """A TID 10001 Projection X-Ray report: one event per (DAP, unit)."""
    accumulated_items: list[Dataset] = []
    if dap_total is not None:
        accumulated_items.append(num(dcm("113722", "Dose Area Product Total"), *dap_total))
    if fluoro_time is not None:
        accumulated_items.append(num(dcm("113730", "Total Fluoro Time"), *fluoro_time))
    items: list[Dataset] = [
        container(dcm("113702", "Accumulated X-Ray Dose Data"), accumulated_items)
    ]
    for index, (value, units) in enumerate(daps):
        uid = event_uids[index] if event_uids else generate_uid()
        items.append(
            container(
                dcm("113706", "Irradiation Event X-Ray Data"),
                [
                    hd.sr.UIDRefContentItem(dcm("113769", "Irradiation Event UID"), uid, CONTAINS),
                    num(dcm("122130", "Dose Area Product"), value, units),
                ],
            )
        )
    return _document(
        items,
        dcm("113701", "X-Ray Radiation Dose Report"),
        study_uid=study_uid or generate_uid(),
        patient_id=patient_id,
        modality_procedure=dcm("113704", "Projection X-Ray"),
    )


def part10(ds: Dataset) -> bytes:
    """The dataset as a Part 10 file (explicit VR little endian)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def store(
    app: Flask,
    facility_id: int,
    datasets: Sequence[Dataset],
    *,
    national_node: bool = False,
    calling_ae: str = "DEMOPOST",
) -> list[str]:
    """Store and index instances exactly as the node does on C-STORE, dose documents read;
    returns each instance's outcome ("stored", "duplicate")."""
    factory = db.get_db(app).session_factory
    assert factory is not None
    root = app.config["HUB_SETTINGS"].imaging.storage_dir
    indexer = Indexer(factory, forward=False, dose=DoseIntake(root, national_node=national_node))
    files = storage_module.from_settings(app.config["HUB_SETTINGS"].imaging)
    outcomes = []
    for ds in datasets:
        data = encode(ds)
        syntax = ExplicitVRLittleEndian
        parsed = parse(
            data, syntax, sop_class_uid=str(ds.SOPClassUID), sop_instance_uid=str(ds.SOPInstanceUID)
        )
        relative = relative_path(parsed.study_uid, parsed.sop_instance_uid)
        meta = file_meta(str(ds.SOPClassUID), str(ds.SOPInstanceUID), syntax)
        if indexer.stored(parsed.sop_instance_uid) is not None:
            outcomes.append("duplicate")  # the node answers success and keeps the first copy
            continue
        size = files.write(relative, [meta, data])
        try:
            indexer.add(parsed, relative, size, calling_ae, facility_id)
        except DuplicateInstance:
            outcomes.append("duplicate")
            continue
        outcomes.append("stored")
    return outcomes


def encode(ds: Dataset) -> bytes:
    """The dataset without file meta, explicit VR little endian (as a C-STORE carries it)."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, ds)
    return fp.getvalue()


def from_file(path: Path, *, study_uid: str, patient_id: str) -> Dataset:
    """A corpus file moved into a test study and patient (its dose content untouched)."""
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID = study_uid
    ds.PatientID = patient_id
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    if "IssuerOfPatientID" in ds:
        del ds.IssuerOfPatientID
    return ds
