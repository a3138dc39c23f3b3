"""Consultation requests: submission (idempotent), reading, conversation, outcome, cancellation."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consult import attachments as files
from consult import rosters
from consult.access import consult_visibility
from consult.assignment import accept_directly, add_event, move, route_new
from consult.events import consult_changed
from consult.models import (
    Attachment,
    AttachmentKind,
    Consult,
    ConsultOffer,
    ConsultStatus,
    FollowUpTask,
    Message,
    Mode,
    OfferState,
    Outcome,
    OutcomeStatus,
    Shift,
    TechLevel,
)
from consult.queues import Place as Place  # the command board reads these through services
from consult.queues import Queue as Queue
from consult.queues import open_queue as open_queue
from consult.schemas import ConsultFacts, ConsultIn, OutcomeIn
from consult.staffing import ONLINE_WINDOW as ONLINE_WINDOW
from consult.staffing import StaffingRow as StaffingRow
from consult.staffing import UniversityLoad as UniversityLoad
from consult.staffing import loads as loads
from consult.staffing import staffing as staffing
from consult.visits import open_for_visit as open_for_visit
from consult.visits import require_consents
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Patient, Role, Specialty, User, utcnow
from hub.permissions import REQUESTER_ROLES, patient_visibility, require
from hub.realtime import emit_after_commit, user_room

CLOSED_FOR_MESSAGES = frozenset(
    {ConsultStatus.CANCELLED, ConsultStatus.EXPIRED, ConsultStatus.CLOSED}
)


def _digest(data: ConsultIn) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit(
    session: Session, principal: Principal, data: ConsultIn, idempotency_key: str | None = None
) -> tuple[Consult, bool]:
    """Submit a consult request and route it; returns (consult, created).

    The same ``Idempotency-Key`` from the same requester returns the first consult instead of
    creating a second, even when the two requests race.
    """
    action = "consult:request:submitted"
    require(principal, "consults:write", roles=REQUESTER_ROLES, action=action)
    assert principal.user_id is not None
    if idempotency_key is not None:
        existing = _by_key(session, principal.user_id, idempotency_key)
        if existing is not None:
            return _replay(existing, data), False
    patient = session.scalar(
        select(Patient).where(Patient.id == data.patient_id, patient_visibility(principal))
    )
    if patient is None:
        raise ValidationFailed("Unknown patient.", details={"patient_id": data.patient_id})
    if patient.merged_into_id is not None:
        raise ValidationFailed(
            "This patient record was merged; use the surviving record.",
            details={"merged_into": patient.merged_into_id},
        )
    specialty = session.scalar(select(Specialty).where(Specialty.code == data.specialty))
    if specialty is None:
        raise ValidationFailed("Unknown specialty.", details={"specialty": data.specialty})
    require_consents(session, patient.id, data.mode)
    consultant = _registered_after_consultant(session, data, specialty)
    if principal.facility_id is None:
        raise AccessDenied("Only staff of a facility can request consults.", action=action)
    facility = session.get_one(Facility, principal.facility_id)
    now = utcnow()
    consult = Consult(
        patient_id=patient.id,
        requester_id=principal.user_id,
        requester_facility_id=facility.id,
        region_id=facility.region_id,
        specialty_id=specialty.id,
        urgency=data.urgency,
        mode=data.mode,
        tech_level=data.tech_level,
        question=data.question,
        history=data.history,
        vitals=data.vitals.model_dump(exclude_none=True),
        status=ConsultStatus.SUBMITTED,
        registered_after=data.registered_after,
        routing_trace=[],
        idempotency_key=idempotency_key,
        request_digest=_digest(data),
        submitted_at=now,
        # A new consult's relations are known: given here, they are not loaded back one by one.
        patient=patient,
        requester_facility=facility,
        specialty=specialty,
        offers=[],
        events=[],
        outcome=None,
    )
    add_event(
        session, consult, "submitted", actor_id=principal.user_id, to_status=ConsultStatus.SUBMITTED
    )
    if consultant is None:
        # Routed before it is written, so that the consult, its timeline and its offers are
        # inserted in one flush (wasted only if a concurrent request with the same key wins).
        route_new(session, consult, now)
    try:
        with session.begin_nested():
            session.add(consult)
            session.flush()
    except IntegrityError:
        # A concurrent request with the same key won the race: answer with its consult.
        existing = _by_key(session, principal.user_id, idempotency_key or "")
        if existing is None:
            raise
        return _replay(existing, data), False
    if consultant is not None:
        _register_after(session, consult, consultant, now)
    audit.record(
        session,
        principal,
        action,
        object_type="consult",
        object_id=consult.id,
        details={"patient_id": patient.id, "urgency": data.urgency.value},
    )
    consult_changed(session, consult)
    return consult, True


def _by_key(session: Session, requester_id: int, key: str) -> Consult | None:
    # Looked up on every keyed submission and almost never found: ask for the id alone, and
    # load the consult only when there is one.
    found = session.scalar(
        select(Consult.id).where(
            Consult.requester_id == requester_id, Consult.idempotency_key == key
        )
    )
    return None if found is None else session.get(Consult, found)


def _replay(existing: Consult, data: ConsultIn) -> Consult:
    if existing.request_digest != _digest(data):
        raise Conflict(
            "This Idempotency-Key was already used for a different request.",
            code="idempotency_key_reused",
            details={"consult_id": existing.id},
        )
    return existing


def _registered_after_consultant(
    session: Session, data: ConsultIn, specialty: Specialty
) -> User | None:
    if not data.registered_after:
        if data.consultant:
            raise ValidationFailed(
                "consultant is only given for a consult registered after the call."
            )
        return None
    if data.mode is not Mode.PHONE or data.tech_level is not TechLevel.BASIC:
        raise ValidationFailed("Only a basic-level phone consult is registered afterwards.")
    consultant = session.scalar(select(User).where(User.username == data.consultant))
    if (
        consultant is None
        or Role.SPECIALIST not in consultant.role_set
        or specialty not in consultant.specialties
    ):
        raise ValidationFailed(
            "Unknown consultant for this specialty.", details={"consultant": data.consultant}
        )
    return consultant


def _register_after(session: Session, consult: Consult, consultant: User, now: object) -> None:
    """A phone consult that already happened goes straight to its consultant, who records the
    outcome once the paper form signed by both sides is attached (SEEDS 001, basic level)."""
    accept_directly(session, consult, consultant.id, "registered_after")


def get(
    session: Session, principal: Principal, consult_id: int, *, purpose: str = "viewed"
) -> Consult:
    """A consult within the caller's scope; others are not found, and the attempt audited."""
    action = f"consult:request:{purpose}"
    require(principal, "consults:read", action=action)
    consult = session.scalar(
        select(Consult).where(Consult.id == consult_id, consult_visibility(principal))
    )
    if consult is None:
        if session.get(Consult, consult_id) is None:
            raise NotFound("Not found.")
        raise AccessDenied(action=action, object_type="consult", object_id=consult_id, hide=True)
    audit.record(session, principal, action, object_type="consult", object_id=consult.id)
    return consult


