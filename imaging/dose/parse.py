"""Reading an X-Ray Radiation Dose SR by concept codes (DICOM PS3.16), never by meanings.

Templates read: TID 10011 CT Radiation Dose (with 10012 CT Accumulated Dose Data, 10013 CT
Irradiation Event Data, 10014 Scanning Length, 10015 CT Dose Check Details) and TID 10001
Projection X-Ray Radiation Dose (with 10002 Accumulated X-Ray Dose, 10003 Irradiation Event
X-Ray Data and its 10003a-c detector, source and mechanical data, 10004 accumulated
fluoroscopy and acquisition, 10005 accumulated mammography, 10007 integrated projection
radiography). The same templates inside an Enhanced or Comprehensive SR (older GE dose
reports) read the same way. A code is its value and coding scheme; SNOMED codes may be written
in the retired SRT form or the SCT form, and both are known.

Every value is converted to the hub's units (:mod:`imaging.dose.units`); a value whose unit
cannot be converted is left out and named in ``problems``. A document that is not a dose
report, or is not a readable SR, raises :class:`NotADoseReport` with a reason that carries no
attribute values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from imaging.dose.units import Quantity, convert

Code = tuple[str, str]  # (code value, coding scheme designator)

RDSR_CLASS = "1.2.840.10008.5.1.4.1.1.88.67"  # X-Ray Radiation Dose SR
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
# Classes that may carry a dose report (older devices wrote TID 10011 in an Enhanced SR).
DOSE_CLASSES = frozenset({RDSR_CLASS, ENHANCED_SR, COMPREHENSIVE_SR, COMPREHENSIVE_3D_SR})
MAX_DEPTH = 24  # TID 10011 nests five deep; anything far deeper is broken or hostile


def dcm(value: str) -> Code:
    return (value, "DCM")


# --- concept codes (PS3.16 Annex D, DCM) --------------------------------------------------
DOSE_REPORT = dcm("113701")
PROCEDURE_REPORTED = dcm("121058")
DEVICE_MANUFACTURER = dcm("121014")
DEVICE_MODEL = dcm("121015")
DEVICE_SERIAL = dcm("121016")
DEVICE_NAME = dcm("121013")
DEVICE_UID = dcm("121012")
START_OF_IRRADIATION = dcm("113809")
CT_ACCUMULATED = dcm("113811")
CT_EVENTS_TOTAL = dcm("113812")
CT_DLP_TOTAL = dcm("113813")
CT_ACQUISITION = dcm("113819")
CT_ACQUISITION_TYPE = dcm("113820")
CT_DOSE = dcm("113829")
MEAN_CTDIVOL = dcm("113830")
PHANTOM_TYPE = dcm("113835")
DLP = dcm("113838")
SSDE = dcm("113930")
EXPOSURE_TIME = dcm("113824")
ACQUISITION_PROTOCOL = dcm("125203")
TARGET_REGION = dcm("123014")
EVENT_UID = dcm("113769")
DATETIME_STARTED = dcm("111526")
ACCUMULATED_XRAY = dcm("113702")
XRAY_EVENT = dcm("113706")
EVENT_TYPE = dcm("113721")
DAP_TOTAL = dcm("113722")
DOSE_RP_TOTAL = dcm("113725")
FLUORO_TIME_TOTAL = dcm("113730")
ACQUISITION_TIME_TOTAL = dcm("113855")
ACCUMULATED_AGD = dcm("111637")
DAP = dcm("122130")
DOSE_RP = dcm("113738")
AGD = dcm("111631")
IRRADIATION_DURATION = dcm("113742")
DOSE_CHECK_ALERT = dcm("113900")
DOSE_CHECK_NOTIFICATION = dcm("113908")
HEAD_PHANTOM = dcm("113690")
BODY_PHANTOM = dcm("113691")
LATERALITY = (("G-C171", "SRT"), ("272741003", "SCT"))
LEFT = {("T-04030", "SRT"), ("80248007", "SCT"), ("G-A101", "SRT"), ("7771000", "SCT")}
RIGHT = {("T-04020", "SRT"), ("73056007", "SCT"), ("G-A100", "SRT"), ("24028007", "SCT")}
CT_PROCEDURE = {("P5-08000", "SRT"), ("77477000", "SCT")}
MAMMOGRAPHY = {("P5-40010", "SRT"), ("71651007", "SCT")}
FLUOROSCOPY = {("P5-06000", "SRT"), ("44491008", "SCT")}
BREAST = {("T-04000", "SRT"), ("76752008", "SCT")}
# TID 10015: the values of a dose check alert or notification, by concept code.
DOSE_CHECK_VALUES = {
    dcm("113903"): "dlp_alert_value",
    dcm("113904"): "ctdivol_alert_value",
    dcm("113905"): "accumulated_dlp_forward_estimate",
    dcm("113906"): "accumulated_ctdivol_forward_estimate",
    dcm("113911"): "dlp_notification_value",
    dcm("113912"): "ctdivol_notification_value",
    dcm("113913"): "dlp_forward_estimate",
    dcm("113914"): "ctdivol_forward_estimate",
}
_DOSE_CHECK_UNITS = {"dlp": Quantity.DLP, "ctdivol": Quantity.DOSE}
# Siemens' radiation summary (fluoroscopy units without an RDSR): its own coding scheme.
SIEMENS_SUMMARY = ("C-10", "99SMS_RADSUM")
SIEMENS_FLUORO_TIME = ("C-202", "99SMS_RADSUM")
SIEMENS_DAP = ("C-204", "99SMS_RADSUM")


class NotADoseReport(ValueError):
    """The document is no dose report the hub can read; the reason names no values."""


@dataclass
class Event:
    """One irradiation event (TID 10013 or TID 10003), in the hub's units."""

    uid: str | None
    kind: str  # "ct" | "projection"
    started: str | None = None  # DICOM DT as written
    protocol: str | None = None
    target_region: str | None = None  # code meaning for display (never used to match)
    target_region_code: str | None = None  # "value^scheme"
    acquisition_type: str | None = None  # "value^scheme"
    ctdivol_mgy: float | None = None
    dlp_mgycm: float | None = None
    phantom: str | None = None  # "head" | "body" | other code "value^scheme"
    ssde_mgy: float | None = None
    dap_gym2: float | None = None
    dose_rp_gy: float | None = None
    agd_mgy: float | None = None
    exposure_time_s: float | None = None
    laterality: str | None = None  # "left" | "right"
    fluoroscopy: bool = False
    dose_check: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DoseReport:
    """A dose document's facts: the accumulated totals and its irradiation events."""

    sop_instance_uid: str
    study_uid: str
    template: str  # "10011" | "10001" | "vendor"
    modality: str  # CT | MG | RF | DX
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    station: str | None = None
    device_uid: str | None = None
    started: str | None = None
    events_declared: int | None = None
    ct_dlp_mgycm: float | None = None
    dap_gym2: float | None = None
    agd_mgy: float | None = None
    agd_by_laterality: dict[str, float] = field(default_factory=dict)
    dose_rp_gy: float | None = None
    fluoro_time_s: float | None = None
    acquisition_time_s: float | None = None
    events: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, float | None]:
        return {
            "ct_dlp_mgycm": self.ct_dlp_mgycm,
            "dap_gym2": self.dap_gym2,
            "agd_mgy": self.agd_mgy,
            "dose_rp_gy": self.dose_rp_gy,
        }


