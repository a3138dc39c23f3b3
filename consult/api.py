"""Consultations under /api/v1: requests, worklist, claims, conversation, outcome, rosters."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from flask import Response as FlaskResponse
from flask import current_app, jsonify, request, send_file
from pydantic import BaseModel, ConfigDict, Field

from consult import assignment, rosters, services
from consult import attachments as files
from consult.models import Attachment, AttachmentKind, Consult, ConsultStatus, Message, Shift
from consult.schemas import (
    AttachmentOut,
    AvailabilityIn,
    AvailabilityOut,
    CancelIn,
    ConsultIn,
    ConsultList,
    ConsultOut,
    ConsultSummary,
    DeclineIn,
    EventOut,
    MessageIn,
    MessageList,
    MessageOut,
    OfferOut,
    OutcomeIn,
    OutcomeOut,
    ShiftIn,
    ShiftList,
    ShiftOut,
    ShiftQuery,
    TaskOut,
)
from hub import db
from hub.api.core import API_PREFIX, api_route
from hub.auth.principal import Principal
from hub.errors import BadRequest, ValidationFailed
from hub.models import utcnow

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def attachment_root() -> Path:
    return Path(current_app.config["HUB_SETTINGS"].data_dir) / "attachments"


def attachment_out(a: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=a.id,
        kind=a.kind,
        filename=a.filename,
        content_type=a.content_type,
        size=a.size,
        sha256=a.sha256,
        uploaded_by=a.uploaded_by_id,
        created_at=a.created_at,
    )


def consult_out(c: Consult, attachments: list[Attachment] | None = None) -> ConsultOut:
    """``attachments``: the consult's, when the caller knows them (a new consult has none)."""
    if attachments is None:
        attachments = services.attachments_of(db.session(), c.id)
    outcome = None
    if c.outcome is not None:
        o = c.outcome
        outcome = OutcomeOut(
            assessment=o.assessment,
            recommendation=o.recommendation,
            disposition=o.disposition,
            prescription=o.prescription,
            status=o.status,
            author_id=o.author_id,
            created_at=o.created_at,
            tasks=[
                TaskOut(id=t.id, description=t.description, due_on=t.due_on, done_at=t.done_at)
                for t in o.tasks
            ],
        )
    return ConsultOut(
        id=c.id,
        status=c.status,
        patient_id=c.patient_id,
        requester_id=c.requester_id,
        requester_facility=c.requester_facility.code,
        specialty=c.specialty.code,
        urgency=c.urgency,
        mode=c.mode,
        tech_level=c.tech_level,
        question=c.question,
        history=c.history,
        vitals=c.vitals,
        registered_after=c.registered_after,
        assigned_to=c.assigned_to_id,
        assigned_to_username=c.assigned_to.username if c.assigned_to else None,
        escalation_stage=c.escalation_stage,
        created_at=c.created_at,
        accept_due_at=c.accept_due_at,
        answer_due_at=c.answer_due_at,
        routing_trace=c.routing_trace,
        offers=[
            OfferOut(
                specialist_id=o.specialist_id,
                state=o.state.value,
                stage=o.stage,
                offered_at=o.offered_at,
                reason=o.reason,
            )
            for o in c.offers
        ],
        timeline=[
            EventOut(
                at=e.at,
                kind=e.kind,
                actor_id=e.actor_id,
                from_status=e.from_status,
                to_status=e.to_status,
                details=e.details,
            )
            for e in c.events
        ],
        attachments=[attachment_out(a) for a in attachments],
        outcome=outcome,
    )


def summary(c: Consult, my_offer: str | None = None) -> ConsultSummary:
    return ConsultSummary(
        id=c.id,
        status=c.status,
        patient_id=c.patient_id,
        specialty=c.specialty.code,
        urgency=c.urgency,
        mode=c.mode,
        created_at=c.created_at,
        assigned_to=c.assigned_to_id,
        accept_due_at=c.accept_due_at,
        my_offer=my_offer,
    )


def message_out(m: Message) -> MessageOut:
    return MessageOut(
        id=m.id,
        author_id=m.author_id,
        author=m.author.full_name,
        body=m.body,
        attachment_id=m.attachment_id,
        created_at=m.created_at,
    )