def list_visible(
    session: Session,
    principal: Principal,
    *,
    status: ConsultStatus | None,
    limit: int,
    before_id: int | None = None,
) -> list[Consult]:
    """Newest first; ``before_id`` continues from the last consult of the previous page."""
    require(principal, "consults:read", action="consult:request:listed")
    stmt = select(Consult).where(consult_visibility(principal))
    if before_id is not None:
        stmt = stmt.where(Consult.id < before_id)
    if status is not None:
        stmt = stmt.where(Consult.status == status)
    found = list(session.scalars(stmt.order_by(Consult.id.desc()).limit(limit)))
    audit.record(
        session,
        principal,
        "consult:request:listed",
        object_type="consult",
        details={"ids": [c.id for c in found]},
    )
    return found


def worklist(session: Session, principal: Principal) -> list[tuple[Consult, str | None]]:
    """The caller's open offers and the consults assigned to them that still need an answer."""
    require(
        principal,
        "consults:read",
        roles=frozenset({Role.SPECIALIST, Role.RADIOLOGIST}),
        action="consult:worklist:viewed",
    )
    offered = session.execute(
        select(Consult, ConsultOffer.state)
        .join(ConsultOffer, ConsultOffer.consult_id == Consult.id)
        .where(
            ConsultOffer.specialist_id == principal.user_id, ConsultOffer.state == OfferState.OPEN
        )
    ).all()
    assigned = session.scalars(
        select(Consult).where(
            Consult.assigned_to_id == principal.user_id,
            Consult.status.in_([ConsultStatus.ACCEPTED, ConsultStatus.ANSWERED]),
        )
    ).all()
    items: dict[int, tuple[Consult, str | None]] = {}
    for consult, state in offered:
        items[consult.id] = (consult, state.value)
    for consult in assigned:
        items.setdefault(consult.id, (consult, None))
    rank = {"emergency": 0, "urgent": 1, "routine": 2}
    ordered = sorted(items.values(), key=lambda it: (rank[it[0].urgency.value], it[0].id))
    audit.record(
        session,
        principal,
        "consult:worklist:viewed",
        object_type="consult",
        details={"ids": [c.id for c, _ in ordered]},
    )
    return ordered


