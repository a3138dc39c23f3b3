"""Request and response shapes of the radiologist's report (they also feed the OpenAPI document)."""

from __future__ import annotations

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
