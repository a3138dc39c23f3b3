"""Insurance JSON API under /api/v1: insurer pulls and reconciliation, tariffs, facility billing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from flask import Response, request
from sqlalchemy import select

from hub import db
from hub.api.core import api_route
from hub.api.pagination import PageQuery, next_cursor
from hub.auth.principal import Principal
from hub.errors import BadRequest, ValidationFailed
from hub.models import Facility, Insurer
from hub.permissions import require
from insurance import exports, review, services, tariffs
from insurance.models import Claim, Decision, Reconciliation
from insurance.schemas import (
    ClaimDecisionOut,
    ClaimList,
    ClaimOut,
    ClaimPage,
    ClaimQuery,
    ContractIn,
    ContractOut,
    CorrectionIn,
    MembershipIn,
    MembershipList,
    MembershipOut,
    PullQuery,
    ReconcileIn,
    ReconciliationOut,
    ReleasedClaimOut,
    ReleasedClaimPage,
    ReleasedClaimQuery,
    ScheduleList,
    ScheduleOut,
    UploadQuery,
)


def claim_out(claim: Claim, decisions: list[Reconciliation]) -> ClaimOut:
    """The claim's row with its insurers' decisions, fetched for a whole page in one query."""
    out = ClaimOut.model_validate(claim)
    out.reconciliations = [ClaimDecisionOut.model_validate(r) for r in decisions]
    return out


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


@api_route(
    "/insurer/claims/<bigint:claim_id>/reconciliation",
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
    return ReconciliationOut.model_validate(row)


@api_route(
    "/insurer/claims/released",
    summary="Claims released to your insurer, newest first, with your share and decision; "
    "filter by decision, facility, period of service and member number",
    scope="claims:read",
    tag="insurance",
    query=ReleasedClaimQuery,
    response=ReleasedClaimPage,
)
def released_claims(principal: Principal, query: ReleasedClaimQuery) -> ReleasedClaimPage:
    flt = review.ReviewFilter(
        status=query.status,
        facility_id=query.facility_id,
        service_from=query.service_from,
        service_to=query.service_to,
        member_id=query.member_id,
    )
    rows = review.released_claims(
        db.session(), principal, flt, limit=query.limit, before_id=query.position()
    )
    return ReleasedClaimPage(
        items=[released_out(r) for r in rows],
        next_cursor=next_cursor(rows, query.limit, lambda r: r.claim.id),
    )


def released_out(row: review.ReviewRow) -> ReleasedClaimOut:
    c, d = row.claim, row.decision
    return ReleasedClaimOut(
        id=c.id,
        kind=c.kind,
        original_id=c.original_id,
        service_type=c.service_type,
        facility_id=c.facility_id,
        facility_code=row.facility.code,
        service_at=c.service_at,
        currency=c.currency,
        total_minor=c.total_minor,
        share_minor=row.share_minor,
        member_id=row.member_id,
        decision=d.decision if d else None,
        reason_code=d.reason_code if d else None,
        decided_at=d.decided_at if d else None,
    )


# --- tariffs --------------------------------------------------------------------------------------


@api_route(
    "/tariffs",
    summary="The approved tariff schedules, newest first (amounts in minor units)",
    scope="profile",
    tag="insurance",
    query=PageQuery,
    response=ScheduleList,
)
def list_tariffs(principal: Principal, query: PageQuery) -> ScheduleList:
    rows = tariffs.schedules(db.session(), before=_effective_before(query), limit=query.limit)
    return ScheduleList(
        items=[ScheduleOut.model_validate(s) for s in rows],
        # Effective dates are unique, so the date (as its ordinal) is the page's key.
        next_cursor=next_cursor(rows, query.limit, lambda s: s.effective_from.toordinal()),
    )


def _effective_before(query: PageQuery) -> date | None:
    key = query.position()
    if key is None:
        return None
    if not 1 <= key <= date.max.toordinal():
        raise BadRequest(
            "The cursor is not valid; use next_cursor from the previous page.", code="bad_cursor"
        )
    return date.fromordinal(key)


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
    return ScheduleOut.model_validate(schedule)


# --- facility billing -----------------------------------------------------------------------------


@api_route(
    "/claims",
    summary="Claims billed by your facility (any facility for national administrators)",
    scope="admin",
    tag="insurance",
    query=ClaimQuery,
    response=ClaimPage,
)
def list_claims(principal: Principal, query: ClaimQuery) -> ClaimPage:
    session = db.session()
    rows = services.facility_claims(
        session,
        principal,
        facility_id=query.facility_id,
        status=query.status,
        limit=query.limit,
        before_id=query.position(),
    )
    decisions = services.reconciliations_of(session, [c.id for c in rows])
    return ClaimPage(
        items=[claim_out(c, decisions.get(c.id, [])) for c in rows],
        next_cursor=next_cursor(rows, query.limit, lambda c: c.id),
    )


@api_route(
    "/claims/<bigint:claim_id>/correction",
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
    return ContractOut.model_validate(contract)


# --- memberships ----------------------------------------------------------------------------------


@api_route(
    "/patients/<int:patient_id>/memberships",
    summary="The patient's insurance memberships (an insurer sees only its own)",
    scope="patients:read",
    tag="insurance",
    query=PageQuery,
    response=MembershipList,
    errors=(404,),
)
def list_memberships(principal: Principal, patient_id: int, query: PageQuery) -> MembershipList:
    rows = services.memberships_of(
        db.session(), principal, patient_id, after_id=query.position(), limit=query.limit
    )
    return MembershipList(
        items=[MembershipOut.model_validate(r) for r in rows],
        next_cursor=next_cursor(rows, query.limit, lambda r: r.id),
    )


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
    return MembershipOut.model_validate(row)
