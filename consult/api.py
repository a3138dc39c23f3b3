"""Consultations under /api/v1: requests, worklist, claims, conversation, outcome, rosters."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from flask import Response as FlaskResponse
from flask import current_app, jsonify, request, send_file

from consult import assignment, rosters, services, signing
from consult import attachments as files
from consult.models import Attachment, AttachmentKind, Consult
from consult.schemas import (
    AttachmentOut,
    AvailabilityIn,
    AvailabilityOut,
    CancelIn,
    ConsultIn,
    ConsultList,
    ConsultOut,
    ConsultQuery,
    ConsultSummary,
    DeclineIn,
    MessageIn,
    MessageList,
    MessageOut,
    OutcomeIn,
    ShiftIn,
    ShiftList,
    ShiftOut,
    ShiftQuery,
)
from hub import db
from hub.api.core import API_PREFIX, api_route
from hub.api.pagination import PageQuery, next_cursor
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents.registry import DocumentKind
from hub.documents.schemas import DocumentList, DocumentOut, LocaleQuery, document_out, pdf_response
from hub.errors import BadRequest, ValidationFailed
from hub.models import utcnow

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def attachment_root() -> Path:
    return Path(current_app.config["HUB_SETTINGS"].data_dir) / "attachments"


def consult_out(c: Consult, attachments: list[Attachment] | None = None) -> ConsultOut:
    """The consult and its attachments, which are not a relationship of the row: ``attachments``
    when the caller knows them (a new consult has none), else they are looked up."""
    out = ConsultOut.model_validate(c)
    if attachments is None:
        attachments = services.attachments_of(db.session(), c.id)
    out.attachments = [AttachmentOut.model_validate(a) for a in attachments]
    return out


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
        before_id=query.position(),
    )
    return ConsultList(
        items=[ConsultSummary.model_validate(c) for c in found],
        next_cursor=next_cursor(found, query.limit, lambda c: c.id),
    )


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
    return ConsultList(
        items=[
            ConsultSummary.model_validate(c).model_copy(update={"my_offer": state})
            for c, state in items
        ]
    )


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
    return MessageOut.model_validate(message)


@api_route(
    "/consults/<int:consult_id>/messages",
    summary="The consult's conversation",
    scope="consults:read",
    tag="conversation",
    query=PageQuery,
    response=MessageList,
    errors=(404,),
)
def list_messages(principal: Principal, consult_id: int, query: PageQuery) -> MessageList:
    found = services.messages(
        db.session(), principal, consult_id, after_id=query.position(), limit=query.limit
    )
    return MessageList(
        items=[MessageOut.model_validate(m) for m in found],
        next_cursor=next_cursor(found, query.limit, lambda m: m.id),
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
    return AttachmentOut.model_validate(row)


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
    return AvailabilityOut.model_validate(row)


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
    return ShiftOut.model_validate(shift)


@api_route(
    "/roster/shifts/<int:shift_id>",
    "DELETE",
    summary="Take a shift off the on-call roster",
    scope="admin",
    tag="rosters",
    status=204,
    errors=(404,),
)
def remove_shift(principal: Principal, shift_id: int) -> None:
    rosters.remove_shift(db.session(), principal, shift_id)


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
    return ShiftList(items=[ShiftOut.model_validate(s) for s in shifts])


# --- signed documents: the outcome, e-prescription and referral letter ---------------------------


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings


def _register_kind_routes(kind: DocumentKind, base: str) -> None:
    noun = signing.NOUNS[kind.code]
    pdf_rule = f"/consults/<int:consult_id>/{noun}.pdf"
    sign_rule = f"/consults/<int:consult_id>{base}/sign"
    counter_rule = f"/consults/<int:consult_id>{base}/countersign"

    def get_pdf(principal: Principal, consult_id: int, query: LocaleQuery) -> FlaskResponse:
        data, signed = signing.pdf(
            db.session(), _settings(), principal, consult_id, kind, query.locale
        )
        return pdf_response(data, signed, f"consult-{consult_id}-{noun}")

    def sign_document(principal: Principal, consult_id: int, query: LocaleQuery) -> DocumentOut:
        doc = signing.sign(db.session(), _settings(), principal, consult_id, kind, query.locale)
        return document_out(db.session(), _settings(), doc)

    def countersign_document(principal: Principal, consult_id: int) -> DocumentOut:
        doc = signing.countersign(db.session(), _settings(), principal, consult_id, kind)
        return document_out(db.session(), _settings(), doc)

    # Endpoint names come from the function names, so each kind gets its own.
    get_pdf.__name__ = f"get_{noun}_pdf"
    sign_document.__name__ = f"sign_{noun}"
    countersign_document.__name__ = f"countersign_{noun}"
    api_route(
        pdf_rule,
        summary=f"The {noun} as a PDF: the signed one as stored, or an unsigned draft",
        scope="consults:read",
        tag="documents",
        query=LocaleQuery,
        errors=(404,),
    )(get_pdf)
    api_route(
        sign_rule,
        "POST",
        summary=f"Sign the {noun} (the assigned specialist; PAdES certification with a time-stamp)",
        scope="consults:write",
        tag="documents",
        query=LocaleQuery,
        response=DocumentOut,
        status=201,
        errors=(404, 409, 503),
    )(sign_document)
    api_route(
        counter_rule,
        "POST",
        summary=f"Countersign the signed {noun} (the requesting health worker)",
        scope="consults:write",
        tag="documents",
        response=DocumentOut,
        errors=(404, 409, 503),
    )(countersign_document)


# The outcome's routes are /consults/{id}/sign and /countersign (the API); the
# prescription's and the referral letter's sit under /consults/{id}/prescription/ and /referral/.
_register_kind_routes(signing.OUTCOME, "")
_register_kind_routes(signing.PRESCRIPTION, "/prescription")
_register_kind_routes(signing.REFERRAL, "/referral")


@api_route(
    "/consults/<int:consult_id>/documents",
    summary="The consult's signed documents with their data and detached JWS",
    scope="consults:read",
    tag="documents",
    response=DocumentList,
    errors=(404,),
)
def list_consult_documents(principal: Principal, consult_id: int) -> DocumentList:
    rows = signing.signed_documents(db.session(), principal, consult_id)
    return DocumentList(items=[document_out(db.session(), _settings(), d) for d in rows])
