"""Command staff reassign an open consult to a specialist on call for its specialty (SEEDS 001:
the command headquarters steers cases through the region's specialists).

The chosen specialist gets the consult's only open offer: the others are withdrawn and a
specialist who had taken it but not answered in time is released. The specialist still
claims it, so the atomic claim stays the one way a consult is taken.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.assignment import add_event, move, sla_targets
from consult.events import consult_changed
from consult.models import (
    Consult,
    ConsultOffer,
    ConsultStatus,
    OfferState,
    Shift,
    SpecialistState,
    SpecialistStatus,
)
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, ValidationFailed
from hub.models import Facility, Role, User, utcnow
from hub.permissions import require

# Open and not answered: waiting for a specialist, or taken and still unanswered.
REASSIGNABLE = frozenset(
    {
        ConsultStatus.SUBMITTED,
        ConsultStatus.OFFERED,
        ConsultStatus.ESCALATED,
        ConsultStatus.DECLINED,
        ConsultStatus.ACCEPTED,
    }
)


@dataclass(frozen=True)
class OnCall:
    user_id: int
    name: str
    facility: str
    state: str  # available | busy | on_break (off-shift people are not on call)


def _dispatchable(session: Session, principal: Principal, consult_id: int) -> Consult:
    require(principal, "consults:dispatch", action="consult:request:reassigned")
    consult = session.get(Consult, consult_id)
    national = principal.has_role(Role.NATIONAL_ADMIN)
    in_region = (
        consult is not None
        and principal.has_role(Role.COMMAND)
        and principal.region_id == consult.region_id
    )
    if consult is None or not (national or in_region):
        # Another region's consult: its existence is not the officer's business.
        raise AccessDenied(
            "Consult not found.",
            action="consult:request:reassigned",
            object_type="consult",
            object_id=consult_id,
            hide=True,
        )
    return consult


def on_call(session: Session, principal: Principal, consult_id: int) -> list[OnCall]:
    """Specialists on call now for the consult's specialty, available first."""
    consult = _dispatchable(session, principal, consult_id)
    now = utcnow()
    rows = session.execute(
        select(User, Facility, SpecialistStatus.state)
        .join(Shift, Shift.specialist_id == User.id)
        .join(Facility, Facility.id == Shift.facility_id)
        .outerjoin(SpecialistStatus, SpecialistStatus.user_id == User.id)
        .where(
            Shift.specialty_id == consult.specialty_id,
            Shift.starts_at <= now,
            Shift.ends_at > now,
            User.is_active.is_(True),
        )
        .order_by(User.full_name)
    ).all()
    found: dict[int, OnCall] = {}
    for user, facility, state in rows:
        state = state or SpecialistState.AVAILABLE
        if state is SpecialistState.OFF_SHIFT:
            continue
        found.setdefault(user.id, OnCall(user.id, user.full_name, facility.name, state.value))
    order = {"available": 0, "busy": 1, "on_break": 2}
    return sorted(found.values(), key=lambda o: (order.get(o.state, 3), o.name))


def reassign(
    session: Session, principal: Principal, consult_id: int, specialist_id: int
) -> Consult:
    consult = _dispatchable(session, principal, consult_id)
    if consult.status not in REASSIGNABLE:
        raise Conflict(
            f"A consult that is {consult.status.value} cannot be reassigned.",
            code="not_reassignable",
        )
    candidates = {o.user_id: o for o in on_call(session, principal, consult_id)}
    if specialist_id not in candidates:
        raise ValidationFailed(
            "This specialist is not on call for the consult's specialty now.",
            code="not_on_call",
            details=[{"field": "specialist_id", "problem": "not on call for this specialty"}],
        )
    now = utcnow()
    released = consult.assigned_to_id
    withdrawn = []
    for offer in consult.offers:
        taken_or_open = offer.state in (OfferState.OPEN, OfferState.CLAIMED)
        if taken_or_open and offer.specialist_id != specialist_id:
            offer.state = OfferState.WITHDRAWN
            offer.responded_at = now
            offer.reason = "reassigned by command staff"
            withdrawn.append(offer.specialist_id)
    if released is not None and released != specialist_id:
        withdrawn.append(released)
    mine = next((o for o in consult.offers if o.specialist_id == specialist_id), None)
    if mine is None:
        consult.offers.append(
            ConsultOffer(
                consult_id=consult.id,
                specialist_id=specialist_id,
                state=OfferState.OPEN,
                stage=consult.escalation_stage,
                offered_at=now,
            )
        )
    else:
        mine.state, mine.offered_at, mine.responded_at, mine.reason = (
            OfferState.OPEN,
            now,
            None,
            None,
        )
    previous = consult.status
    if consult.status is ConsultStatus.ACCEPTED:
        # Released: the state machine has no accepted → offered edge for anyone else.
        consult.assigned_to_id = None
        consult.accepted_at = None
        consult.answer_due_at = None
        consult.status = ConsultStatus.OFFERED
        add_event(
            session,
            consult,
            "released",
            actor_id=principal.user_id,
            from_status=previous,
            to_status=ConsultStatus.OFFERED,
            specialist=released,
        )
    elif consult.status is not ConsultStatus.OFFERED:
        move(session, consult, ConsultStatus.OFFERED, actor_id=principal.user_id)
    accept, _answer = sla_targets(session, consult.region_id, consult.urgency)
    consult.accept_due_at = now + accept
    add_event(
        session,
        consult,
        "reassigned",
        actor_id=principal.user_id,
        specialist=specialist_id,
        withdrawn=sorted(set(withdrawn)),
    )
    consult_changed(session, consult, withdrawn_from=sorted(set(withdrawn)))
    audit.record(
        session,
        principal,
        "consult:request:reassigned",
        object_type="consult",
        object_id=consult.id,
        details={"to": specialist_id, "withdrawn": sorted(set(withdrawn))},
    )
    return consult