# --- reading content items ----------------------------------------------------------------


def _code(item: Dataset | None) -> Code | None:
    if item is None:
        return None
    value = (
        getattr(item, "CodeValue", None)
        or getattr(item, "LongCodeValue", None)
        or getattr(item, "URNCodeValue", None)
    )
    scheme = getattr(item, "CodingSchemeDesignator", None)
    if not value or not scheme:
        return None
    return (str(value).strip(), str(scheme).strip())


def _first(item: Dataset, keyword: str) -> Dataset | None:
    seq = getattr(item, keyword, None)
    if not seq:
        return None
    first = seq[0]
    return first if isinstance(first, Dataset) else None


def concept(item: Dataset) -> Code | None:
    return _code(_first(item, "ConceptNameCodeSequence"))


def children(item: Dataset) -> list[Dataset]:
    seq = getattr(item, "ContentSequence", None)
    return [child for child in seq or () if isinstance(child, Dataset)]


def _index(item: Dataset) -> dict[Code | None, list[Dataset]]:
    """The item's children by concept name, built once per item: templates look items up by
    name many times, and each pydicom attribute access costs more than the lookup."""
    cached: dict[Code | None, list[Dataset]] | None = item.__dict__.get("_dose_children")
    if cached is None:
        cached = {}
        for child in children(item):
            cached.setdefault(concept(child), []).append(child)
        item.__dict__["_dose_children"] = cached
    return cached


def find(item: Dataset, name: Code | tuple[Code, ...]) -> Iterator[Dataset]:
    names = name if isinstance(name[0], tuple) else (name,)
    index = _index(item)
    for one in names:
        yield from index.get(one, ())


def find_one(item: Dataset, name: Code | tuple[Code, ...]) -> Dataset | None:
    return next(find(item, name), None)


