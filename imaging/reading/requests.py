"""Reading requests: a licensed facility sends a stored study to be read; the routing offers it
to radiologists; exactly one claims it; a signed report completes it (DICOM UPS states)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub import audit, hooks
from hub.auth.principal import SYSTEM, Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Role, utcnow
from hub.permissions import REQUESTER_ROLES, require
from imaging import services
from imaging.models import Study
from imaging.reading.models import (
    ReadingRequest,
    ReadingSite,
    ReadingStatus,
    Technician,
    Urgency,
)
from imaging.reading.routing import SLA, route
from imaging.reading.schemas import ReadingRequestIn

SENDERS = REQUESTER_ROLES | {Role.FACILITY_ADMIN}
READERS = frozenset({Role.RADIOLOGIST})
OPEN = (ReadingStatus.SCHEDULED, ReadingStatus.IN_PROGRESS)
WORKLIST_SCAN = 500  # scheduled requests looked at per worklist (oldest due first)


def _eligibility(session: Session, facility_id: int, technician: str | None) -> str:
    """The qualified technician's name; 422 with the reason when the facility may not send."""
    site = session.scalar(select(ReadingSite).where(ReadingSite.facility_id == facility_id))
    if site is None or not site.licensed:
        raise ValidationFailed(
            "This facility is not licensed to send studies for teleradiology reading.",
            code="facility_not_licensed",
        )
    qualified = select(Technician).where(
        Technician.facility_id == facility_id, Technician.qualified.is_(True)
    )
    if technician:
        row = session.scalar(qualified.where(func.lower(Technician.name) == technician.lower()))
        if row is None:
            raise ValidationFailed(
                "The acquiring technician is not recorded as qualified at this facility.",
                code="technician_not_qualified",
            )
        return row.name
    rows = list(session.scalars(qualified.limit(2)))
    if len(rows) != 1:
        raise ValidationFailed(
            "Name the acquiring technician: the facility does not have exactly one qualified "
            "technician on record.",
            code="technician_unknown",
        )
    return rows[0].name


def submit(session: Session, principal: Principal, data: ReadingRequestIn) -> ReadingRequest:
    """Send a study the caller's facility holds for reading; routed at once."""
    action = "imaging:reading:requested"
    require(principal, "imaging:write", roles=SENDERS, action=action)
    study = services.get_study(
        session, principal, data.study_instance_uid, purpose="viewed", audited=False
    )
    if principal.facility_id != study.facility_id:
        raise AccessDenied(
            "Only the facility that acquired the study sends it for reading.",
            action=action,
            object_type="study",
            object_id=study.id,
        )
    technician = _eligibility(session, study.facility_id, data.technician)
    if _open_request(session, study.id):
        raise Conflict("This study already has an open reading request.", code="already_requested")
    return _create(
        session,
        principal,
        study,
        Urgency(data.urgency),
        data.clinical_question,
        technician,
        requested_by_id=principal.user_id,
    )


def _open_request(session: Session, study_id: int) -> bool:
    return (
        session.scalar(
            select(ReadingRequest.id).where(
                ReadingRequest.study_id == study_id, ReadingRequest.status.in_(OPEN)
            )
        )
        is not None
    )


def _create(
    session: Session,
    principal: Principal,
    study: Study,
    urgency: Urgency,
    question: str,
    technician: str,
    *,
    requested_by_id: int | None,
    sent_by_ae: str | None = None,
) -> ReadingRequest:
    """Route and record a request the caller has checked may be sent."""
    action = "imaging:reading:requested"
    facility = session.get_one(Facility, study.facility_id)
    modalities = sorted({s.modality.upper() for s in study.series if s.modality})
    routed = route(session, facility, modalities)
    now = utcnow()
    trace = [
        f"sender: facility {facility.code} licensed; technician {technician} qualified",
        *([f"sent on arrival from AE {sent_by_ae}"] if sent_by_ae else []),
        *routed.trace,
        f"SLA ({urgency.value}): report due within {int(SLA[urgency].total_seconds() // 60)} min",
    ]
    request = ReadingRequest(
        study_id=study.id,
        facility_id=study.facility_id,
        requested_by_id=requested_by_id,
        sent_by_ae=sent_by_ae,
        urgency=urgency,
        clinical_question=question,
        technician=technician,
        status=ReadingStatus.SCHEDULED,
        candidate_ids=routed.candidate_ids,
        routing_trace=trace,
        due_at=now + SLA[urgency],
        created_at=now,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="reading_request",
        object_id=request.id,
        details={"patient_id": study.patient_id, "study_id": study.id},
    )
    return request


