"""Request and response shapes of the insurance API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from hub.api.pagination import PageQuery
from hub.schemas import CursorPage, FromRow, Id
from insurance.models import ClaimKind, ClaimStatus, Decision, TariffUnit
from insurance.services import REASON_CODES


class PullQuery(BaseModel):
    """The insurer export's own contract (cursor from ``X-Next-Cursor``), not the list paging."""

    format: Literal["csv", "jsonl", "fhir"] = Field(default="csv", description="Export format")
    cursor: str | None = Field(
        default=None, max_length=64, description="The X-Next-Cursor of the previous pull"
    )
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="Most claims to send")


class ReconcileIn(BaseModel):
    decision: Literal["accepted", "rejected"]
    reason_code: str | None = Field(
        default=None, description="Required for a rejection: " + ", ".join(REASON_CODES)
    )
    note: str | None = Field(default=None, max_length=2000)


class ReconciliationOut(FromRow):
    claim_id: int
    decision: Decision
    reason_code: str | None
    note: str | None
    decided_at: datetime


# --- tariffs --------------------------------------------------------------------------------------


class TariffItemOut(FromRow):
    component: str
    unit: TariffUnit
    amount_minor: int
    description: str


class ScheduleOut(FromRow):
    id: int
    label: str
    currency: str
    minor_unit: int
    effective_from: date
    source_sha256: str
    items: list[TariffItemOut]


class ScheduleList(CursorPage):
    items: list[ScheduleOut]


class UploadQuery(BaseModel):
    label: str = Field(min_length=1, max_length=120)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")
    minor_unit: int = Field(ge=0, le=4, description="Decimal places of the minor unit")
    effective_from: date


# --- facility billing -----------------------------------------------------------------------------


class ClaimDecisionOut(FromRow):
    """An insurer's decision on a claim, as listed with the claim."""

    insurer_id: int
    decision: Decision
    reason_code: str | None
    decided_at: str

    @field_validator("decided_at", mode="before")
    @classmethod
    def _iso(cls, at: datetime | str) -> str:
        # Written with isoformat() since the first release; kept so clients see the same text.
        return at if isinstance(at, str) else at.isoformat()


class ClaimOut(FromRow):
    id: int
    kind: ClaimKind
    revision: int
    original_id: int | None
    status: ClaimStatus
    hold_reason: str | None
    service_type: str
    service_id: int
    consult_id: int | None
    document_id: str | None = Field(validation_alias="document_public_id")
    facility_id: int
    service_at: datetime
    created_at: datetime
    currency: str
    total_minor: int
    basic_insurer_id: int | None
    basic_minor: int
    supplementary_insurer_id: int | None
    supplementary_minor: int
    patient_minor: int
    lines: list[dict[str, Any]]
    # Not a relationship of the row: the API fetches those of a whole page in one query.
    reconciliations: list[ClaimDecisionOut] = Field(default_factory=list)


class ClaimList(BaseModel):
    items: list[ClaimOut]


class ClaimPage(CursorPage):
    items: list[ClaimOut]


class ClaimQuery(PageQuery):
    facility_id: Id | None = None
    status: Literal["held", "ready", "rejected"] | None = None


class ComponentIn(BaseModel):
    component: str = Field(pattern=r"^[a-z0-9_]+(:[a-z0-9_]+)*$", max_length=80)
    quantity: int = Field(ge=1, le=100_000)


class CorrectionIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)
    components: list[ComponentIn] | None = Field(
        default=None, description="What was done, when it differs from the consult's record"
    )


# --- contracts ----------------------------------------------------------------------------------


class CoverageBody(BaseModel):
    component: str = Field(pattern=r"^(\*|[a-z0-9_]+(:[a-z0-9_]+)*(:\*)?)$", max_length=80)
    coverage_bp: int = Field(ge=0, le=10000, description="Basis points: 10000 = 100 %")
    copay_minor: int = Field(default=0, ge=0)
    cap_minor: int | None = Field(default=None, ge=0)


# Identifiers an insurer or the hub issued: letters and digits, with . _ / - inside. Anything
# else (a formula for a spreadsheet, markup, control characters) is refused at the door.
IDENTIFIER = r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,62}[A-Za-z0-9])?$"
CODE = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,38}[A-Za-z0-9])?$"


class ContractIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=CODE)
    insurer: str = Field(description="Insurer code", max_length=32, pattern=CODE)
    facility: str | None = Field(
        default=None,
        max_length=32,
        pattern=CODE,
        description="Facility code; none = every facility",
    )
    valid_from: date
    valid_to: date | None = None
    coverages: list[CoverageBody] = Field(min_length=1)


class ContractOut(FromRow):
    id: int
    code: str
    insurer_id: int
    facility_id: int | None
    valid_from: date
    valid_to: date | None


# --- memberships ----------------------------------------------------------------------------------


class MembershipIn(BaseModel):
    insurer: str = Field(min_length=1, max_length=32, pattern=CODE, description="Insurer code")
    member_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=IDENTIFIER,
        description="The insurer's member number: letters and digits, with . _ / - inside",
    )
    valid_from: date
    valid_to: date | None = None


class MembershipOut(FromRow):
    id: int
    patient_id: int
    insurer_id: int
    member_id: str
    valid_from: date
    valid_to: date | None


class MembershipList(CursorPage):
    items: list[MembershipOut]


# --- the insurer's claims list --------------------------------------------------------------------


class ReleasedClaimQuery(PageQuery):
    status: Literal["pending", "accepted", "rejected"] | None = Field(
        default=None, description="Your decision: none yet, accepted or rejected"
    )
    facility_id: Id | None = None
    service_from: date | None = Field(default=None, description="First date of service (UTC)")
    service_to: date | None = Field(default=None, description="Last date of service (UTC)")
    member_id: str | None = Field(
        default=None, max_length=64, pattern=IDENTIFIER, description="Your member number"
    )


class ReleasedClaimOut(BaseModel):
    id: int
    kind: ClaimKind
    original_id: int | None
    service_type: str
    facility_id: int
    facility_code: str
    service_at: datetime
    currency: str
    total_minor: int
    share_minor: int = Field(description="What you are asked to pay")
    member_id: str | None
    decision: Decision | None
    reason_code: str | None
    decided_at: datetime | None


class ReleasedClaimPage(CursorPage):
    items: list[ReleasedClaimOut]