def _participant(consult: Consult, principal: Principal) -> bool:
    requester_side = principal.facility_id == consult.requester_facility_id and bool(
        principal.roles & REQUESTER_ROLES
    )
    return requester_side or consult.assigned_to_id == principal.user_id


def attachment_target(session: Session, principal: Principal, consult_id: int) -> Consult:
    """The consult a file may be added to by the caller (checked before reading the upload)."""
    action = "consult:attachment:added"
    require(principal, "consults:write", action=action)
    consult = get(session, principal, consult_id, purpose="viewed")
    if not _participant(consult, principal):
        raise AccessDenied(
            "Only the requester's side and the assigned specialist can add files.",
            action=action,
            object_type="consult",
            object_id=consult.id,
        )
    if consult.status in CLOSED_FOR_MESSAGES:
        raise Conflict("This consult is closed.", code="closed")
    return consult


def add_attachment(
    session: Session,
    principal: Principal,
    consult: Consult,
    *,
    kind: AttachmentKind,
    filename: str,
    stream: IO[bytes],
    root: Path,
    max_bytes: int,
) -> Attachment:
    """Store a file with the consult; refused files leave nothing behind (413/415)."""
    action = "consult:attachment:added"
    sha, size, content_type = files.store(root, stream, kind, max_bytes)
    assert principal.user_id is not None
    row = Attachment(
        consult_id=consult.id,
        uploaded_by_id=principal.user_id,
        kind=kind,
        filename=files.safe_filename(filename),
        content_type=content_type,
        size=size,
        sha256=sha,
    )
    session.add(row)
    session.flush()
    add_event(
        session,
        consult,
        "attachment",
        actor_id=principal.user_id,
        attachment_id=row.id,
        file_kind=kind.value,
    )
    audit.record(
        session,
        principal,
        action,
        object_type="attachment",
        object_id=row.id,
        details={"consult_id": consult.id, "kind": kind.value, "size": size},
    )
    consult_changed(session, consult)
    return row


def get_attachment(
    session: Session, principal: Principal, consult_id: int, attachment_id: int
) -> Attachment:
    consult = get(session, principal, consult_id, purpose="viewed")
    row = session.scalar(
        select(Attachment).where(
            Attachment.id == attachment_id, Attachment.consult_id == consult.id
        )
    )
    if row is None:
        raise NotFound("Not found.")
    audit.record(
        session,
        principal,
        "consult:attachment:downloaded",
        object_type="attachment",
        object_id=row.id,
    )
    return row


def attachments_of(session: Session, consult_id: int) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment).where(Attachment.consult_id == consult_id).order_by(Attachment.id)
        )
    )


def post_message(
    session: Session, principal: Principal, consult_id: int, body: str, attachment_id: int | None
) -> Message:
    """A message between the requester's side and the specialist, kept with the record."""
    action = "consult:message:posted"
    require(principal, "consults:write", action=action)
    consult = get(session, principal, consult_id, purpose="viewed")
    if not _participant(consult, principal):
        raise AccessDenied(
            "Only the requester's side and the assigned specialist can write here.",
            action=action,
            object_type="consult",
            object_id=consult.id,
        )
    if consult.status in CLOSED_FOR_MESSAGES:
        raise Conflict("This consult is closed.", code="closed")
    if (
        attachment_id is not None
        and session.scalar(
            select(Attachment.id).where(
                Attachment.id == attachment_id, Attachment.consult_id == consult.id
            )
        )
        is None
    ):
        raise ValidationFailed("Unknown attachment.", details={"attachment_id": attachment_id})
    assert principal.user_id is not None
    message = Message(
        consult_id=consult.id, author_id=principal.user_id, body=body, attachment_id=attachment_id
    )
    session.add(message)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="message",
        object_id=message.id,
        details={"consult_id": consult.id},
    )
    rooms = [user_room(consult.requester_id)]
    if consult.assigned_to_id:
        rooms.append(user_room(consult.assigned_to_id))
    emit_after_commit(
        session, "consult.message", {"consult_id": consult.id, "message_id": message.id}, rooms
    )
    return message


