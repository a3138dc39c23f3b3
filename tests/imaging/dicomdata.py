"""DICOM test data generated on the fly with pydicom (no binary fixtures in the repository)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

CT_IMAGE = UID("1.2.840.10008.5.1.4.1.1.2")
BASIC_TEXT_SR = UID("1.2.840.10008.5.1.4.1.1.88.11")
KEY_OBJECT_SELECTION = UID("1.2.840.10008.5.1.4.1.1.88.59")


def _meta(sop_class: UID, sop_uid: UID, syntax: UID) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = syntax
    return meta


def patient_study(
    ds: Dataset,
    *,
    patient_id: str,
    study_uid: str,
    series_uid: str,
    study_date: date,
    modality: str = "CT",
    name: str = "TEST^PATIENT",
) -> None:
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyDate = study_date.strftime("%Y%m%d")
    ds.StudyTime = "101010"
    ds.AccessionNumber = "ACC1"
    ds.StudyID = "1"
    ds.StudyDescription = "CHEST"
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.SeriesNumber = 1


def ct_instance(
    *,
    patient_id: str,
    study_uid: str,
    series_uid: str,
    number: int,
    size: int = 512,
    study_date: date = date(2024, 5, 1),
    syntax: UID = ExplicitVRLittleEndian,
    name: str = "TEST^PATIENT",
    phantom: bool = False,
) -> Dataset:
    """One CT slice: ``size``² 16-bit pixels (512: ~0.5 MB), a gradient that changes per slice,
    or with ``phantom`` a body with lungs, spine and a scanner's noise (what compression
    figures need: a gradient compresses to almost nothing)."""
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = _meta(CT_IMAGE, sop_uid, syntax)
    ds.SOPClassUID = CT_IMAGE
    ds.SOPInstanceUID = sop_uid
    patient_study(
        ds,
        patient_id=patient_id,
        study_uid=study_uid,
        series_uid=series_uid,
        study_date=study_date,
        name=name,
    )
    ds.InstanceNumber = number
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = size
    ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    ds.SliceLocation = float(number)
    yy, xx = np.mgrid[0:size, 0:size]
    gradient = (xx + yy + number * 7) % 2048
    pixels = _phantom(size, number) if phantom else gradient.astype(np.int16)
    if syntax == RLELossless:
        ds.compress(RLELossless, pixels, encoding_plugin="pydicom")
    else:
        ds.PixelData = pixels.tobytes()
    ds.set_original_encoding(syntax == ImplicitVRLittleEndian, True)
    return ds


def _phantom(size: int, number: int) -> np.ndarray:
    """Stored values (HU + 1024) of a chest-like slice: air, a body of soft tissue, two lungs
    and a spine, with Gaussian noise of 12 HU, varying per slice."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    hu = np.full((size, size), -1000.0)
    hu[(xx - 0.5) ** 2 / 0.42**2 + (yy - 0.5) ** 2 / 0.3**2 < 1] = 40
    shift = 0.02 * np.sin(number / 10)
    for centre in (0.32, 0.68):
        hu[(xx - centre) ** 2 / 0.12**2 + (yy - 0.45 - shift) ** 2 / 0.18**2 < 1] = -850
    hu[(xx - 0.5) ** 2 + (yy - 0.72) ** 2 < 0.05**2] = 700
    hu += np.random.default_rng(number).normal(0, 12, hu.shape)
    return np.clip(hu + 1024, -1024, 3071).astype(np.int16)


def sr_instance(
    *,
    patient_id: str,
    study_uid: str,
    series_uid: str,
    sop_class: UID = BASIC_TEXT_SR,
    study_date: date = date(2024, 5, 1),
) -> Dataset:
    """A minimal report (SR) or key object selection document."""
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = _meta(sop_class, sop_uid, ExplicitVRLittleEndian)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    patient_study(
        ds,
        patient_id=patient_id,
        study_uid=study_uid,
        series_uid=series_uid,
        study_date=study_date,
        modality="SR" if sop_class == BASIC_TEXT_SR else "KO",
    )
    ds.InstanceNumber = 1
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    concept = Dataset()
    concept.CodeValue = "18748-4"
    concept.CodingSchemeDesignator = "LN"
    concept.CodeMeaning = "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = [concept]
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "TEXT"
    item.TextValue = "No acute findings."
    item.ConceptNameCodeSequence = [concept]
    ds.ContentSequence = [item]
    ds.set_original_encoding(False, True)
    return ds


def write_study(
    directory: Path,
    *,
    patient_id: str,
    count: int,
    size: int = 512,
    study_date: date = date(2024, 5, 1),
    syntax: UID = ExplicitVRLittleEndian,
    study_uid: str | None = None,
) -> tuple[str, list[Path]]:
    """``count`` CT slices of one new study written as Part 10 files; (study UID, paths)."""
    directory.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    paths = []
    for n in range(1, count + 1):
        ds = ct_instance(
            patient_id=patient_id,
            study_uid=study_uid,
            series_uid=series_uid,
            number=n,
            size=size,
            study_date=study_date,
            syntax=syntax,
        )
        path = directory / f"{n:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return study_uid, paths