def shift_out(s: Shift) -> ShiftOut:
    return ShiftOut(
        id=s.id,
        specialist_id=s.specialist_id,
        specialist=s.specialist.username,
        specialty_id=s.specialty_id,
        facility=s.facility.code,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
    )


class ConsultQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ConsultStatus | None = None
    cursor: int = Field(default=0, ge=0, description="next_cursor of the previous page")
    limit: int = Field(default=50, ge=1, le=200)


@api_route(
    "/consults",
    "POST",
    summary="Request a consultation (Idempotency-Key honoured)",
    scope="consults:write",
    tag="consults",
    body=ConsultIn,
    response=ConsultOut,
    status=201,
    errors=(409,),
)
def submit_consult(principal: Principal, body: ConsultIn) -> FlaskResponse:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise BadRequest(
            "Idempotency-Key must be 8-128 letters, digits or . _ : -", code="bad_idempotency_key"
        )
    consult, created = services.submit(db.session(), principal, body, key)
    db.session().commit()
    resp = jsonify(consult_out(consult, [] if created else None).model_dump(mode="json"))
    resp.status_code = 201
    if not created:
        resp.headers["Idempotent-Replayed"] = "true"
    resp.headers["Location"] = f"{API_PREFIX}/consults/{consult.id}"
    return resp


@api_route(
    "/consults",
    summary="Consults within your scope",
    scope="consults:read",
    tag="consults",
    query=ConsultQuery,
    response=ConsultList,
)
def list_consults(principal: Principal, query: ConsultQuery) -> ConsultList:
    found = services.list_visible(
        db.session(),
        principal,
        status=query.status,
        limit=query.limit,
        before_id=query.cursor or None,
    )
    next_cursor = found[-1].id if len(found) == query.limit else None
    return ConsultList(items=[summary(c) for c in found], next_cursor=next_cursor)


@api_route(
    "/consults/<int:consult_id>",
    summary="One consult with routing trace and timeline",
    scope="consults:read",
    tag="consults",
    response=ConsultOut,
    errors=(404,),
)
def get_consult(principal: Principal, consult_id: int) -> ConsultOut:
    return consult_out(services.get(db.session(), principal, consult_id))


@api_route(
    "/worklist",
    summary="Your offered and accepted consults, most urgent first",
    scope="consults:read",
    tag="worklist",
    response=ConsultList,
)
def my_worklist(principal: Principal) -> ConsultList:
    items = services.worklist(db.session(), principal)
    return ConsultList(items=[summary(c, state) for c, state in items])


@api_route(
    "/consults/<int:consult_id>/claim",
    "POST",
    summary="Claim (accept) an offered consult; exactly one claim wins",
    scope="consults:write",
    tag="worklist",
    response=ConsultOut,
    errors=(404, 409),
)
def claim_consult(principal: Principal, consult_id: int) -> ConsultOut:
    return consult_out(assignment.claim(db.session(), principal, consult_id))


@api_route(
    "/consults/<int:consult_id>/decline",
    "POST",
    summary="Decline an offer with a reason",
    scope="consults:write",
    tag="worklist",
    body=DeclineIn,
    response=ConsultOut,
    errors=(404, 409),
)
def decline_consult(principal: Principal, consult_id: int, body: DeclineIn) -> ConsultOut:
    return consult_out(assignment.decline(db.session(), principal, consult_id, body.reason))


@api_route(
    "/consults/<int:consult_id>/cancel",
    "POST",
    summary="Cancel a consult nobody has accepted",
    scope="consults:write",
    tag="consults",
    body=CancelIn,
    response=ConsultOut,
    errors=(404, 409),
)
def cancel_consult(principal: Principal, consult_id: int, body: CancelIn) -> ConsultOut:
    return consult_out(services.cancel(db.session(), principal, consult_id, body.reason))


@api_route(
    "/consults/<int:consult_id>/messages",
    "POST",
    summary="Write in the consult's conversation",
    scope="consults:write",
    tag="conversation",
    body=MessageIn,
    response=MessageOut,
    status=201,
    errors=(404, 409),
)
def post_message(principal: Principal, consult_id: int, body: MessageIn) -> MessageOut:
    message = services.post_message(
        db.session(), principal, consult_id, body.body, body.attachment_id
    )
    return message_out(message)


