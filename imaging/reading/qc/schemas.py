"""Request and response shapes of teleradiology quality control (they feed the OpenAPI too)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.schemas import Day

# RADPEER 2016: 1 agree; 2 discrepancy not ordinarily expected to be made; 3 discrepancy that
# should be made almost every time; "b" likely clinically significant.
RADPEER_SCORES = ("1", "2a", "2b", "3a", "3b")
COMMENT_REQUIRED = frozenset({"2b", "3a", "3b"})


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    source: Literal["pathology", "surgery", "discharge"]
    final_diagnosis: str = Field(min_length=1, max_length=2_000)
    agreement: Literal["concordant", "missed", "misdiagnosed"]


class FollowUpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    request_id: int
    source: str
    final_diagnosis: str
    agreement: str
    recorded_by_id: int
    recorded_at: datetime

    _enum_values = field_validator("source", "agreement", mode="before")(_value)


class ImageQualityIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    grade: Literal["excellent", "acceptable", "poor"]
    defect: str | None = Field(
        default=None, max_length=1_000, description="Required for a poor grade: what was wrong"
    )

    @model_validator(mode="after")
    def _defect_for_poor(self) -> ImageQualityIn:
        if self.defect == "":
            self.defect = None
        if self.grade == "poor" and not self.defect:
            raise ValueError("a poor grade needs the defect")
        return self


class ImageQualityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    request_id: int
    grade: str
    defect: str | None
    device: str
    graded_by_id: int
    graded_at: datetime

    _enum_values = field_validator("grade", mode="before")(_value)


class PeerReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    score: Literal["1", "2a", "2b", "3a", "3b"] = Field(description="RADPEER 2016 score")
    comment: str | None = Field(
        default=None, max_length=2_000, description="Required for 2b, 3a and 3b"
    )

    @model_validator(mode="after")
    def _comment_when_significant(self) -> PeerReviewIn:
        if self.comment == "":
            self.comment = None
        if self.score in COMMENT_REQUIRED and not self.comment:
            raise ValueError(f"a score of {self.score} needs a comment")
        return self


class PeerReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    week: str
    report_id: int
    author_id: int
    reviewer_id: int
    assigned_at: datetime
    due_at: datetime
    score: str | None
    comment: str | None
    scored_at: datetime | None


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: Day | None = Field(default=None, alias="from", description="First day, inclusive")
    to: Day | None = Field(default=None, description="Last day, inclusive")

    @model_validator(mode="after")
    def _ordered(self) -> PeriodQuery:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from is after to")
        return self


class ConcordanceQuery(PeriodQuery):
    group_by: Literal["radiologist", "facility", "modality"] = "radiologist"


class ImageQualityQuery(PeriodQuery):
    group_by: Literal["facility", "device"] = "facility"


class ConcordanceGroup(BaseModel):
    key: str
    cases: int
    concordant: int
    missed: int
    misdiagnosed: int
    rate: float | None = Field(description="concordant / cases; null without cases")


class DiscordantCase(BaseModel):
    request_id: int
    study_instance_uid: str
    facility: str
    radiologist: str
    modality: str
    source: str
    agreement: str
    final_diagnosis: str
    impression: str
    recorded_at: datetime


class ConcordanceOut(BaseModel):
    groups: list[ConcordanceGroup]
    total: ConcordanceGroup
    discordant: list[DiscordantCase]


class ImageQualityGroup(BaseModel):
    key: str
    rated: int
    excellent: int
    acceptable: int
    poor: int
    rate: float | None = Field(description="excellent / rated; null without grades")


class ImageQualityFiguresOut(BaseModel):
    groups: list[ImageQualityGroup]
    total: ImageQualityGroup


class PeerReviewGroup(BaseModel):
    key: str = Field(description="The reviewed radiologist")
    cases: int = Field(description="Scored reviews")
    scores: dict[str, int]
    significant: int = Field(description="Scores 2b and 3b (likely clinically significant)")
    rate: float | None = Field(description="Agreement (score 1) / scored; null without scores")


class PeerReviewFiguresOut(BaseModel):
    groups: list[PeerReviewGroup]
    total: PeerReviewGroup
    pending: int
    overdue: int
