"""DICOM JSON (PS3.18 F.2) of the index's rows, and the attributes QIDO-RS matches on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

Json = dict[str, Any]

# Attributes by the level of the index that holds them (keyword → tag).
STUDY_UID = "0020000D"
SERIES_UID = "0020000E"
SOP_UID = "00080018"


def tag_of(name: str) -> str | None:
    """The 8-hex-digit tag of a keyword (``PatientID``) or a tag (``00100020``); None if neither
    names an attribute of the data dictionary."""
    text = name.strip()
    if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        tag = int(text, 16)
        return f"{tag:08X}" if keyword_for_tag(tag) else None
    found = tag_for_keyword(text)
    return None if found is None else f"{found:08X}"


def keyword_of(tag: str) -> str:
    return keyword_for_tag(int(tag, 16)) or tag


def element(tag: str, value: object) -> Json:
    """One element: ``{"vr": ..., "Value": [...]}``; an empty value has no ``Value``."""
    vr = dictionary_VR(int(tag, 16))
    if value is None or value == "" or value == []:
        return {"vr": vr}
    values = list(value) if isinstance(value, list | tuple) else [value]
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": str(v)} for v in values]}
    if vr == "DA":
        values = [v.strftime("%Y%m%d") if isinstance(v, date) else str(v) for v in values]
    elif vr in ("IS", "US", "UL", "SL", "SS"):
        values = [int(str(v)) for v in values]
    return {"vr": vr, "Value": values}


@dataclass(frozen=True)
class Level:
    """What one QIDO level answers: its default attributes, those it adds on ``includefield``,
    and those it matches on."""

    name: str
    default: tuple[str, ...]
    extra: tuple[str, ...]
    matching: frozenset[str]

    def fields(self, included: Iterable[str] | None) -> list[str]:
        """The attributes of an answer: the defaults, and all of ``extra`` or those included."""
        if included is None:
            return list(self.default)
        wanted = set(included)
        chosen = list(self.default)
        chosen += [t for t in self.extra if "all" in wanted or t in wanted]
        return chosen


def _tags(*keywords: str) -> tuple[str, ...]:
    out = []
    for kw in keywords:
        tag = tag_of(kw)
        assert tag is not None, kw
        out.append(tag)
    return tuple(out)


STUDY = Level(
    "study",
    _tags(
        "SpecificCharacterSet",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
        "RetrieveURL",
    ),
    _tags("StudyDescription", "IssuerOfPatientID", "InstitutionName"),
    frozenset(
        _tags(
            "StudyInstanceUID",
            "PatientID",
            "PatientName",
            "StudyDate",
            "AccessionNumber",
            "ModalitiesInStudy",
            "StudyID",
            "StudyDescription",
            "ReferringPhysicianName",
        )
    ),
)
SERIES = Level(
    "series",
    _tags(
        "SpecificCharacterSet",
        "Modality",
        "SeriesDescription",
        "SeriesInstanceUID",
        "SeriesNumber",
        "NumberOfSeriesRelatedInstances",
        "StudyInstanceUID",
        "RetrieveURL",
    ),
    _tags("BodyPartExamined"),
    frozenset(_tags("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription")),
)
INSTANCE = Level(
    "instance",
    _tags(
        "SpecificCharacterSet",
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceAvailability",
        "InstanceNumber",
        "NumberOfFrames",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "RetrieveURL",
    ),
    _tags("AvailableTransferSyntaxUID"),
    frozenset(_tags("SOPInstanceUID", "SOPClassUID", "InstanceNumber")),
)