def code_value(item: Dataset | None) -> Code | None:
    return None if item is None else _code(_first(item, "ConceptCodeSequence"))


def code_meaning(item: Dataset | None) -> str | None:
    concept_code = None if item is None else _first(item, "ConceptCodeSequence")
    meaning = getattr(concept_code, "CodeMeaning", None) if concept_code is not None else None
    return str(meaning) if meaning else None


def text(item: Dataset | None) -> str | None:
    if item is None:
        return None
    for keyword in ("TextValue", "UID", "DateTime"):
        value = getattr(item, keyword, None)
        if value not in (None, ""):
            return str(value).strip()[:255]
    return None


def number(item: Dataset | None) -> tuple[float, str] | None:
    """A NUM item's value and its unit's code value; None when empty (TID 1400 qualifiers)."""
    if item is None:
        return None
    measured = _first(item, "MeasuredValueSequence")
    if measured is None:
        return None
    raw = getattr(measured, "NumericValue", None)
    if raw in (None, ""):
        raw = getattr(measured, "FloatingPointValue", None)
    if raw in (None, ""):
        return None
    try:
        value = float(Decimal(str(raw).strip()))
    except (InvalidOperation, ValueError):
        return None
    unit = _code(_first(measured, "MeasurementUnitsCodeSequence"))
    return value, unit[0] if unit else ""


class _Reader:
    def __init__(self, report: DoseReport) -> None:
        self.report = report

    def value(self, item: Dataset | None, quantity: Quantity, what: str) -> float | None:
        found = number(item)
        if found is None:
            return None
        value, unit = found
        converted = convert(value, unit, quantity)
        if converted is None:
            problem = f"{what}: unit not understood"
            if problem not in self.report.problems:
                self.report.problems.append(problem)
        return converted

    def named(self, parent: Dataset, name: Code, quantity: Quantity, what: str) -> float | None:
        return self.value(find_one(parent, name), quantity, what)


def _laterality(item: Dataset) -> str | None:
    modifier = find_one(item, LATERALITY)
    code = code_value(modifier)
    if code in LEFT:
        return "left"
    if code in RIGHT:
        return "right"
    return None


def _code_text(code: Code | None) -> str | None:
    return None if code is None else f"{code[0]}^{code[1]}"