@api_route(
    "/consults/<int:consult_id>/messages",
    summary="The consult's conversation",
    scope="consults:read",
    tag="conversation",
    response=MessageList,
    errors=(404,),
)
def list_messages(principal: Principal, consult_id: int) -> MessageList:
    return MessageList(
        items=[message_out(m) for m in services.messages(db.session(), principal, consult_id)]
    )


@api_route(
    "/consults/<int:consult_id>/attachments",
    "POST",
    summary="Attach a file (multipart field 'file', form field 'kind')",
    scope="consults:write",
    tag="conversation",
    response=AttachmentOut,
    status=201,
    errors=(404, 409, 413, 415),
)
def add_attachment(principal: Principal, consult_id: int) -> AttachmentOut:
    consult = services.attachment_target(db.session(), principal, consult_id)
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("Send the file as multipart form field 'file'.", code="file_missing")
    try:
        kind = AttachmentKind(request.form.get("kind", ""))
    except ValueError:
        raise ValidationFailed(
            "kind must be one of " + ", ".join(k.value for k in AttachmentKind),
            details={"kind": request.form.get("kind")},
        ) from None
    settings = current_app.config["HUB_SETTINGS"]
    row = services.add_attachment(
        db.session(),
        principal,
        consult,
        kind=kind,
        filename=upload.filename or "attachment",
        stream=upload.stream,
        root=attachment_root(),
        max_bytes=settings.attachment_max_bytes,
    )
    return attachment_out(row)


@api_route(
    "/consults/<int:consult_id>/attachments/<int:attachment_id>",
    summary="Download an attachment (always as a download, never inline)",
    scope="consults:read",
    tag="conversation",
    errors=(404,),
)
def download_attachment(principal: Principal, consult_id: int, attachment_id: int) -> FlaskResponse:
    row = services.get_attachment(db.session(), principal, consult_id, attachment_id)
    db.session().commit()  # the download is audited before the bytes leave
    resp = send_file(
        files.path_for(attachment_root(), row.sha256),
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.filename,
        max_age=0,
    )
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@api_route(
    "/consults/<int:consult_id>/outcome",
    "POST",
    summary="Record the outcome (pending signature)",
    scope="consults:write",
    tag="consults",
    body=OutcomeIn,
    response=ConsultOut,
    status=201,
    errors=(404, 409),
)
def record_outcome(principal: Principal, consult_id: int, body: OutcomeIn) -> ConsultOut:
    outcome = services.record_outcome(db.session(), principal, consult_id, body)
    return consult_out(outcome.consult)


@api_route(
    "/specialists/me/availability",
    "PUT",
    summary="Set your live status, a pause, or your concurrent-case limit",
    scope="consults:write",
    tag="rosters",
    body=AvailabilityIn,
    response=AvailabilityOut,
)
def set_availability(principal: Principal, body: AvailabilityIn) -> AvailabilityOut:
    row = rosters.set_status(
        db.session(),
        principal,
        state=body.state,
        pause_minutes=body.pause_minutes,
        max_concurrent=body.max_concurrent,
    )
    return AvailabilityOut(
        state=row.state, paused_until=row.paused_until, max_concurrent=row.max_concurrent
    )


@api_route(
    "/roster/shifts",
    "POST",
    summary="Publish an on-call shift",
    scope="admin",
    tag="rosters",
    body=ShiftIn,
    response=ShiftOut,
    status=201,
)
def add_shift(principal: Principal, body: ShiftIn) -> ShiftOut:
    shift = rosters.add_shift(
        db.session(),
        principal,
        username=body.specialist,
        specialty_code=body.specialty,
        facility_code=body.facility,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )
    return shift_out(shift)


@api_route(
    "/roster/shifts",
    summary="The published on-call calendar",
    scope="profile",
    tag="rosters",
    query=ShiftQuery,
    response=ShiftList,
)
def list_shifts(principal: Principal, query: ShiftQuery) -> ShiftList:
    start = query.start or utcnow()
    end = query.end or start + timedelta(days=7)
    shifts = rosters.shifts_of(
        db.session(), principal, specialty_code=query.specialty, start=start, end=end
    )
    return ShiftList(items=[shift_out(s) for s in shifts])
