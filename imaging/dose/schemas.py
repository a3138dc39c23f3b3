"""Response shapes of the dose API (they also feed the OpenAPI document). Units are in the
field names: mGy, mGy·cm (``mgycm``), Gy·m² (``gym2``), Gy, seconds, mSv."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.api.pagination import PageQuery
from hub.schemas import Day, FromRow


class DoseTotals(BaseModel):
    """A study's accumulated dose, each irradiation event counted once; null when none of
    its documents records that quantity."""

    ct_dlp_mgycm: float | None = Field(description="CT dose length product total, mGy·cm")
    dap_gym2: float | None = Field(description="Dose area product total, Gy·m²")
    agd_mgy: float | None = Field(
        description="Accumulated average glandular dose, mGy (both breasts added)"
    )
    dose_rp_gy: float | None = Field(description="Dose at the reference point total, Gy")
    fluoro_time_s: float | None = Field(default=None, description="Total fluoroscopy time, s")


class DoseEventOut(FromRow):
    irradiation_event_uid: str | None
    kind: str = Field(description="ct or projection")
    started: str | None
    protocol: str | None
    target_region: str | None
    target_region_code: str | None = Field(description="code value^coding scheme")
    acquisition_type: str | None
    ctdivol_mgy: float | None
    dlp_mgycm: float | None
    phantom: str | None = Field(description="head or body (CTDI phantom), or its code")
    ssde_mgy: float | None
    dap_gym2: float | None
    dose_rp_gy: float | None
    agd_mgy: float | None
    exposure_time_s: float | None
    laterality: str | None
    fluoroscopy: bool
    dose_check: dict[str, float] | None = Field(
        description="TID 10015 dose check alert and notification values"
    )


class DoseDocumentOut(FromRow):
    sop_instance_uid: str
    state: str = Field(description="read, or refused (its reason says why)")
    reason: str | None
    template: str = Field(description="10011 (CT), 10001 (projection X-ray) or vendor")
    modality: str
    manufacturer: str | None
    model: str | None
    serial: str | None
    station: str | None
    events_declared: int | None
    duplicate_events: int = Field(description="Events already counted from another document")
    problems: str | None
    received_at: datetime


class NationalNodeOut(BaseModel):
    state: str = Field(
        description="not_configured, none (no dose document yet), local, sent, accepted or refused"
    )
    status: int | None = Field(default=None, description="The node's DIMSE status when refused")
    comment: str | None = None
    kos_sop_instance_uid: str | None = None
    attempts: int = 0
    updated_at: datetime | None = None
    accepted_at: datetime | None = None


class DoseFlag(BaseModel):
    kind: str = Field(
        description="drl (above the reference level times the factor) or ctdivol_alert"
    )
    quantity: str
    value: float
    limit: float = Field(description="The level times the factor, or the CTDIvol alert value")
    exam_type: str | None = None
    source: str | None = None
    irradiation_event_uid: str | None = None


class StudyDoseOut(BaseModel):
    study_instance_uid: str
    modality: str | None = Field(description="CT, MG, RF, DX (of the dose documents)")
    source: str = Field(description="rdsr, image_headers (no dose document), or none")
    exam_type: str | None
    events: list[DoseEventOut]
    totals: DoseTotals
    effective_dose_msv_estimate: float | None = Field(
        description="An estimate: DLP times published conversion coefficients per body region"
    )
    documents: list[DoseDocumentOut]
    flags: list[DoseFlag]
    national_node: NationalNodeOut


class DoseSums(BaseModel):
    studies: int
    ct_dlp_mgycm: float
    dap_gym2: float
    agd_mgy: float
    dose_rp_gy: float
    effective_dose_msv_estimate: float = Field(description="An estimate (CT only)")
    by_modality: dict[str, int] = Field(description="Studies per modality")


class PatientStudyDose(BaseModel):
    study_instance_uid: str
    study_date: date | None
    modality: str | None
    exam_type: str | None
    totals: DoseTotals
    effective_dose_msv_estimate: float | None
    flagged: bool


class PatientDoseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    patient_id: int
    lifetime: DoseSums
    last_12_months: DoseSums
    studies: list[PatientStudyDose] = Field(description="Oldest first")


class ReferenceLevelOut(FromRow):
    id: int
    exam_type: str
    modality: str
    quantity: str
    value: float
    facility_id: int | None = Field(description="Null for a national level")
    source: str
    updated_at: datetime


class ReferenceLevelList(BaseModel):
    items: list[ReferenceLevelOut]
    factor_percent: int = Field(description="Exams above level times factor/100 are flagged")


class ReferenceLevelIn(BaseModel):
    """A national level (national administrators), or the caller's facility's local level
    (its facility administrators, with ``local``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    exam_type: Literal["ct_head", "ct_chest", "ct_abdomen_pelvis", "mammography_view", "chest_xray"]
    quantity: Literal["ctdivol_mgy", "dlp_mgycm", "dap_gym2", "agd_mgy"]
    value: float = Field(gt=0, lt=1e6, description="In the quantity's unit (see its name)")
    source: str = Field(min_length=3, max_length=500, description="Where the value comes from")
    local: bool = Field(default=False, description="The caller's facility's own level")


ExamTypeName = Literal[
    "ct_head", "ct_chest", "ct_abdomen_pelvis", "mammography_view", "chest_xray", "unclassified"
]


class ExamTypeRuleIn(BaseModel):
    """A facility's rule: a study or protocol description containing ``pattern`` (any case)
    is of ``exam_type``; "unclassified" keeps such exams out of the reference levels."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    pattern: str = Field(min_length=2, max_length=64)
    exam_type: ExamTypeName
    facility_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Default: the caller's facility"
    )


class ExamTypeRuleOut(FromRow):
    id: int
    facility_id: int
    pattern: str
    exam_type: str
    created_at: datetime


class ExamTypeRuleQuery(PageQuery):
    facility_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class ExamTypeRuleList(BaseModel):
    items: list[ExamTypeRuleOut] = Field(description="In the order they are tried")
    next_cursor: str | None = Field(description="Cursor of the next page; null on the last")


class ComplianceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    facility: str | None = Field(
        default=None, max_length=32, description="A facility's code (default: your own)"
    )
    from_: Day | None = Field(
        default=None,
        alias="from",
        description="First day of arrival (default: 30 days before 'to')",
    )
    to: Day | None = Field(
        default=None, description="Last day of arrival, included (default: today)"
    )


class LateStudyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    study_instance_uid: str
    patient_id: int | None
    modalities: list[str]
    received_at: datetime
    due_at: datetime
    state: str = Field(
        description="no_dose (no dose document), local, sent, refused, accepted (after the "
        "deadline) or not_configured (no national node set)"
    )
    accepted_at: datetime | None
    device: str | None


class SilentDeviceOut(BaseModel):
    device_id: int
    label: str
    modality: str
    serial_number: str
    national_device_id: str | None
    studies: int = Field(description="Its studies of the period without dose data")
    last_received_at: datetime


class UnknownSourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    ae_title: str
    modality: str
    studies: int


class ComplianceOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)
    facility: str | None = Field(description="null when you see no facility's devices")
    from_: date = Field(alias="from")
    to: date
    deadline_hours: int = Field(description="Hours after arrival by which the node must accept")
    node_configured: bool
    studies: int = Field(description="Studies with dose data expected in the period")
    late: list[LateStudyOut]
    silent_devices: list[SilentDeviceOut] = Field(
        description="CT and mammography units neither sending dose data nor exempt"
    )
    unknown_sources: list[UnknownSourceOut] = Field(
        description="Studies of CT or mammography without dose data from no registered device"
    )
