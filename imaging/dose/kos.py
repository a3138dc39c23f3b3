"""The Key Object Selection document (highdicom ``ko``) sent with a study's dose SRs: it names
the dose SRs and the study's images, with the evidence sequence highdicom builds from them.

Patient and study attributes come from the first dose SR (the node files the KOS beside it);
the images are named from the index (class, instance and series UIDs), so no image file is
read to build it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import pydicom
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian

from imaging.storage import file_meta

# CID 7010 "Key Object Selection Document Title".
OF_INTEREST = Code("113000", "DCM", "Of Interest")
DESCRIPTION = "Radiation dose report"
_INHERITED = (
    "PatientID",
    "IssuerOfPatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "ReferringPhysicianName",
)


@dataclass(frozen=True)
class Reference:
    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str


def _reference(template: Dataset, ref: Reference) -> Dataset:
    ds = Dataset()
    for keyword in _INHERITED:
        if keyword in template:
            setattr(ds, keyword, getattr(template, keyword))
    ds.SOPClassUID = ref.sop_class_uid
    ds.SOPInstanceUID = ref.sop_instance_uid
    ds.SeriesInstanceUID = ref.series_instance_uid
    return ds


def build(
    dose_reports: Sequence[Path],
    images: Sequence[Reference],
    *,
    sop_instance_uid: str,
    series_instance_uid: str,
    manufacturer: str,
) -> Dataset:
    """The KOS naming these dose SRs (stored files) and images."""
    reports = [pydicom.dcmread(path, stop_before_pixels=True) for path in dose_reports]
    if not reports:
        raise ValueError("a dose KOS needs at least one dose report")
    first = reports[0]
    for keyword in _INHERITED:
        # Type 2 in the KOS: present, empty when the dose SR left it out.
        if keyword not in first and keyword != "IssuerOfPatientID":
            setattr(first, keyword, "")
    referenced = [*reports, *(_reference(first, image) for image in images)]
    content = hd.ko.KeyObjectSelection(
        document_title=OF_INTEREST, referenced_objects=referenced, description=DESCRIPTION
    )
    return hd.ko.KeyObjectSelectionDocument(
        evidence=referenced,
        content=content,
        series_instance_uid=series_instance_uid,
        series_number=9901,
        sop_instance_uid=sop_instance_uid,
        instance_number=1,
        manufacturer=manufacturer,
    )


def write(kos: Dataset, path: Path) -> None:
    """The KOS as a Part 10 file laid out as the node stores instances (the sender's format)."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, kos)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(
        file_meta(str(kos.SOPClassUID), str(kos.SOPInstanceUID), ExplicitVRLittleEndian)
        + fp.getvalue()
    )
    tmp.replace(path)
