"""Follow-up of a read study against its pathology, surgery or discharge diagnosis (SEEDS 004):
the requesting facility's clinicians or a QA physician record whether the report agreed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound
from hub.models import utcnow
from hub.permissions import REQUESTER_ROLES, has_scope
from hub.permissions import require as require_scope
from imaging.reading.models import ReadingRequest, ReadingStatus
from imaging.reading.qc.access import is_qa_of
from imaging.reading.qc.models import Agreement, FollowUp, FollowUpSource
from imaging.reading.qc.schemas import FollowUpIn


def _clinician_of(principal: Principal, request: ReadingRequest) -> bool:
    return (
        principal.facility_id == request.facility_id
        and bool(principal.roles & REQUESTER_ROLES)
        and has_scope(principal, "imaging:write")
    )


def may_record(session: Session, principal: Principal, request: ReadingRequest) -> bool:
    """Whether the reader may record the request's follow-up (the page offers the form)."""
    return _clinician_of(principal, request) or is_qa_of(session, principal, request.facility_id)


def of_request(session: Session, request_id: int) -> FollowUp | None:
    return session.scalar(select(FollowUp).where(FollowUp.request_id == request_id))


def record(session: Session, principal: Principal, request_id: int, data: FollowUpIn) -> FollowUp:
    """Record the final diagnosis of a completed reading and whether the report agreed."""
    action = "imaging:qc:follow_up_recorded"
    require_scope(principal, "imaging:read", action=action)
    request = session.get(ReadingRequest, request_id)
    if request is None:
        raise NotFound("Not found.")
    if not may_record(session, principal, request):
        # Staff of the sending facility and its reader know the request exists: 403; others 404.
        known = (
            principal.facility_id == request.facility_id
            or request.assigned_to_id == principal.user_id
        )
        raise AccessDenied(
            "Only the requesting facility's clinicians and QA physicians record a follow-up.",
            action=action,
            object_type="reading_request",
            object_id=request.id,
            hide=not known,
        )
    if request.status is not ReadingStatus.COMPLETED:
        raise Conflict(
            "Only a reading with a signed final report is followed up.", code="not_reported"
        )
    if of_request(session, request.id) is not None:
        raise Conflict("This reading's follow-up is already recorded.", code="already_recorded")
    row = FollowUp(
        request_id=request.id,
        source=FollowUpSource(data.source),
        final_diagnosis=data.final_diagnosis,
        agreement=Agreement(data.agreement),
        recorded_by_id=principal.user_id,
        recorded_at=utcnow(),
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            "This reading's follow-up was just recorded by someone else.", code="already_recorded"
        ) from None
    audit.record(
        session,
        principal,
        action,
        object_type="reading_request",
        object_id=request.id,
        details={
            "patient_id": request.study.patient_id,
            "source": data.source,
            "agreement": data.agreement,
        },
    )
    return row
