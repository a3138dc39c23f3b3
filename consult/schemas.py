"""Request and response shapes of the consult API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from pydantic import AliasPath, BaseModel, Field, field_validator

from consult.models import (
    AttachmentKind,
    ConsultStatus,
    Disposition,
    Mode,
    OfferState,
    OutcomeStatus,
    SpecialistState,
    TechLevel,
    Urgency,
)
from hub.api.pagination import PageQuery
from hub.auth.principal import Principal
from hub.permissions import REQUESTER_ROLES
from hub.schemas import CursorPage, FromRow, Id, Strict, Timestamp


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
    patient_id: Id
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


class OfferOut(FromRow):
    specialist_id: int
    state: OfferState
    stage: int
    offered_at: datetime
    reason: str | None


class EventOut(FromRow):
    at: datetime
    kind: str
    actor_id: int | None
    from_status: str | None
    to_status: str | None
    details: dict[str, Any]


class TaskOut(FromRow):
    id: int
    description: str
    due_on: date | None
    done_at: datetime | None


class OutcomeOut(FromRow):
    assessment: str
    recommendation: str
    disposition: Disposition
    prescription: list[dict[str, Any]]
    status: OutcomeStatus
    author_id: int
    created_at: datetime
    tasks: list[TaskOut]


class AttachmentOut(FromRow):
    id: int
    kind: AttachmentKind
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: int = Field(validation_alias="uploaded_by_id")
    created_at: datetime


class ConsultOut(FromRow):
    id: int
    status: ConsultStatus
    patient_id: int
    requester_id: int
    requester_facility: str = Field(validation_alias=AliasPath("requester_facility", "code"))
    specialty: str = Field(validation_alias=AliasPath("specialty", "code"))
    urgency: Urgency
    mode: Mode
    tech_level: TechLevel
    question: str
    history: str | None
    vitals: dict[str, Any]
    registered_after: bool
    assigned_to: int | None = Field(validation_alias="assigned_to_id")
    # AliasPath yields the default when nobody is assigned (assigned_to is None).
    assigned_to_username: str | None = Field(
        default=None, validation_alias=AliasPath("assigned_to", "username")
    )
    escalation_stage: int
    created_at: datetime
    accept_due_at: datetime | None
    answer_due_at: datetime | None
    routing_trace: list[str]
    offers: list[OfferOut]
    timeline: list[EventOut] = Field(validation_alias="events")
    # Not a relationship of the row: the API adds them (a new consult has none to look up).
    attachments: list[AttachmentOut] = Field(default_factory=list)
    outcome: OutcomeOut | None


class ConsultSummary(FromRow):
    id: int
    status: ConsultStatus
    patient_id: int
    specialty: str = Field(validation_alias=AliasPath("specialty", "code"))
    urgency: Urgency
    mode: Mode
    created_at: datetime
    assigned_to: int | None = Field(validation_alias="assigned_to_id")
    accept_due_at: datetime | None
    # The caller's offer on a worklist entry (not a column of the consult).
    my_offer: str | None = None


class ConsultList(CursorPage):
    items: list[ConsultSummary]


class ConsultQuery(PageQuery):
    status: ConsultStatus | None = None


class DeclineIn(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class CancelIn(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class MessageIn(Strict):
    body: str = Field(min_length=1, max_length=10_000)
    attachment_id: Id | None = None


class MessageOut(FromRow):
    id: int
    author_id: int
    author: str = Field(validation_alias=AliasPath("author", "full_name"))
    body: str
    attachment_id: int | None
    created_at: datetime


class MessageList(CursorPage):
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


class AvailabilityOut(FromRow):
    state: SpecialistState
    paused_until: datetime | None
    max_concurrent: int


class ShiftIn(Strict):
    specialist: str = Field(min_length=2, max_length=64)
    specialty: str = Field(min_length=2, max_length=40)
    facility: str = Field(min_length=1, max_length=32)
    starts_at: Timestamp
    ends_at: Timestamp

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T08:00:00+03:30)")
        return value


class ShiftOut(FromRow):
    id: int
    specialist_id: int
    specialist: str = Field(validation_alias=AliasPath("specialist", "username"))
    specialty_id: int
    facility: str = Field(validation_alias=AliasPath("facility", "code"))
    starts_at: datetime
    ends_at: datetime


class ShiftList(BaseModel):
    items: list[ShiftOut]


class ShiftQuery(Strict):
    specialty: str | None = Field(default=None, max_length=40)
    start: Timestamp | None = None
    end: Timestamp | None = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T08:00:00Z)")
        return value


@dataclass(frozen=True)
class ConsultFacts:
    """What another package may know of a consult (to bill it, to hold its video session),
    without reading the consult's tables."""

    id: int
    patient_id: int
    specialty_code: str
    mode: Mode
    status: ConsultStatus
    requester_id: int
    requester_facility_id: int
    requester_facility_timezone: str | None
    assigned_to_id: int | None
    # The answering specialist's facility and its level (what a consult is billed by).
    assignee_facility_id: int | None
    assignee_facility_level: int | None
    answered_at: datetime | None
    outcome_signed_at: datetime | None  # None unless the outcome is signed

    @property
    def outcome_signed(self) -> bool:
        return self.outcome_signed_at is not None

    @property
    def live(self) -> bool:
        """A specialist accepted it and the conversation is still going."""
        return self.assigned_to_id is not None and self.status in LIVE_STATUSES

    @property
    def billing_facility_id(self) -> int:
        """The facility that performed the service: the answering specialist's, else the
        requester's."""
        return self.assignee_facility_id or self.requester_facility_id

    def on_requester_side(self, principal: Principal) -> bool:
        return principal.facility_id == self.requester_facility_id and bool(
            principal.roles & REQUESTER_ROLES
        )

    def is_participant(self, principal: Principal) -> bool:
        """The requester's side or the assigned specialist."""
        return self.on_requester_side(principal) or self.assigned_to_id == principal.user_id


LIVE_STATUSES = frozenset({ConsultStatus.ACCEPTED, ConsultStatus.ANSWERED})

# The words for the specialties the hub seeds, by code, for every package's pages (stored
# names stay as written; a specialty added later is shown by its stored name).
SPECIALTY_LABELS = {
    "critical_care": _l("Critical care (ICU)"),
    "pulmonology": _l("Pulmonology"),
    "infectious_disease": _l("Infectious disease"),
    "nephrology": _l("Nephrology"),
    "oncology": _l("Oncology"),
    "obstetrics_gynaecology": _l("Obstetrics and gynaecology"),
    "paediatrics": _l("Paediatrics"),
    "neurology": _l("Neurology"),
    "cardiology": _l("Cardiology"),
    "surgery": _l("Surgery"),
    "general_medicine": _l("General medicine"),
    "dermatology": _l("Dermatology"),
    "ophthalmology": _l("Ophthalmology"),
    "psychiatry": _l("Psychiatry"),
    "radiology": _l("Radiology"),
    "pathology": _l("Pathology"),
}


def label_of_specialty(code: str, stored_name: str | None = None) -> str:
    """A specialty in the reader's language: its label by code, else its stored name."""
    label = SPECIALTY_LABELS.get(code)
    if label is not None:
        return str(label)
    return stored_name if stored_name is not None else code
