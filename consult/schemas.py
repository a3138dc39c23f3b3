"""Request and response shapes of the consult API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from consult.models import (
    AttachmentKind,
    ConsultStatus,
    Disposition,
    Mode,
    OutcomeStatus,
    SpecialistState,
    TechLevel,
    Urgency,
)
from hub.schemas import Strict


class Vitals(Strict):
    temperature_c: float | None = Field(default=None, ge=25, le=45)
    heart_rate: int | None = Field(default=None, ge=10, le=300)
    respiratory_rate: int | None = Field(default=None, ge=2, le=100)
    systolic_bp: int | None = Field(default=None, ge=30, le=300)
    diastolic_bp: int | None = Field(default=None, ge=10, le=200)
    spo2: int | None = Field(default=None, ge=30, le=100)
    weight_kg: float | None = Field(default=None, gt=0, le=500)
    glucose_mmol_l: float | None = Field(default=None, gt=0, le=60)


class ConsultIn(Strict):
    patient_id: int = Field(gt=0)
    specialty: str = Field(min_length=2, max_length=40)
    urgency: Urgency
    mode: Mode = Mode.ASYNC
    tech_level: TechLevel = TechLevel.STANDARD
    question: str = Field(min_length=3, max_length=10_000)
    history: str | None = Field(default=None, max_length=20_000)
    vitals: Vitals = Field(default_factory=Vitals)
    registered_after: bool = Field(
        default=False, description="A basic-level phone consult registered after it happened"
    )
    consultant: str | None = Field(
        default=None,
        max_length=64,
        description="Username of the consultant of a consult registered after the call",
    )


class OfferOut(BaseModel):
    specialist_id: int
    state: str
    stage: int
    offered_at: datetime
    reason: str | None


class EventOut(BaseModel):
    at: datetime
    kind: str
    actor_id: int | None
    from_status: str | None
    to_status: str | None
    details: dict[str, Any]


class TaskOut(BaseModel):
    id: int
    description: str
    due_on: date | None
    done_at: datetime | None


class OutcomeOut(BaseModel):
    assessment: str
    recommendation: str
    disposition: Disposition
    prescription: list[dict[str, Any]]
    status: OutcomeStatus
    author_id: int
    created_at: datetime
    tasks: list[TaskOut]


class AttachmentOut(BaseModel):
    id: int
    kind: AttachmentKind
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: int
    created_at: datetime


class ConsultOut(BaseModel):
    id: int
    status: ConsultStatus
    patient_id: int
    requester_id: int
    requester_facility: str
    specialty: str
    urgency: Urgency
    mode: Mode
    tech_level: TechLevel
    question: str
    history: str | None
    vitals: dict[str, Any]
    registered_after: bool
    assigned_to: int | None
    assigned_to_username: str | None
    escalation_stage: int
    created_at: datetime
    accept_due_at: datetime | None
    answer_due_at: datetime | None
    routing_trace: list[str]
    offers: list[OfferOut]
    timeline: list[EventOut]
    attachments: list[AttachmentOut]
    outcome: OutcomeOut | None


class ConsultSummary(BaseModel):
    id: int
    status: ConsultStatus
    patient_id: int
    specialty: str
    urgency: Urgency
    mode: Mode
    created_at: datetime
    assigned_to: int | None
    accept_due_at: datetime | None
    my_offer: str | None = None


class ConsultList(BaseModel):
    items: list[ConsultSummary]
    next_cursor: int | None = None


class DeclineIn(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class CancelIn(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class MessageIn(Strict):
    body: str = Field(min_length=1, max_length=10_000)
    attachment_id: int | None = Field(default=None, gt=0)


class MessageOut(BaseModel):
    id: int
    author_id: int
    author: str
    body: str
    attachment_id: int | None
    created_at: datetime


class MessageList(BaseModel):
    items: list[MessageOut]


class PrescriptionLine(Strict):
    medicine: str = Field(min_length=1, max_length=200)
    dose: str = Field(min_length=1, max_length=100)
    route: str = Field(default="oral", max_length=40)
    frequency: str = Field(min_length=1, max_length=100)
    duration_days: int = Field(ge=1, le=365)
    notes: str | None = Field(default=None, max_length=500)


class TaskIn(Strict):
    description: str = Field(min_length=3, max_length=2000)
    due_on: date | None = None


class OutcomeIn(Strict):
    assessment: str = Field(min_length=3, max_length=20_000)
    recommendation: str = Field(min_length=3, max_length=20_000)
    disposition: Disposition
    prescription: list[PrescriptionLine] = Field(default_factory=list, max_length=30)
    follow_up_tasks: list[TaskIn] = Field(default_factory=list, max_length=30)


class AvailabilityIn(Strict):
    state: SpecialistState | None = None
    pause_minutes: int | None = Field(default=None, ge=0, le=240)
    max_concurrent: int | None = Field(default=None, ge=1, le=50)


class AvailabilityOut(BaseModel):
    state: SpecialistState
    paused_until: datetime | None
    max_concurrent: int


class ShiftIn(Strict):
    specialist: str = Field(min_length=2, max_length=64)
    specialty: str = Field(min_length=2, max_length=40)
    facility: str = Field(min_length=1, max_length=32)
    starts_at: datetime
    ends_at: datetime

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T08:00:00+03:30)")
        return value


class ShiftOut(BaseModel):
    id: int
    specialist_id: int
    specialist: str
    specialty_id: int
    facility: str
    starts_at: datetime
    ends_at: datetime


class ShiftList(BaseModel):
    items: list[ShiftOut]


class ShiftQuery(Strict):
    specialty: str | None = Field(default=None, max_length=40)
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T08:00:00Z)")
        return value