def _check_depth(item: Dataset, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise NotADoseReport("the content tree is nested too deeply")
    for child in children(item):
        _check_depth(child, depth + 1)


# --- templates ----------------------------------------------------------------------------


def _ct_event(reader: _Reader, item: Dataset) -> Event:
    """TID 10013 CT Irradiation Event Data (with TID 10015 dose check details)."""
    event = Event(uid=text(find_one(item, EVENT_UID)), kind="ct")
    event.protocol = text(find_one(item, ACQUISITION_PROTOCOL))
    region = find_one(item, TARGET_REGION)
    event.target_region = code_meaning(region)
    event.target_region_code = _code_text(code_value(region))
    event.acquisition_type = _code_text(code_value(find_one(item, CT_ACQUISITION_TYPE)))
    for parameters in find(item, dcm("113822")):  # CT Acquisition Parameters
        event.exposure_time_s = reader.named(parameters, EXPOSURE_TIME, Quantity.TIME, "time")
    dose = find_one(item, CT_DOSE)
    if dose is not None:
        event.ctdivol_mgy = reader.named(dose, MEAN_CTDIVOL, Quantity.DOSE, "CTDIvol")
        event.dlp_mgycm = reader.named(dose, DLP, Quantity.DLP, "DLP")
        event.ssde_mgy = reader.named(dose, SSDE, Quantity.DOSE, "SSDE")
        phantom = code_value(find_one(dose, PHANTOM_TYPE))
        event.phantom = (
            "head"
            if phantom == HEAD_PHANTOM
            else "body"
            if phantom == BODY_PHANTOM
            else _code_text(phantom)
        )
        for check in (*find(dose, DOSE_CHECK_ALERT), *find(dose, DOSE_CHECK_NOTIFICATION)):
            for child in children(check):
                key = DOSE_CHECK_VALUES.get(concept(child) or ("", ""))
                if key is None:
                    continue
                quantity = _DOSE_CHECK_UNITS["dlp" if "dlp" in key else "ctdivol"]
                value = reader.value(child, quantity, "dose check")
                if value is not None:
                    event.dose_check[key] = value
    if event.ssde_mgy is None:  # SSDE may sit beside the CT Dose container too
        event.ssde_mgy = reader.named(item, SSDE, Quantity.DOSE, "SSDE")
    return event


def _xray_event(reader: _Reader, item: Dataset) -> Event:
    """TID 10003 Irradiation Event X-Ray Data (and its 10003a-c sub-templates' items)."""
    event = Event(uid=text(find_one(item, EVENT_UID)), kind="projection")
    event.started = text(find_one(item, DATETIME_STARTED))
    event.protocol = text(find_one(item, ACQUISITION_PROTOCOL))
    region = find_one(item, TARGET_REGION)
    event.target_region = code_meaning(region)
    event.target_region_code = _code_text(code_value(region))
    kind = code_value(find_one(item, EVENT_TYPE))
    event.acquisition_type = _code_text(kind)
    event.fluoroscopy = kind in FLUOROSCOPY
    event.dap_gym2 = reader.named(item, DAP, Quantity.DAP, "DAP")
    event.dose_rp_gy = reader.named(item, DOSE_RP, Quantity.DOSE_RP, "dose (RP)")
    event.agd_mgy = reader.named(item, AGD, Quantity.DOSE, "AGD")
    # TID 10003b places source data beside the event's items or in its own container.
    sources = [item, *find(item, dcm("113771")), *find(item, dcm("113700"))]
    for source in sources:
        if event.exposure_time_s is None:
            event.exposure_time_s = reader.named(source, EXPOSURE_TIME, Quantity.TIME, "time")
        if event.exposure_time_s is None:
            event.exposure_time_s = reader.named(
                source, IRRADIATION_DURATION, Quantity.TIME, "time"
            )
    for anatomy in find(item, (("T-D0005", "SRT"), ("91723000", "SCT"))):
        event.laterality = _laterality(anatomy)
    if event.laterality is None:
        event.laterality = _laterality(region) if region is not None else None
    return event


def _ct(reader: _Reader, root: Dataset) -> None:
    report = reader.report
    accumulated = find_one(root, CT_ACCUMULATED)
    if accumulated is not None:
        declared = number(find_one(accumulated, CT_EVENTS_TOTAL))
        report.events_declared = int(declared[0]) if declared else None
        report.ct_dlp_mgycm = reader.named(accumulated, CT_DLP_TOTAL, Quantity.DLP, "DLP total")
    report.events = [_ct_event(reader, item) for item in find(root, CT_ACQUISITION)]
    if report.ct_dlp_mgycm is None:
        dlps = [e.dlp_mgycm for e in report.events if e.dlp_mgycm is not None]
        if dlps:
            report.ct_dlp_mgycm = sum(dlps)
            report.problems.append("DLP total: summed from the events")


def _projection(reader: _Reader, root: Dataset) -> None:
    report = reader.report
    dap = rp = fluoro = acquisition = 0.0
    have_dap = have_rp = have_fluoro = have_acquisition = False
    # Biplane systems write one accumulated container per plane: the totals add up.
    for accumulated in find(root, ACCUMULATED_XRAY):
        value = reader.named(accumulated, DAP_TOTAL, Quantity.DAP, "DAP total")
        if value is not None:
            dap, have_dap = dap + value, True
        value = reader.named(accumulated, DOSE_RP_TOTAL, Quantity.DOSE_RP, "dose (RP) total")
        if value is not None:
            rp, have_rp = rp + value, True
        value = reader.named(accumulated, FLUORO_TIME_TOTAL, Quantity.TIME, "fluoro time")
        if value is not None:
            fluoro, have_fluoro = fluoro + value, True
        value = reader.named(accumulated, ACQUISITION_TIME_TOTAL, Quantity.TIME, "time")
        if value is not None:
            acquisition, have_acquisition = acquisition + value, True
        for agd_item in find(accumulated, ACCUMULATED_AGD):
            value = reader.value(agd_item, Quantity.DOSE, "AGD")
            if value is None:
                continue
            side = _laterality(agd_item) or "unspecified"
            report.agd_by_laterality[side] = report.agd_by_laterality.get(side, 0.0) + value
    report.events = [_xray_event(reader, item) for item in find(root, XRAY_EVENT)]
    events = report.events
    if not have_dap and any(e.dap_gym2 is not None for e in events):
        dap, have_dap = sum(e.dap_gym2 or 0.0 for e in events), True
        report.problems.append("DAP total: summed from the events")
    if not have_rp and any(e.dose_rp_gy is not None for e in events):
        rp, have_rp = sum(e.dose_rp_gy or 0.0 for e in events), True
        report.problems.append("dose (RP) total: summed from the events")
    report.dap_gym2 = dap if have_dap else None
    report.dose_rp_gy = rp if have_rp else None
    report.fluoro_time_s = fluoro if have_fluoro else None
    report.acquisition_time_s = acquisition if have_acquisition else None
    if report.agd_by_laterality:
        report.agd_mgy = sum(report.agd_by_laterality.values())
    elif any(e.agd_mgy is not None for e in events):
        for e in events:
            if e.agd_mgy is not None:
                side = e.laterality or "unspecified"
                report.agd_by_laterality[side] = report.agd_by_laterality.get(side, 0.0) + e.agd_mgy
        report.agd_mgy = sum(report.agd_by_laterality.values())
        report.problems.append("AGD total: summed from the events")


def _siemens_summary(reader: _Reader, root: Dataset) -> None:
    report = reader.report
    report.fluoro_time_s = reader.named(root, SIEMENS_FLUORO_TIME, Quantity.TIME, "fluoro time")
    report.dap_gym2 = reader.named(root, SIEMENS_DAP, Quantity.DAP, "DAP total")


def _modality(report: DoseReport, procedure: Code | None) -> str:
    if report.template == "10011" or procedure in CT_PROCEDURE:
        return "CT"
    if procedure in MAMMOGRAPHY or report.agd_mgy is not None:
        return "MG"
    if report.fluoro_time_s or any(e.fluoroscopy for e in report.events):
        return "RF"
    return "DX"


def read(dataset: Dataset) -> DoseReport:
    """The dose facts of a decoded SR dataset; raises :class:`NotADoseReport`."""
    sop_class = str(getattr(dataset, "SOPClassUID", ""))
    if sop_class not in DOSE_CLASSES:
        raise NotADoseReport("not a structured report class that carries dose reports")
    if getattr(dataset, "ValueType", None) != "CONTAINER":
        raise NotADoseReport("the document has no root container")
    root_code = concept(dataset)
    report = DoseReport(
        sop_instance_uid=str(getattr(dataset, "SOPInstanceUID", "")),
        study_uid=str(getattr(dataset, "StudyInstanceUID", "")),
        template="",
        modality="",
    )
    if not report.sop_instance_uid or not report.study_uid:
        raise NotADoseReport("the document has no SOP Instance UID or Study Instance UID")
    _check_depth(dataset)
    reader = _Reader(report)
    procedure = code_value(find_one(dataset, PROCEDURE_REPORTED))
    if root_code == DOSE_REPORT:
        is_ct = procedure in CT_PROCEDURE or find_one(dataset, CT_ACQUISITION) is not None
        is_ct = is_ct or find_one(dataset, CT_ACCUMULATED) is not None
        if is_ct:
            report.template = "10011"
            _ct(reader, dataset)
        else:
            report.template = "10001"
            _projection(reader, dataset)
    elif root_code == SIEMENS_SUMMARY:
        report.template = "vendor"
        _siemens_summary(reader, dataset)
    else:
        raise NotADoseReport("the document is not an X-Ray Radiation Dose Report (TID 10001/10011)")
    report.manufacturer = text(find_one(dataset, DEVICE_MANUFACTURER)) or _attr(
        dataset, "Manufacturer"
    )
    report.model = text(find_one(dataset, DEVICE_MODEL)) or _attr(dataset, "ManufacturerModelName")
    report.serial = text(find_one(dataset, DEVICE_SERIAL)) or _attr(dataset, "DeviceSerialNumber")
    report.station = text(find_one(dataset, DEVICE_NAME)) or _attr(dataset, "StationName")
    report.device_uid = text(find_one(dataset, DEVICE_UID))
    report.started = text(find_one(dataset, START_OF_IRRADIATION))
    report.modality = _modality(report, procedure)
    if report.template != "vendor" and not report.events and not any(report.totals().values()):
        raise NotADoseReport("the dose report holds neither irradiation events nor totals")
    return report


def _attr(dataset: Dataset, keyword: str) -> str | None:
    value = getattr(dataset, keyword, None)
    return str(value).strip()[:255] or None if value not in (None, "") else None


def read_file(source: str | Path | BinaryIO) -> DoseReport:
    """Read a stored Part 10 file; raises :class:`NotADoseReport` for anything unreadable."""
    try:
        # pydicom decodes lazily: an element broken deep in the tree fails in read(), below.
        dataset = pydicom.dcmread(source, force=True)
    except (InvalidDicomError, ValueError, TypeError, KeyError, AttributeError, EOFError) as exc:
        raise NotADoseReport(f"not a readable DICOM dataset ({type(exc).__name__})") from None
    except OSError as exc:
        raise NotADoseReport(f"the file cannot be read ({type(exc).__name__})") from None
    try:
        return read(dataset)
    except NotADoseReport:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise NotADoseReport(f"the content tree is malformed ({type(exc).__name__})") from None