def submit_on_arrival(session: Session, payload: dict[str, Any]) -> None:
    """Outbox handler of ``AUTO_READING_TOPIC``: the studies an association brought from a
    title that wants reading are sent as its facility would send them; a study the facility
    may not send (not licensed, no single qualified technician) is recorded, not sent."""
    urgency = Urgency(str(payload["urgency"]))
    calling_ae = str(payload["calling_ae"])[:16]
    for study_id in payload["study_ids"]:
        study = session.get(Study, int(study_id))
        if study is None or _open_request(session, study.id):
            continue  # deleted since, or sent already (by staff, or by an earlier delivery)
        try:
            technician = _eligibility(session, study.facility_id, None)
        except ValidationFailed as exc:
            audit.record(
                session,
                SYSTEM,
                "imaging:reading:not_sent",
                object_type="study",
                object_id=study.id,
                details={"patient_id": study.patient_id, "reason": exc.code, "ae": calling_ae},
            )
            continue
        _create(
            session,
            SYSTEM,
            study,
            urgency,
            f"Sent for reading on arrival from {calling_ae}; no clinical question was given.",
            technician,
            requested_by_id=None,
            sent_by_ae=calling_ae,
        )


def _visible(principal: Principal, request: ReadingRequest) -> bool:
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return True
    if principal.facility_id == request.facility_id and principal.roles & (
        SENDERS | {Role.RADIOLOGIST}
    ):
        return True
    # QA physicians follow up and analyse the readings of their region (SEEDS 004).
    if principal.has_role(Role.QA_PHYSICIAN) and principal.region_id is not None:
        return request.study.facility.region_id == principal.region_id
    return principal.has_role(Role.RADIOLOGIST) and (
        request.assigned_to_id == principal.user_id
        or (
            request.status is ReadingStatus.SCHEDULED
            and principal.user_id in (request.candidate_ids or [])
        )
    )


def get(session: Session, principal: Principal, request_id: int) -> ReadingRequest:
    """A reading request the caller takes part in (sender's staff, offered or assigned reader)."""
    action = "imaging:reading:viewed"
    require(principal, "imaging:read", action=action)
    request = session.get(ReadingRequest, request_id)
    if request is None:
        raise NotFound("Not found.")
    if not _visible(principal, request):
        raise AccessDenied(
            action=action, object_type="reading_request", object_id=request.id, hide=True
        )
    audit.record(
        session,
        principal,
        action,
        object_type="reading_request",
        object_id=request.id,
        details={"patient_id": request.study.patient_id},
    )
    return request


def worklist(session: Session, principal: Principal) -> list[ReadingRequest]:
    """The radiologist's own studies in progress, then the scheduled ones offered to them."""
    action = "imaging:reading:worklist_viewed"
    require(principal, "imaging:read", roles=READERS, action=action)
    mine = list(
        session.scalars(
            select(ReadingRequest)
            .where(
                ReadingRequest.assigned_to_id == principal.user_id,
                ReadingRequest.status == ReadingStatus.IN_PROGRESS,
            )
            .order_by(ReadingRequest.due_at)
        )
    )
    # Offers are a JSON list of ids (portable across SQLite and PostgreSQL): filtered here.
    scheduled = session.scalars(
        select(ReadingRequest)
        .where(ReadingRequest.status == ReadingStatus.SCHEDULED)
        .order_by(ReadingRequest.due_at, ReadingRequest.id)
        .limit(WORKLIST_SCAN)
    )
    offered = [r for r in scheduled if principal.user_id in (r.candidate_ids or [])]
    audit.record(
        session,
        principal,
        action,
        object_type="reading_worklist",
        object_id=principal.user_id,
        details={"count": len(mine) + len(offered)},
    )
    return mine + offered


def claim(session: Session, principal: Principal, request_id: int) -> ReadingRequest:
    """Take a scheduled request; exactly one radiologist wins (a guarded UPDATE)."""
    action = "imaging:reading:claimed"
    require(principal, "imaging:write", roles=READERS, action=action)
    request = session.get(ReadingRequest, request_id)
    if request is None:
        raise NotFound("Not found.")
    if principal.user_id not in (request.candidate_ids or []):
        raise AccessDenied(
            action=action, object_type="reading_request", object_id=request.id, hide=True
        )
    now = utcnow()
    won = session.execute(
        update(ReadingRequest)
        .where(ReadingRequest.id == request_id, ReadingRequest.status == ReadingStatus.SCHEDULED)
        .values(status=ReadingStatus.IN_PROGRESS, assigned_to_id=principal.user_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("Another radiologist has already claimed this study.", code="taken")
    session.refresh(request)
    audit.record(
        session,
        principal,
        action,
        object_type="reading_request",
        object_id=request.id,
        details={"patient_id": request.study.patient_id},
    )
    return request


def complete_on_signed_report(
    session: Session, principal: Principal, signed: hooks.SignedService
) -> None:
    """A signed final report completes the study's reading request (in the signing transaction)."""
    request = session.scalar(
        select(ReadingRequest).where(
            ReadingRequest.study_id == signed.service_id,
            ReadingRequest.status == ReadingStatus.IN_PROGRESS,
        )
    )
    if request is None:
        return
    request.status = ReadingStatus.COMPLETED
    request.completed_at = signed.service_at
    audit.record(
        session,
        principal,
        "imaging:reading:completed",
        object_type="reading_request",
        object_id=request.id,
        details={"patient_id": signed.patient_id, "document_id": signed.document_id},
    )
