"""Insurance JSON API under /api/v1: insurer pulls and reconciliation, tariffs, facility billing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Literal

from flask import Response, request
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from hub.errors import ValidationFailed
from hub.models import Facility, Insurer
from insurance import exports, services, tariffs
from insurance.models import Claim, Decision, TariffSchedule


class PullQuery(BaseModel):
    format: Literal["csv", "jsonl", "fhir"] = Field(default="csv", description="Export format")
    cursor: str | None = Field(
        default=None, max_length=64, description="The X-Next-Cursor of the previous pull"
    )
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="Most claims to send")


@api_route(
    "/insurer/claims",
    summary="Pull your members' claims after a cursor, streamed as CSV, JSON lines or FHIR "
    "R4 Claim bundles (one Bundle per line); the next cursor is in X-Next-Cursor",
    scope="claims:read",
    tag="insurance",
    query=PullQuery,
)
def pull_claims(principal: Principal, query: PullQuery) -> Response:
    session = db.session()
    pull = exports.start_pull(session, principal, query.format, query.cursor, query.limit)
    session.commit()  # the pull is on record before the first byte is sent
    engine = session.get_bind()
    body: Iterator[bytes] = exports.stream(engine, pull)  # type: ignore[arg-type]
    resp = Response(body, mimetype=exports.MEDIA_TYPES[pull.format])
    resp.headers["X-Next-Cursor"] = pull.cursor
    resp.headers["X-Claim-Count"] = str(pull.claims)
    resp.headers["X-Pull-Id"] = str(pull.id)
    resp.headers["Cache-Control"] = "private, no-store"
    ext = {"csv": "csv", "jsonl": "jsonl", "fhir": "fhir.ndjson"}[pull.format]
    resp.headers["Content-Disposition"] = f'attachment; filename="claims-{pull.id}.{ext}"'
    return resp


class ReconcileIn(BaseModel):
    decision: Literal["accepted", "rejected"]
    reason_code: str | None = Field(
        default=None, description="Required for a rejection: " + ", ".join(services.REASON_CODES)
    )
    note: str | None = Field(default=None, max_length=2000)


class ReconciliationOut(BaseModel):
    claim_id: int
    decision: str
    reason_code: str | None
    note: str | None
    decided_at: datetime


@api_route(
    "/insurer/claims/<int:claim_id>/reconciliation",
    "POST",
    summary="Accept or reject your share of a claim (once; a rejection needs a reason code)",
    scope="claims:reconcile",
    tag="insurance",
    body=ReconcileIn,
    response=ReconciliationOut,
    status=201,
    errors=(404, 409),
)
def reconcile_claim(principal: Principal, claim_id: int, body: ReconcileIn) -> ReconciliationOut:
    row = services.reconcile(
        db.session(),
        principal,
        claim_id,
        decision=Decision(body.decision),
        reason_code=body.reason_code,
        note=body.note,
    )
    return ReconciliationOut(
        claim_id=row.claim_id,
        decision=row.decision.value,
        reason_code=row.reason_code,
        note=row.note,
        decided_at=row.decided_at,
    )


# --- tariffs --------------------------------------------------------------------------------------


class TariffItemOut(BaseModel):
    component: str
    unit: str
    amount_minor: int
    description: str


class ScheduleOut(BaseModel):
    id: int
    label: str
    currency: str
    minor_unit: int
    effective_from: date
    source_sha256: str
    items: list[TariffItemOut]


class ScheduleList(BaseModel):
    items: list[ScheduleOut]


def _schedule_out(row: TariffSchedule) -> ScheduleOut:
    return ScheduleOut(
        id=row.id,
        label=row.label,
        currency=row.currency,
        minor_unit=row.minor_unit,
        effective_from=row.effective_from,
        source_sha256=row.source_sha256,
        items=[
            TariffItemOut(
                component=i.component,
                unit=i.unit.value,
                amount_minor=i.amount_minor,
                description=i.description,
            )
            for i in row.items
        ],
    )


@api_route(
    "/tariffs",
    summary="The approved tariff schedules, newest first (amounts in minor units)",
    scope="profile",
    tag="insurance",
    response=ScheduleList,
)
def list_tariffs(principal: Principal) -> ScheduleList:
    return ScheduleList(items=[_schedule_out(s) for s in tariffs.schedules(db.session())])


class UploadQuery(BaseModel):
    label: str = Field(min_length=1, max_length=120)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")
    minor_unit: int = Field(ge=0, le=4, description="Decimal places of the minor unit")
    effective_from: date


@api_route(
    "/tariffs",
    "POST",
    summary="Upload a tariff schedule version as CSV (component,unit,amount[,description]); "
    "a bad file is refused whole with each line and column",
    scope="admin",
    tag="insurance",
    query=UploadQuery,
    response=ScheduleOut,
    status=201,
    errors=(409,),
)
def upload_tariffs(principal: Principal, query: UploadQuery) -> ScheduleOut:
    if request.content_length and request.content_length > tariffs.MAX_BYTES:
        raise ValidationFailed("The tariff file is too large.")
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data(cache=False)
    schedule = tariffs.upload(
        db.session(),
        principal,
        data=data,
        label=query.label,
        currency=query.currency,
        minor_unit=query.minor_unit,
        effective_from=query.effective_from,
    )
    db.session().refresh(schedule)
    return _schedule_out(schedule)


# --- facility billing -----------------------------------------------------------------------------


class ClaimOut(BaseModel):
    id: int
    kind: str
    revision: int
    original_id: int | None
    status: str
    hold_reason: str | None
    service_type: str
    service_id: int
    consult_id: int | None
    document_id: str | None
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
    reconciliations: list[dict[str, Any]]


class ClaimList(BaseModel):
    items: list[ClaimOut]


def claim_out(claim: Claim, recs: list[Any]) -> ClaimOut:
    return ClaimOut(
        id=claim.id,
        kind=claim.kind.value,
        revision=claim.revision,
        original_id=claim.original_id,
        status=claim.status.value,
        hold_reason=claim.hold_reason,
        service_type=claim.service_type,
        service_id=claim.service_id,
        consult_id=claim.consult_id,
        document_id=claim.document_public_id,
        facility_id=claim.facility_id,
        service_at=claim.service_at,
        created_at=claim.created_at,
        currency=claim.currency,
        total_minor=claim.total_minor,
        basic_insurer_id=claim.basic_insurer_id,
        basic_minor=claim.basic_minor,
        supplementary_insurer_id=claim.supplementary_insurer_id,
        supplementary_minor=claim.supplementary_minor,
        patient_minor=claim.patient_minor,
        lines=claim.lines,
        reconciliations=[
            {
                "insurer_id": r.insurer_id,
                "decision": r.decision.value,
                "reason_code": r.reason_code,
                "decided_at": r.decided_at.isoformat(),
            }
            for r in recs
        ],
    )


class ClaimQuery(BaseModel):
    facility_id: int | None = None
    status: Literal["held", "ready", "rejected"] | None = None
    before_id: int | None = Field(default=None, description="Page: claims with a smaller id")
    limit: int = Field(default=100, ge=1, le=500)


@api_route(
    "/claims",
    summary="Claims billed by your facility (any facility for national administrators)",
    scope="admin",
    tag="insurance",
    query=ClaimQuery,
    response=ClaimList,
)
def list_claims(principal: Principal, query: ClaimQuery) -> ClaimList:
    session = db.session()
    rows = services.facility_claims(
        session,
        principal,
        facility_id=query.facility_id,
        status=query.status,
        limit=query.limit,
        before_id=query.before_id,
    )
    recs = services.reconciliations_of(session, [c.id for c in rows])
    return ClaimList(items=[claim_out(c, recs.get(c.id, [])) for c in rows])


class ComponentIn(BaseModel):
    component: str = Field(pattern=r"^[a-z0-9_]+(:[a-z0-9_]+)*$", max_length=80)
    quantity: int = Field(ge=1, le=100_000)


class CorrectionIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)
    components: list[ComponentIn] | None = Field(
        default=None, description="What was done, when it differs from the consult's record"
    )


@api_route(
    "/claims/<int:claim_id>/correction",
    "POST",
    summary="Correct a claim: re-price a held one, or write a credit and a rebill referencing "
    "the original (a rejected claim is resubmitted this way)",
    scope="admin",
    tag="insurance",
    body=CorrectionIn,
    response=ClaimList,
    status=201,
    errors=(404, 409),
)
def correct_claim(principal: Principal, claim_id: int, body: CorrectionIn) -> ClaimList:
    session = db.session()
    parts = (
        [services.Component(c.component, c.quantity) for c in body.components]
        if body.components is not None
        else None
    )
    written = services.correct(session, principal, claim_id, reason=body.reason, components=parts)
    return ClaimList(items=[claim_out(c, []) for c in written])


# --- contracts ----------------------------------------------------------------------------------


class CoverageBody(BaseModel):
    component: str = Field(pattern=r"^(\*|[a-z0-9_]+(:[a-z0-9_]+)*(:\*)?)$", max_length=80)
    coverage_bp: int = Field(ge=0, le=10000, description="Basis points: 10000 = 100 %")
    copay_minor: int = Field(default=0, ge=0)
    cap_minor: int | None = Field(default=None, ge=0)


class ContractIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    insurer: str = Field(description="Insurer code")
    facility: str | None = Field(default=None, description="Facility code; none = every facility")
    valid_from: date
    valid_to: date | None = None
    coverages: list[CoverageBody] = Field(min_length=1)


class ContractOut(BaseModel):
    id: int
    code: str
    insurer_id: int
    facility_id: int | None
    valid_from: date
    valid_to: date | None


@api_route(
    "/contracts",
    "POST",
    summary="Record an insurer's contract with coverage per component (national administrators)",
    scope="admin",
    tag="insurance",
    body=ContractIn,
    response=ContractOut,
    status=201,
    errors=(409,),
)
def create_contract(principal: Principal, body: ContractIn) -> ContractOut:
    session = db.session()
    from hub.permissions import require

    require(principal, "admin", roles=tariffs.TARIFF_ADMINS, action="insurance:contract:created")
    insurer = session.scalar(select(Insurer).where(Insurer.code == body.insurer))
    if insurer is None:
        raise ValidationFailed("Unknown insurer.", details={"insurer": body.insurer})
    facility = None
    if body.facility is not None:
        facility = session.scalar(select(Facility).where(Facility.code == body.facility))
        if facility is None:
            raise ValidationFailed("Unknown facility.", details={"facility": body.facility})
    if body.valid_to is not None and body.valid_to < body.valid_from:
        raise ValidationFailed("valid_to is before valid_from.")
    contract = services.add_contract(
        session,
        principal,
        insurer=insurer,
        code=body.code,
        facility=facility,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        coverages=[
            services.CoverageIn(c.component, c.coverage_bp, c.copay_minor, c.cap_minor)
            for c in body.coverages
        ],
    )
    return ContractOut(
        id=contract.id,
        code=contract.code,
        insurer_id=contract.insurer_id,
        facility_id=contract.facility_id,
        valid_from=contract.valid_from,
        valid_to=contract.valid_to,
    )


# --- memberships ----------------------------------------------------------------------------------


class MembershipIn(BaseModel):
    insurer: str = Field(min_length=1, max_length=32, description="Insurer code")
    member_id: str = Field(min_length=1, max_length=64)
    valid_from: date
    valid_to: date | None = None


class MembershipOut(BaseModel):
    id: int
    patient_id: int
    insurer_id: int
    member_id: str
    valid_from: date
    valid_to: date | None


class MembershipList(BaseModel):
    items: list[MembershipOut]


def _membership_out(row: Any) -> MembershipOut:
    return MembershipOut(
        id=row.id,
        patient_id=row.patient_id,
        insurer_id=row.insurer_id,
        member_id=row.member_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


@api_route(
    "/patients/<int:patient_id>/memberships",
    summary="The patient's insurance memberships (an insurer sees only its own)",
    scope="patients:read",
    tag="insurance",
    response=MembershipList,
    errors=(404,),
)
def list_memberships(principal: Principal, patient_id: int) -> MembershipList:
    rows = services.memberships_of(db.session(), principal, patient_id)
    return MembershipList(items=[_membership_out(r) for r in rows])


@api_route(
    "/patients/<int:patient_id>/memberships",
    "POST",
    summary="Record the patient's membership of a basic or supplementary insurer",
    scope="patients:write",
    tag="insurance",
    body=MembershipIn,
    response=MembershipOut,
    status=201,
    errors=(404, 409),
)
def add_membership(principal: Principal, patient_id: int, body: MembershipIn) -> MembershipOut:
    row = services.add_membership(
        db.session(),
        principal,
        patient_id,
        insurer_code=body.insurer,
        member_id=body.member_id,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    return _membership_out(row)
