"""Offering consults to specialists, atomic claims, declines and escalation of SLA breaches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, inspect, or_, select, update
from sqlalchemy.orm import Session

from consult import lifecycle
from consult.events import consult_changed
from consult.models import (
    Consult,
    ConsultEvent,
    ConsultOffer,
    ConsultStatus,
    OfferState,
    SlaPolicy,
    Urgency,
)
from consult.rosters import candidates_for, status_of
from consult.routing import Request, route, summarise
from hub import audit, hooks
from hub.auth.principal import SYSTEM, Principal
from hub.errors import AccessDenied, Conflict, NotFound
from hub.models import Facility, Role, utcnow
from hub.permissions import require
from hub.realtime import command_room, emit_after_commit

# Minutes to accept / to answer, per urgency (SEEDS-derived defaults; per region in sla_policy).
DEFAULT_SLA: dict[Urgency, tuple[int, int]] = {
    Urgency.EMERGENCY: (10, 60),
    Urgency.URGENT: (60, 24 * 60),
    Urgency.ROUTINE: (24 * 60, 72 * 60),
}
# Escalation stages: 1 next candidates, 2 next level / wider pool, 3 other macro-regions,
# 4 national pool, 5 the region's command staff are alerted.
STAGE_MIN_POOL = {0: 0, 1: 0, 2: 1, 3: 2, 4: 2}
FINAL_STAGE = 5
CONSULTANTS = frozenset({Role.SPECIALIST, Role.RADIOLOGIST})


def sla_targets(session: Session, region_id: int, urgency: Urgency) -> tuple[timedelta, timedelta]:
    # The region's own policy, else the national one (NULL region sorts last), else the default.
    # Policies are not what the caller's transaction changes: nothing to flush first.
    with session.no_autoflush:
        row = session.scalar(
            select(SlaPolicy)
            .where(
                or_(SlaPolicy.region_id == region_id, SlaPolicy.region_id.is_(None)),
                SlaPolicy.urgency == urgency,
            )
            .order_by(SlaPolicy.region_id.is_(None))
            .limit(1)
        )
    accept, answer = (row.accept_minutes, row.answer_minutes) if row else DEFAULT_SLA[urgency]
    return timedelta(minutes=accept), timedelta(minutes=answer)


def add_event(
    session: Session,
    consult: Consult,
    kind: str,
    *,
    actor_id: int | None = None,
    from_status: ConsultStatus | None = None,
    to_status: ConsultStatus | None = None,
    **details: Any,
) -> None:
    event = ConsultEvent(
        consult_id=consult.id,
        kind=kind,
        actor_id=actor_id,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None,
        details=details,
    )
    if "events" in inspect(consult).dict:
        consult.events.append(event)  # the loaded timeline stays current without a reload
    else:
        session.add(event)


def move(
    session: Session,
    consult: Consult,
    target: ConsultStatus,
    *,
    actor_id: int | None,
    kind: str = "status",
    **details: Any,
) -> None:
    """Change status through the state machine, recording it on the timeline."""
    lifecycle.check(consult.status, target)
    previous = consult.status
    consult.status = target
    add_event(
        session, consult, kind, actor_id=actor_id, from_status=previous, to_status=target, **details
    )


def accept_directly(
    session: Session, consult: Consult, specialist_id: int, kind: str, actor_id: int | None = None
) -> None:
    """Give a consult straight to one specialist, unrouted: a phone consult registered after
    the call, a booked virtual visit. Its offer is claimed and its answer clock starts now."""
    session.add(
        ConsultOffer(
            consult_id=consult.id, specialist_id=specialist_id, state=OfferState.CLAIMED, stage=0
        )
    )
    _accept, answer = sla_targets(session, consult.region_id, consult.urgency)
    consult.assigned_to_id = specialist_id
    consult.accepted_at = utcnow()
    consult.answer_due_at = consult.accepted_at + answer
    move(session, consult, ConsultStatus.OFFERED, actor_id=None, kind=kind)
    move(session, consult, ConsultStatus.ACCEPTED, actor_id=actor_id, kind=kind)
    session.flush()
    session.expire(consult, ["offers"])


def offer(session: Session, consult: Consult, now: datetime, *, stage: int = 0) -> bool:
    """Route the consult and open offers; returns whether anybody was offered it."""
    facility = session.get_one(Facility, consult.requester_facility_id)
    already = {o.specialist_id for o in consult.offers}
    request = Request(
        urgency=consult.urgency.value,
        university_id=facility.university_id,
        region_id=facility.region_id,
        now=now,
        excluded=frozenset(already),
        min_pool=STAGE_MIN_POOL.get(stage, 2),
    )
    # The roster query reads no row this transaction changed: nothing to flush before it.
    with session.no_autoflush:
        decision = route(request, candidates_for(session, consult.specialty_id, request))
    header = f"[{now.isoformat(timespec='seconds')}] routing at stage {stage}"
    consult.routing_trace = [*consult.routing_trace, header, *summarise(decision.trace)]
    for specialist_id in decision.offer_to:
        consult.offers.append(
            ConsultOffer(
                consult_id=consult.id,
                specialist_id=specialist_id,
                state=OfferState.OPEN,
                stage=stage,
                offered_at=now,
            )
        )
    if decision.offer_to:
        add_event(
            session,
            consult,
            "offered",
            tier=decision.tier,
            specialists=decision.offer_to,
            stage=stage,
        )
    return bool(decision.offer_to)


def route_new(session: Session, consult: Consult, now: datetime) -> None:
    """First routing of a submitted consult; nobody eligible means escalation starts at once."""
    accept, _answer = sla_targets(session, consult.region_id, consult.urgency)
    consult.accept_due_at = now + accept
    if offer(session, consult, now):
        move(session, consult, ConsultStatus.OFFERED, actor_id=None)
    else:
        consult.accept_due_at = now
        move(
            session,
            consult,
            ConsultStatus.ESCALATED,
            actor_id=None,
            kind="escalated",
            reason="nobody eligible at submission",
        )


def _claimable(
    session: Session, principal: Principal, consult_id: int, action: str
) -> tuple[Consult, ConsultOffer]:
    require(principal, "consults:write", roles=CONSULTANTS, action=action)
    own_offer = session.scalar(
        select(ConsultOffer).where(
            ConsultOffer.consult_id == consult_id, ConsultOffer.specialist_id == principal.user_id
        )
    )
    if own_offer is None:
        exists = session.get(Consult, consult_id)
        if exists is None:
            raise NotFound("Not found.")
        raise AccessDenied(action=action, object_type="consult", object_id=consult_id, hide=True)
    return own_offer.consult, own_offer


def claim(session: Session, principal: Principal, consult_id: int) -> Consult:
    """Accept an offered consult. Atomic: of concurrent claims exactly one wins, the rest 409."""
    action = "consult:request:claimed"
    consult, own_offer = _claimable(session, principal, consult_id, action)
    if consult.assigned_to_id is not None:
        raise Conflict("This consult was already claimed.", code="already_claimed")
    if own_offer.state is not OfferState.OPEN:
        raise Conflict(f"Your offer is {own_offer.state.value}.", code="offer_closed")
    now = utcnow()
    _accept, answer = sla_targets(session, consult.region_id, consult.urgency)
    # Compare-and-set: the row changes only if nobody claimed it first. On PostgreSQL the
    # UPDATE locks the row and re-checks the condition after a concurrent commit; on SQLite the
    # write transaction is already exclusive (BEGIN IMMEDIATE).
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Consult)
        .where(
            Consult.id == consult.id,
            Consult.assigned_to_id.is_(None),
            Consult.status.in_(list(lifecycle.CLAIMABLE)),
        )
        .values(
            status=ConsultStatus.ACCEPTED,
            assigned_to_id=principal.user_id,
            accepted_at=now,
            answer_due_at=now + answer,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "This consult was already claimed or is no longer open.", code="already_claimed"
        )
    previous = consult.status
    session.refresh(consult)
    add_event(
        session,
        consult,
        "claimed",
        actor_id=principal.user_id,
        from_status=previous,
        to_status=ConsultStatus.ACCEPTED,
    )
    withdrawn = session.scalars(
        update(ConsultOffer)
        .where(
            ConsultOffer.consult_id == consult.id,
            ConsultOffer.state == OfferState.OPEN,
            ConsultOffer.id != own_offer.id,
        )
        .values(state=OfferState.WITHDRAWN, responded_at=now)
        .returning(ConsultOffer.specialist_id)
    ).all()
    own_offer.state = OfferState.CLAIMED
    own_offer.responded_at = now
    assert principal.user_id is not None
    status_of(session, principal.user_id).last_assigned_at = now
    session.flush()
    session.expire(consult, ["offers"])
    audit.record(session, principal, action, object_type="consult", object_id=consult.id)
    consult_changed(session, consult, withdrawn_from=withdrawn)
    return consult


def decline(session: Session, principal: Principal, consult_id: int, reason: str) -> Consult:
    """Decline an offer with a reason; when no offer remains open the consult is re-routed,
    excluding everyone who already had it."""
    action = "consult:request:declined"
    consult, own_offer = _claimable(session, principal, consult_id, action)
    if own_offer.state is not OfferState.OPEN:
        raise Conflict(f"Your offer is {own_offer.state.value}.", code="offer_closed")
    if consult.status not in lifecycle.CLAIMABLE:
        raise Conflict("This consult is no longer open.", code="not_open")
    now = utcnow()
    own_offer.state = OfferState.DECLINED
    own_offer.responded_at = now
    own_offer.reason = reason
    add_event(session, consult, "declined", actor_id=principal.user_id, reason=reason)
    session.flush()
    still_open = session.scalar(
        select(ConsultOffer.id)
        .where(ConsultOffer.consult_id == consult.id, ConsultOffer.state == OfferState.OPEN)
        .limit(1)
    )
    if still_open is None:
        if offer(session, consult, now, stage=consult.escalation_stage):
            move(session, consult, ConsultStatus.OFFERED, actor_id=None, kind="rerouted")
        else:
            move(session, consult, ConsultStatus.DECLINED, actor_id=None)
            consult.accept_due_at = now  # escalate at the next SLA sweep
    audit.record(session, principal, action, object_type="consult", object_id=consult.id)
    consult_changed(session, consult)
    return consult


def escalate_due(session: Session, now: datetime | None = None, limit: int = 200) -> int:
    """The periodic SLA sweep: widen unaccepted consults stage by stage, then alert command
    staff; alert command staff when an accepted consult passes its time to answer."""
    now = now or utcnow()
    stmt = (
        select(Consult)
        .where(Consult.status.in_(list(lifecycle.CLAIMABLE)), Consult.accept_due_at <= now)
        .order_by(Consult.accept_due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Two beat-triggered sweeps never escalate the same consult twice.
        stmt = stmt.with_for_update(skip_locked=True)
    handled = 0
    for consult in session.scalars(stmt).all():
        _escalate_one(session, consult, now)
        handled += 1
    late = (
        select(Consult)
        .where(
            Consult.status == ConsultStatus.ACCEPTED,
            Consult.answer_due_at <= now,
            Consult.answer_alerted.is_(False),
        )
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        late = late.with_for_update(skip_locked=True)
    for consult in session.scalars(late).all():
        consult.answer_alerted = True
        add_event(
            session,
            consult,
            "answer_overdue",
            due=consult.answer_due_at.isoformat() if consult.answer_due_at else None,
        )
        _alert_command(session, consult, "answer_overdue")
        handled += 1
    return handled


def _escalate_one(session: Session, consult: Consult, now: datetime) -> None:
    accept, _answer = sla_targets(session, consult.region_id, consult.urgency)
    while consult.escalation_stage < FINAL_STAGE:
        consult.escalation_stage += 1
        stage = consult.escalation_stage
        if stage == FINAL_STAGE:
            break
        if offer(session, consult, now, stage=stage):
            move(
                session,
                consult,
                ConsultStatus.ESCALATED,
                actor_id=None,
                kind="escalated",
                stage=stage,
            )
            # Offers stay open at every stage; escalation widens, it does not take away.
            consult.accept_due_at = now + accept
            consult_changed(session, consult)
            return
        add_event(session, consult, "escalation_empty", stage=stage)
    consult.accept_due_at = None
    if consult.status is not ConsultStatus.ESCALATED:
        move(
            session,
            consult,
            ConsultStatus.ESCALATED,
            actor_id=None,
            kind="escalated",
            stage=FINAL_STAGE,
        )
    add_event(session, consult, "command_alerted", stage=FINAL_STAGE)
    _alert_command(session, consult, "unassigned")
    consult_changed(session, consult)
    audit.record(
        session,
        SYSTEM,
        "consult:request:escalated",
        object_type="consult",
        object_id=consult.id,
        details={"stage": FINAL_STAGE},
    )


def _alert_command(session: Session, consult: Consult, reason: str) -> None:
    # The command centre keeps the alert until someone takes it (in this transaction).
    hooks.command_alerted.run(
        session,
        hooks.CommandAlert(
            region_id=consult.region_id,
            kind=f"consult_{reason}",
            subject_type="consult",
            subject_id=consult.id,
            raised_at=utcnow(),
            detail=consult.urgency.value,
        ),
    )
    emit_after_commit(
        session,
        "consult.alert",
        {"consult_id": consult.id, "reason": reason, "urgency": consult.urgency.value},
        [command_room(consult.region_id)],
    )
