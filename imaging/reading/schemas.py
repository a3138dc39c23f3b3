"""Request and response shapes of the radiologist's report (they also feed the OpenAPI document)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    findings: str = Field(min_length=1, max_length=20_000)
    impression: str = Field(min_length=1, max_length=5_000)
    critical: bool = Field(default=False, description="A critical finding (urgent communication)")


class AmendIn(BaseModel):
    """An amendment of the signed report: why, and optionally the new text at once (else the
    signed text is copied into the new draft)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=2_000)
    findings: str | None = Field(default=None, min_length=1, max_length=20_000)
    impression: str | None = Field(default=None, min_length=1, max_length=5_000)
    critical: bool | None = None


class ReportVersion(BaseModel):
    """One version of a report; ``state`` is draft, signed, or superseded (signed, then replaced
    by a signed amendment; kept as it was)."""

    version: int
    state: Literal["draft", "signed", "superseded"]
    author_id: int
    signed_at: datetime | None
    amendment_reason: str | None
    document_id: str | None = Field(description="The signed document's public id (verify page)")
    countersigned_at: datetime | None = Field(
        default=None, description="When the sending facility received (countersigned) it"
    )


class ReportOut(BaseModel):
    """Built from an ``ImagingReport`` row (``ReportOut.model_validate(report)``)."""

    model_config = ConfigDict(from_attributes=True)
    study_instance_uid: str = Field(
        validation_alias=AliasChoices(
            "study_instance_uid", AliasPath("study", "study_instance_uid")
        )
    )
    author_id: int
    findings: str
    impression: str
    critical: bool
    status: str
    created_at: datetime
    updated_at: datetime
    signed_at: datetime | None
    version: int = 1
    amendment_reason: str | None = None
    versions: list[ReportVersion] = Field(
        default_factory=list, description="Every version, oldest first (the report's history)"
    )

    @field_validator("status", mode="before")
    @classmethod
    def _status_value(cls, value: Any) -> Any:
        return getattr(value, "value", value)  # the row holds the ReportStatus enum


@dataclass(frozen=True)
class ReportFacts:
    """What another package may know of a study's report (to bill the reading), without the
    imaging tables."""

    study_id: int
    patient_id: int | None  # None until the study is matched to a hub patient
    study_facility_id: int
    author_facility_id: int | None
    signed_at: datetime | None  # None unless the report is signed
    modalities: tuple[str, ...]  # of the study's series, lower case, as stored

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


class ReadingRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    study_instance_uid: str = Field(min_length=1, max_length=64, pattern=r"^[0-9.]+$")
    urgency: Literal["routine", "urgent", "emergency"]
    clinical_question: str = Field(min_length=1, max_length=2_000)
    technician: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The acquiring technician; may be left out when the facility has exactly "
        "one qualified technician on record",
    )


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


class ReadingRequestOut(BaseModel):
    """Built from a ``ReadingRequest`` row."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    study_instance_uid: str = Field(
        validation_alias=AliasChoices(
            "study_instance_uid", AliasPath("study", "study_instance_uid")
        )
    )
    facility_id: int
    urgency: str
    clinical_question: str
    status: str = Field(description="DICOM UPS state: scheduled, in_progress, completed, cancelled")
    routing_trace: list[str]
    sent_by_ae: str | None = Field(
        default=None, description="The modality's AE title when it was sent on arrival"
    )
    assigned_to_id: int | None
    due_at: datetime
    created_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None

    _enum_values = field_validator("urgency", "status", mode="before")(_value)


class ReadingWorklistOut(BaseModel):
    items: list[ReadingRequestOut]


class CriticalResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    category: Literal[1, 2, 3] = Field(
        description="ACR actionable finding: 1 minutes, 2 hours, 3 days"
    )
    finding: str = Field(min_length=1, max_length=2_000)


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    method: Literal["phone", "in_person", "video", "message"]
    read_back: str = Field(min_length=1, max_length=2_000, description="The finding as read back")


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: str
    at: datetime
    actor_id: int | None
    details: dict[str, Any]


class CriticalResultOut(BaseModel):
    """Built from a ``CriticalResult`` row."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    request_id: int
    category: int
    finding: str
    status: str = Field(description="open, acknowledged or escalated")
    escalation_level: int = Field(description="0 none, 1 facility head, 2 region command staff")
    raised_by_id: int
    raised_at: datetime
    ack_due_at: datetime
    acknowledged_by_id: int | None
    acknowledged_at: datetime | None
    ack_method: str | None
    read_back: str | None
    timeline: list[TimelineEntry] = Field(validation_alias=AliasChoices("timeline", "events"))

    _enum_values = field_validator("status", mode="before")(_value)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=120, description="e.g. the ward or duty role")
    email: EmailStr
    locale: Literal["en", "fa", "ru", "tr", "zh"] = Field(
        default="en", description="The language of the notices"
    )


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    email: str
    locale: str
    added_at: datetime


class ContactList(BaseModel):
    facility: str
    items: list[ContactOut]
