"""Request and response shapes of the radiologist's report (they also feed the OpenAPI document)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, field_validator


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    findings: str = Field(min_length=1, max_length=20_000)
    impression: str = Field(min_length=1, max_length=5_000)
    critical: bool = Field(default=False, description="A critical finding (urgent communication)")


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
