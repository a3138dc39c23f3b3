"""Request and response shapes of the progress reports and command alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.api.pagination import PageQuery
from hub.schemas import Day


class ProgressQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    region: str | None = Field(
        default=None,
        max_length=32,
        description="A macro-region's code: that region with its universities; omitted: every "
        "region you may read, side by side",
    )
    from_: Day | None = Field(
        default=None,
        alias="from",
        description="First day, inclusive (default: 29 days before 'to')",
    )
    to: Day | None = Field(default=None, description="Last day, inclusive (default: today, UTC)")
    format: Literal["json", "csv", "pdf"] = Field(
        default="json",
        description="json (this answer), csv (one row per region and university) or pdf "
        "(signed PAdES, sealed for you)",
    )
    locale: Literal["en", "fa", "ru", "tr", "zh"] | None = Field(
        default=None, description="The PDF's language (default: yours)"
    )


class Steps(BaseModel):
    headquarters: bool
    specialty_clinics: dict[str, bool]
    teleradiology: bool
    virtual_clinics: bool


class Volumes(BaseModel):
    consults: int
    reading_requests: int
    referrals: int
    transfers: int


class Sla(BaseModel):
    decided: int = Field(description="Consults whose time to accept ran out or that were accepted")
    met: int = Field(description="Accepted without escalation and answered in time")
    pct: float | None


class Loops(BaseModel):
    opened: int = Field(description="Referrals neither declined nor cancelled")
    closed: int = Field(description="Referrals completed (back-referral acknowledged)")
    pct: float | None


class Critical(BaseModel):
    raised: int
    acknowledged_in_window: int
    pct: float | None


class FiguresOut(BaseModel):
    steps: Steps
    volumes: Volumes
    sla: Sla
    referral_loops: Loops
    critical_results: Critical


class UniversityOut(BaseModel):
    code: str
    name: str
    figures: FiguresOut


class RegionOut(BaseModel):
    code: str
    number: int
    name: str
    figures: FiguresOut
    universities: list[UniversityOut]


class PeriodOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)
    from_: date = Field(alias="from")
    to: date


class ProgressOut(BaseModel):
    period: PeriodOut
    generated_at: datetime
    specialties: list[str]
    regions: list[RegionOut]


class AlertQuery(PageQuery):
    state: Literal["open", "taken"] = Field(default="open", description="open or taken alerts")


class AlertOut(BaseModel):
    id: int
    region: str
    kind: str = Field(description="consult_unassigned, consult_answer_overdue or critical_result")
    subject_type: str
    subject_id: int
    subject_url: str | None
    detail: str | None
    raised_at: datetime
    taken_by: str | None
    taken_by_id: int | None
    taken_at: datetime | None


class AlertList(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None
