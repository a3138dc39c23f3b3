"""Request and response shapes of the referral API, and the facts other packages may read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AliasPath, BaseModel, ConfigDict, Field, field_validator

from hub.api.pagination import PageQuery
from hub.models import FacilityKind
from hub.schemas import CursorPage, FromRow, Id, Strict, Timestamp
from referral.models import (
    AppointmentStatus,
    ReferralStatus,
    ReminderStatus,
    VisitMode,
    VisitSetting,
)

# --- the facility directory -------------------------------------------------------------------


class DirectoryQuery(PageQuery):
    offers: str | None = Field(
        default=None,
        min_length=2,
        max_length=40,
        description="A specialty code: only facilities with an active clinic for it",
    )


class ClinicBrief(FromRow):
    code: str
    name: str
    specialty: str = Field(validation_alias=AliasPath("specialty", "code"))


class DirectoryEntry(BaseModel):
    id: int
    code: str
    name: str
    kind: FacilityKind
    level: int
    region: str
    timezone: str
    virtual_clinic: bool
    clinics: list[ClinicBrief]


class DirectoryList(CursorPage):
    items: list[DirectoryEntry]


# --- referrals --------------------------------------------------------------------------------


class ReferralIn(Strict):
    patient_id: Id
    specialty: str = Field(min_length=2, max_length=40)
    to_facility: str = Field(min_length=1, max_length=32, description="The facility's code")
    reason: str = Field(min_length=3, max_length=10_000)
    consult_id: Id | None = Field(default=None, description="The consult this referral comes from")


class DeclineIn(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class CancelIn(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class AcceptQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clinician: str | None = Field(
        default=None,
        min_length=2,
        max_length=64,
        description="Username of the receiving clinician (default: the caller)",
    )


class TaskIn(Strict):
    text: str = Field(min_length=3, max_length=2000)
    due: date | None = None


class BackReferralIn(Strict):
    summary: str = Field(min_length=3, max_length=20_000)
    findings: str | None = Field(default=None, max_length=20_000)
    treatment: str | None = Field(default=None, max_length=20_000)
    medication: str | None = Field(default=None, max_length=20_000)
    tasks: list[TaskIn] = Field(default_factory=list, max_length=30)


class TaskOut(FromRow):
    id: int
    text: str
    due: date | None
    done_at: datetime | None
    overdue: bool = False


class BackReferralOut(FromRow):
    id: int
    author_id: int
    author: str = Field(validation_alias=AliasPath("author", "full_name"))
    summary: str
    findings: str | None
    treatment: str | None
    medication: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: int | None
    tasks: list[TaskOut]


class AppointmentOut(FromRow):
    id: int
    slot_id: int
    patient_id: int
    referral_id: int | None
    status: AppointmentStatus
    starts_at: datetime
    ends_at: datetime
    mode: VisitMode = Field(validation_alias=AliasPath("slot", "mode"))
    clinic: str = Field(validation_alias=AliasPath("slot", "clinic", "code"))
    booked_by_id: int
    booked_at: datetime
    checked_in_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    rescheduled_to_id: int | None
    setting: VisitSetting
    visit_consult_id: int | None = Field(
        description="A virtual visit's video-mode consult, once its clinician started it"
    )
    video_session_id: int | None = Field(description="The visit's latest video session")


class VisitOut(BaseModel):
    appointment_id: int
    consult_id: int = Field(description="The video-mode consult opened for the visit")
    video_session_id: int
    join_url: str = Field(description="The video page of the session")


class ReferralOut(FromRow):
    id: int
    status: ReferralStatus
    patient_id: int
    patient_name: str = ""
    specialty: str = Field(validation_alias=AliasPath("specialty", "code"))
    from_facility: str = Field(validation_alias=AliasPath("from_facility", "code"))
    to_facility: str = Field(validation_alias=AliasPath("to_facility", "code"))
    to_facility_name: str = Field(validation_alias=AliasPath("to_facility", "name"))
    requester_id: int
    reason: str
    consult_id: int | None
    letter_document_id: str | None
    receiving_clinician_id: int | None
    receiving_clinician: str | None = Field(
        default=None, validation_alias=AliasPath("receiving_clinician", "username")
    )
    decline_reason: str | None
    cancel_reason: str | None
    created_at: datetime
    accepted_at: datetime | None
    first_visit_at: datetime | None
    closed_at: datetime | None
    back_referral: BackReferralOut | None
    appointments: list[AppointmentOut]
    # Computed by the service (not columns).
    waiting_days: int | None = Field(
        default=None, description="Days from creation to the first visit (or to now)"
    )
    wait_target_days: int | None = None
    wait_breached: bool = False
    open_loop: list[str] = Field(
        default_factory=list,
        description="Why the loop is open: no_back_referral, tasks_overdue, not_acknowledged",
    )


class ReferralList(CursorPage):
    items: list[ReferralOut]


class ReferralQuery(PageQuery):
    open_loop: bool | None = Field(
        default=None,
        description="Only referrals whose loop is open: no back-referral within the region's "
        "target after the visit, or follow-up tasks overdue",
    )
    side: str | None = Field(
        default=None, pattern="^(incoming|outgoing)$", description="incoming or outgoing"
    )
    status: ReferralStatus | None = None
    patient_id: Id | None = None
    specialty: str | None = Field(default=None, min_length=2, max_length=40)
    live: bool | None = Field(default=None, description="Only referrals still in progress")


# --- clinics, slots and appointments ----------------------------------------------------------


class ClinicOut(FromRow):
    id: int
    code: str
    name: str
    facility: str = Field(validation_alias=AliasPath("facility", "code"))
    facility_name: str = Field(validation_alias=AliasPath("facility", "name"))
    timezone: str = Field(validation_alias=AliasPath("facility", "timezone"))
    specialty: str = Field(validation_alias=AliasPath("specialty", "code"))
    active: bool


class ClinicList(BaseModel):
    items: list[ClinicOut]


class ClinicQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    facility: str | None = Field(default=None, max_length=32)
    specialty: str | None = Field(default=None, max_length=40)
    mine: bool = Field(default=False, description="Only clinics whose calendar you keep")


class SlotQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: Timestamp | None = Field(
        default=None, alias="from", description="From this instant (default: now)"
    )
    end: Timestamp | None = Field(
        default=None, alias="to", description="Up to this instant (default: 14 days on)"
    )
    mode: VisitMode | None = None
    free: bool | None = Field(default=None, description="Only free (or only taken) slots")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-12-01T08:00:00Z)")
        if value is not None and not 2000 <= value.year <= 2200:
            raise ValueError("give a time between the years 2000 and 2200")
        return value


class SlotOut(BaseModel):
    id: int
    clinic: str
    starts_at: datetime
    ends_at: datetime
    mode: VisitMode
    provider_id: int | None
    free: bool


class SlotList(BaseModel):
    items: list[SlotOut]


class CalendarEntry(BaseModel):
    slot: SlotOut
    appointment: AppointmentOut | None
    patient_name: str | None


class CalendarList(BaseModel):
    items: list[CalendarEntry]


class AppointmentIn(Strict):
    referral_id: Id | None = None
    patient_id: Id
    slot_id: Id
    setting: VisitSetting = Field(
        default=VisitSetting.OUTPATIENT,
        description="outpatient, or inpatient (the patient is admitted: a remote ward visit)",
    )


class RescheduleIn(Strict):
    slot_id: Id


class AppointmentCancelIn(Strict):
    reason: str = Field(min_length=3, max_length=2000)


class FhirBundle(BaseModel):
    """A FHIR R4 Bundle (collection) with the ServiceRequest and its Task."""

    model_config = ConfigDict(extra="allow")
    resourceType: str = "Bundle"  # FHIR's own field name
    type: str = "collection"
    entry: list[dict[str, Any]]


# --- patient booking links, reminders, waiting-time targets -----------------------------------


class BookingLinkIn(Strict):
    referral_id: Id | None = Field(default=None, description="The referral to book")
    patient_id: Id | None = Field(default=None, description="Without a referral: the patient")
    clinic: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="The clinic's code (required without a referral)",
    )
    days: int = Field(default=14, ge=1, le=60, description="How long the link works")


class BookingLinkOut(BaseModel):
    id: int
    url: str | None = Field(description="The patient's link, shown once (null afterwards)")
    clinic: str
    referral_id: int | None
    patient_id: int
    expires_at: datetime
    revoked_at: datetime | None


class ReminderOut(FromRow):
    id: int
    lead_minutes: int
    channel: str
    due_at: datetime
    status: ReminderStatus
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class ReminderList(BaseModel):
    items: list[ReminderOut]


class WaitTargetIn(Strict):
    region: str = Field(min_length=1, max_length=32, description="The macro-region's code")
    specialty: str | None = Field(
        default=None, min_length=2, max_length=40, description="Default: every specialty"
    )
    days: int = Field(ge=1, le=365, description="Days from referral to first visit")
    back_referral_days: int | None = Field(default=None, ge=1, le=365)


class WaitTargetOut(BaseModel):
    region: str
    specialty: str | None
    wait_days: int
    back_referral_days: int


class WaitTargetList(BaseModel):
    items: list[WaitTargetOut]


class WaitTargetQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: str | None = Field(default=None, max_length=32)