def messages(
    session: Session,
    principal: Principal,
    consult_id: int,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[Message]:
    """A consult's conversation in order; ``after_id`` and ``limit`` give one page of it."""
    consult = get(session, principal, consult_id, purpose="viewed")
    stmt = select(Message).where(Message.consult_id == consult.id)
    if after_id is not None:
        stmt = stmt.where(Message.id > after_id)
    return list(session.scalars(stmt.order_by(Message.id).limit(limit)))


def messages_of(session: Session, consult: Consult) -> list[Message]:
    """The conversation of a consult the caller already fetched (and so audited) with get()."""
    return list(
        session.scalars(
            select(Message).where(Message.consult_id == consult.id).order_by(Message.id)
        )
    )


def record_outcome(
    session: Session, principal: Principal, consult_id: int, data: OutcomeIn
) -> Outcome:
    """The assigned specialist's answer; it waits for signature before the consult is signed."""
    action = "consult:outcome:recorded"
    require(principal, "consults:write", roles=frozenset({Role.SPECIALIST}), action=action)
    consult = get(session, principal, consult_id, purpose="viewed")
    if consult.assigned_to_id != principal.user_id:
        raise AccessDenied(
            "Only the assigned specialist writes the outcome.",
            action=action,
            object_type="consult",
            object_id=consult.id,
        )
    if consult.outcome is not None:
        raise Conflict("The outcome was already recorded.", code="outcome_exists")
    if consult.registered_after and not any(
        a.kind is AttachmentKind.PAPER_FORM for a in attachments_of(session, consult.id)
    ):
        raise Conflict(
            "Attach the paper form signed by both sides first.", code="paper_form_required"
        )
    move(session, consult, ConsultStatus.ANSWERED, actor_id=principal.user_id)
    assert principal.user_id is not None
    outcome = Outcome(
        consult_id=consult.id,
        author_id=principal.user_id,
        assessment=data.assessment,
        recommendation=data.recommendation,
        disposition=data.disposition,
        prescription=[line.model_dump(mode="json") for line in data.prescription],
        status=OutcomeStatus.PENDING_SIGNATURE,
    )
    session.add(outcome)
    session.flush()
    for task in data.follow_up_tasks:
        session.add(
            FollowUpTask(
                outcome_id=outcome.id,
                facility_id=consult.requester_facility_id,
                description=task.description,
                due_on=task.due_on,
            )
        )
    consult.answered_at = utcnow()
    session.flush()
    session.refresh(consult)
    audit.record(
        session,
        principal,
        action,
        object_type="consult",
        object_id=consult.id,
        details={"disposition": data.disposition.value},
    )
    consult_changed(session, consult)
    return outcome


def cancel(session: Session, principal: Principal, consult_id: int, reason: str) -> Consult:
    """The requester's side withdraws a consult nobody has accepted yet."""
    action = "consult:request:cancelled"
    require(principal, "consults:write", roles=REQUESTER_ROLES, action=action)
    consult = get(session, principal, consult_id, purpose="viewed")
    if consult.requester_facility_id != principal.facility_id:
        raise AccessDenied(
            "Only the requesting facility can cancel.",
            action=action,
            object_type="consult",
            object_id=consult.id,
        )
    move(session, consult, ConsultStatus.CANCELLED, actor_id=principal.user_id, reason=reason)
    consult.closed_at = utcnow()
    withdrawn = []
    for offer in consult.offers:
        if offer.state is OfferState.OPEN:
            offer.state = OfferState.WITHDRAWN
            offer.responded_at = consult.closed_at
            withdrawn.append(offer.specialist_id)
    audit.record(session, principal, action, object_type="consult", object_id=consult.id)
    consult_changed(session, consult, withdrawn_from=withdrawn)
    return consult


# --- what other packages need of a consult (through these functions, never the tables) -------


def facts(session: Session, consult_id: int) -> ConsultFacts | None:
    """A consult's facts, unchecked: for callers that checked access themselves or act for the
    hub (billing in the signing transaction or from the outbox)."""
    consult = session.get(Consult, consult_id)
    if consult is None:
        return None
    assignee = consult.assigned_to
    facility = assignee.facility if assignee is not None else None
    outcome = consult.outcome
    signed = outcome is not None and outcome.status is OutcomeStatus.SIGNED
    return ConsultFacts(
        id=consult.id,
        patient_id=consult.patient_id,
        specialty_code=consult.specialty.code,
        mode=consult.mode,
        status=consult.status,
        requester_id=consult.requester_id,
        requester_facility_id=consult.requester_facility_id,
        requester_facility_timezone=consult.requester_facility.timezone,
        assigned_to_id=consult.assigned_to_id,
        assignee_facility_id=facility.id if facility is not None else None,
        assignee_facility_level=facility.level if facility is not None else None,
        answered_at=consult.answered_at,
        outcome_signed_at=(outcome.signed_at or utcnow()) if outcome and signed else None,
    )


def visible_facts(
    session: Session, principal: Principal, consult_id: int, *, purpose: str = "viewed"
) -> ConsultFacts:
    """The facts of a consult within the caller's scope (checked and audited as ``get``)."""
    consult = get(session, principal, consult_id, purpose=purpose)
    found = facts(session, consult.id)
    assert found is not None
    return found


def add_timeline_event(
    session: Session, consult_id: int, kind: str, *, actor_id: int | None, **details: Any
) -> None:
    """Add an event another package caused (a video session opened) to the consult's timeline."""
    add_event(session, session.get_one(Consult, consult_id), kind, actor_id=actor_id, **details)


def assigned_any(session: Session, user_id: int | None, consult_ids: list[int]) -> bool:
    """Whether the user is the assigned specialist of one of these consults."""
    if user_id is None or not consult_ids:
        return False
    found = session.scalar(
        select(Consult.id)
        .where(Consult.id.in_(consult_ids), Consult.assigned_to_id == user_id)
        .limit(1)
    )
    return found is not None


# --- figures for the command centre's progress reports (counts only, no patient data) --------


class ConsultVolume(NamedTuple):
    """Consults a facility requested in a period and how their SLA went: ``decided`` ran their
    clock out (accepted, or escalated past the time to accept); ``met`` were accepted without
    any escalation and answered in time."""

    submitted: int
    decided: int
    met: int


def volume_by_facility(
    session: Session, facility_ids: list[int], start: datetime, end: datetime
) -> dict[int, ConsultVolume]:
    """Per requesting facility, the consults submitted in ``[start, end)`` and their SLA."""
    if not facility_ids:
        return {}
    decided = (Consult.accepted_at.is_not(None)) | (Consult.escalation_stage > 0)
    met = (
        Consult.accepted_at.is_not(None)
        & (Consult.escalation_stage == 0)
        & Consult.answer_alerted.is_(False)
    )
    stmt = (
        select(
            Consult.requester_facility_id,
            func.count(),
            func.sum(case((decided, 1), else_=0)),
            func.sum(case((met, 1), else_=0)),
        )
        .where(
            Consult.requester_facility_id.in_(facility_ids),
            Consult.submitted_at >= start,
            Consult.submitted_at < end,
        )
        .group_by(Consult.requester_facility_id)
    )
    return {
        fid: ConsultVolume(int(n), int(d or 0), int(m or 0))
        for fid, n, d, m in session.execute(stmt)
    }


def rostered_specialties(
    session: Session, facility_ids: list[int], start: datetime, end: datetime
) -> dict[int, set[str]]:
    """Per facility, the specialties someone was on the published roster for in ``[start, end)``
    (SEEDS 001 step 2: a specialist consult clinic runs on a calendar)."""
    if not facility_ids:
        return {}
    stmt = (
        select(Shift.facility_id, Specialty.code)
        .join(Specialty, Specialty.id == Shift.specialty_id)
        .where(Shift.facility_id.in_(facility_ids), Shift.starts_at < end, Shift.ends_at > start)
        .distinct()
    )
    found: dict[int, set[str]] = {}
    for fid, code in session.execute(stmt):
        found.setdefault(fid, set()).add(code)
    return found


def on_call_now(
    session: Session, user_ids: list[int], now: datetime | None = None
) -> dict[int, str]:
    """Of these people, those on a published shift now (any specialty), each with their live
    state: ``available``, ``busy``, ``on_break`` (a pause counts as a break) or ``off_shift``.
    For other packages that offer work by the roster (teleradiology reading)."""
    if not user_ids:
        return {}
    now = now or utcnow()
    on_shift = set(
        session.scalars(
            select(Shift.specialist_id)
            .where(Shift.specialist_id.in_(user_ids), Shift.starts_at <= now, Shift.ends_at > now)
            .distinct()
        )
    )
    states = rosters.live_states(session, on_shift)
    found: dict[int, str] = {}
    for uid in on_shift:
        row = states.get(uid)
        state = row.state.value if row is not None and row.state is not None else "available"
        if row is not None and row.paused_until is not None and row.paused_until > now:
            state = "on_break"
        found[uid] = state
    return found
