"""Request and response shapes of the imaging API (they also feed the OpenAPI document)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StudyQuery(Strict):
    patient_national_id: str | None = Field(
        default=None, min_length=5, max_length=32, description="The patient's national id"
    )
    id_country: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Country of the national id; default: any",
    )
    cursor: int = Field(default=0, ge=0, description="next_cursor of the previous page")
    limit: int = Field(default=50, ge=1, le=200)


class ForwardingOut(BaseModel):
    status: str = Field(description="not_configured, received, forwarding, forwarded or failed")
    total: int
    forwarded: int
    pending: int
    failed: int
    resent: int = Field(
        description="Instances sent again after a lost worker (harmless duplicates at the archive)"
    )
    reason: str | None


class SeriesOut(BaseModel):
    series_instance_uid: str
    modality: str
    series_number: int | None
    description: str
    body_part: str
    instances: int


class StudySummary(BaseModel):
    study_instance_uid: str
    patient_id: int | None
    facility: str
    study_date: date | None
    description: str
    accession_number: str
    modalities: list[str]
    received_at: datetime
    urgent: bool


class StudyList(BaseModel):
    items: list[StudySummary]
    next_cursor: str | None


class StudyOut(StudySummary):
    patient_national_id: str | None
    dicom_patient_id: str
    issuer: str
    series: list[SeriesOut]
    instances: int
    instances_deleted: int
    forwarding: ForwardingOut
    legal_hold: bool
    images_kept_until: date | None
    reports_kept_until: date | None


class LinkIn(Strict):
    ttl_hours: int | None = Field(
        default=None, ge=1, description="Lifetime; default HUB_IMAGE_LINK_TTL_HOURS"
    )


class LinkCreated(BaseModel):
    id: int
    url: str
    expires_at: datetime


class LinkOut(BaseModel):
    id: int
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    opens: int
    live: bool


class LinkList(BaseModel):
    items: list[LinkOut]


class LegalHoldIn(Strict):
    hold: bool
    reason: str | None = Field(default=None, min_length=3, max_length=500)


class PatientLinkIn(Strict):
    patient_id: int = Field(gt=0)


class RefusedFile(BaseModel):
    file: str
    reason: str


class UploadOut(BaseModel):
    stored: int
    duplicates: int
    refused: list[RefusedFile]
    studies: list[str]


class AttachIn(Strict):
    consult_id: int = Field(gt=0)


class AttachedOut(BaseModel):
    study_instance_uid: str
    consult_id: int
    attached_at: datetime


class PriorQuery(Strict):
    patient_national_id: str = Field(min_length=5, max_length=32)
    id_country: str | None = Field(default=None, min_length=2, max_length=2)


class PriorOut(BaseModel):
    study_instance_uid: str
    study_date: date | None
    description: str
    modalities: list[str]
    instances: int | None
    held_by_hub: bool


class RetrieveIn(PriorQuery):
    study_instance_uid: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+(\.[0-9]+)*$")


class RetrievedOut(BaseModel):
    study_instance_uid: str
    instances: int = Field(description="Instances stored by this retrieval")
    failed: int = Field(description="Instances the archive could not send or the hub keep")
    already_held: bool = Field(description="The hub held the study already; nothing fetched")


class PriorList(BaseModel):
    configured: bool = Field(description="False when no central archive is configured")
    items: list[PriorOut]
