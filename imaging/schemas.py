"""Request and response shapes of the imaging API (they also feed the OpenAPI document)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, field_validator

from hub.api.pagination import PageQuery
from hub.schemas import Id


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StudyQuery(PageQuery):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    patient_national_id: str | None = Field(
        default=None, min_length=5, max_length=32, description="The patient's national id"
    )
    id_country: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Country of the national id; default: any",
    )


class ForwardingOut(BaseModel):
    """Built from a study's forwarding status (``imaging.archive.forwarding.study_status``)."""

    model_config = ConfigDict(from_attributes=True)
    status: str = Field(description="not_configured, received, forwarding, forwarded or failed")
    total: int
    forwarded: int
    pending: int
    failed: int
    resent: int = Field(
        description="Instances sent again after a lost worker (harmless duplicates at the archive)"
    )
    reason: str | None


def _of_series(name: str) -> AliasChoices:
    # A SeriesSummary carries the row as ``series`` beside its instance count.
    return AliasChoices(name, AliasPath("series", name))


class SeriesOut(BaseModel):
    """Built from an ``imaging.services.SeriesSummary``."""

    model_config = ConfigDict(from_attributes=True)
    series_instance_uid: str = Field(validation_alias=_of_series("series_instance_uid"))
    modality: str = Field(validation_alias=_of_series("modality"))
    series_number: int | None = Field(validation_alias=_of_series("series_number"))
    description: str = Field(validation_alias=_of_series("description"))
    body_part: str = Field(validation_alias=_of_series("body_part"))
    instances: int


class StudySummary(BaseModel):
    """Built from a ``Study`` row (``StudySummary.model_validate(study)``)."""

    model_config = ConfigDict(from_attributes=True)
    study_instance_uid: str
    patient_id: int | None
    facility: str
    study_date: date | None
    description: str
    accession_number: str
    modalities: list[str] = Field(validation_alias=AliasChoices("modalities", "series"))
    received_at: datetime
    urgent: bool

    @field_validator("facility", mode="before")
    @classmethod
    def _facility_code(cls, value: Any) -> Any:
        return getattr(value, "code", value)  # the row holds the Facility

    @field_validator("modalities", mode="before")
    @classmethod
    def _series_modalities(cls, value: Any) -> Any:
        # The row holds its series: the study's modalities are theirs, once each, sorted.
        if isinstance(value, list) and value and not isinstance(value[0], str):
            return sorted({s.modality for s in value if s.modality})
        return value


class StudyList(BaseModel):
    items: list[StudySummary]
    next_cursor: str | None


class InstanceProblemOut(BaseModel):
    """An instance stored with problems (``imaging.dicom.pixels`` codes)."""

    model_config = ConfigDict(from_attributes=True)
    sop_instance_uid: str
    problems: list[str]

    @field_validator("problems", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value


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
    instances_with_problems: int = Field(
        description="Instances stored with invalid values or truncated pixel data"
    )
    problems: list[InstanceProblemOut] = Field(
        description="The first 100 of those instances, with their problem codes"
    )
    quarantined: int = Field(
        description="Objects with this study's UIDs kept aside for a person "
        "(a different object under a stored SOP Instance UID)"
    )


class LinkIn(Strict):
    ttl_hours: int | None = Field(
        default=None, ge=1, description="Lifetime; default HUB_IMAGE_LINK_TTL_HOURS"
    )


class LinkCreated(BaseModel):
    id: int
    url: str
    expires_at: datetime


class LinkQuery(PageQuery):
    pass


class LinkOut(BaseModel):
    """Built from an ``ImageLink`` row (``LinkOut.model_validate(link)``)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    created_by: int | None = Field(validation_alias=AliasChoices("created_by", "created_by_id"))
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    opens: int
    live: bool


class LinkList(BaseModel):
    items: list[LinkOut]
    next_cursor: str | None


class LegalHoldIn(Strict):
    hold: bool
    reason: str | None = Field(default=None, min_length=3, max_length=500)


class PatientLinkIn(Strict):
    patient_id: Id


class RefusedFile(BaseModel):
    file: str
    reason: str


class ProblemFile(BaseModel):
    file: str
    problems: list[str]


class UploadOut(BaseModel):
    stored: int
    duplicates: int
    refused: list[RefusedFile]
    studies: list[str]
    quarantined: list[str] = Field(
        description="Files kept aside: another object with the same SOP Instance UID is stored"
    )
    problems: list[ProblemFile] = Field(description="Files stored with problems")


class AttachIn(Strict):
    consult_id: Id


class ConsultStudyQuery(PageQuery):
    pass


class AttachedOut(BaseModel):
    study_instance_uid: str
    consult_id: int
    attached_at: datetime


class PriorQuery(Strict):
    patient_national_id: str = Field(min_length=5, max_length=32)
    id_country: str | None = Field(default=None, min_length=2, max_length=2)


class PriorListQuery(PageQuery):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    patient_national_id: str = Field(min_length=5, max_length=32)
    id_country: str | None = Field(default=None, min_length=2, max_length=2)


class PriorOut(BaseModel):
    """Built from an ``imaging.archive.priors.Prior``."""

    model_config = ConfigDict(from_attributes=True)
    study_instance_uid: str
    study_date: date | None
    description: str
    modalities: list[str]
    instances: int | None
    held_by_hub: bool


class RetrieveIn(PriorQuery):
    study_instance_uid: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+(\.[0-9]+)*$")


class RetrievedOut(BaseModel):
    """Built from an ``imaging.archive.retrieve.Retrieved``."""

    model_config = ConfigDict(from_attributes=True)
    study_instance_uid: str
    instances: int = Field(description="Instances stored by this retrieval")
    failed: int = Field(description="Instances the archive could not send or the hub keep")
    already_held: bool = Field(description="The hub held the study already; nothing fetched")


class PriorList(BaseModel):
    configured: bool = Field(description="False when no central archive is configured")
    items: list[PriorOut]
    next_cursor: str | None
