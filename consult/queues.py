"""The open-consult queue a command officer watches: waiting times and SLA clocks per specialty
and urgency, without patient details (a queue board is read over shoulders)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from consult.access import consult_visibility
from consult.models import Consult, ConsultStatus, Urgency
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied
from hub.models import Role, utcnow
from hub.permissions import require

# Waiting for a specialist (not yet claimed) or for the answer (claimed, no outcome yet).
WAITING = (ConsultStatus.SUBMITTED, ConsultStatus.OFFERED, ConsultStatus.ESCALATED)
IN_PROGRESS = (ConsultStatus.ACCEPTED,)
URGENCY_ORDER = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}
# Who watches a region's queue (national administrators every region's).
BOARD_ROLES = frozenset({Role.COMMAND, Role.QA_PHYSICIAN, Role.NATIONAL_ADMIN})
# A queue board shows the oldest open consults first; more than this is a crisis that the
# counts (which cover every open consult) still show in full.
ROW_LIMIT = 500


@dataclass(frozen=True)
class QueueRow:
    consult_id: int
    specialty: str
    urgency: Urgency
    status: ConsultStatus
    facility: str
    waiting: timedelta
    due_at: datetime | None
    breached: bool
    escalation_stage: int


@dataclass(frozen=True)
class QueueGroup:
    specialty: str
    urgency: Urgency
    count: int
    breached: int
    median_wait: timedelta
    p90_wait: timedelta


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    groups: list[QueueGroup]
    total: int
    breached: int
    as_of: datetime


def _due(consult: Consult) -> datetime | None:
    return consult.answer_due_at if consult.status in IN_PROGRESS else consult.accept_due_at


def _p90(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def open_queue(session: Session, principal: Principal, *, breached_only: bool = False) -> Queue:
    """The open consults the principal may see (command staff: their region), oldest first."""
    require(principal, "consults:read", action="consult:queue:viewed")
    if not principal.roles & BOARD_ROLES and principal.kind != "system":
        raise AccessDenied(
            "The queue board is for command staff and national administrators.",
            action="consult:queue:viewed",
        )
    now = utcnow()
    consults = session.scalars(
        select(Consult)
        .where(consult_visibility(principal), Consult.status.in_(WAITING + IN_PROGRESS))
        .options(joinedload(Consult.specialty), joinedload(Consult.requester_facility))
        .order_by(Consult.submitted_at, Consult.id)
    ).all()
    rows = []
    for c in consults:
        due = _due(c)
        rows.append(
            QueueRow(
                consult_id=c.id,
                specialty=c.specialty.name,
                urgency=c.urgency,
                status=c.status,
                facility=c.requester_facility.name,
                waiting=now - (c.submitted_at or c.created_at),
                due_at=due,
                breached=due is not None and due < now,
                escalation_stage=c.escalation_stage,
            )
        )
    by_group: dict[tuple[str, Urgency], list[QueueRow]] = {}
    for row in rows:
        by_group.setdefault((row.specialty, row.urgency), []).append(row)
    groups = []
    for (specialty, urgency), members in by_group.items():
        waits = sorted(r.waiting.total_seconds() for r in members)
        groups.append(
            QueueGroup(
                specialty=specialty,
                urgency=urgency,
                count=len(members),
                breached=sum(r.breached for r in members),
                median_wait=timedelta(seconds=statistics.median(waits)),
                p90_wait=timedelta(seconds=_p90(waits)),
            )
        )
    groups.sort(key=lambda g: (URGENCY_ORDER[g.urgency], -g.p90_wait, g.specialty))
    shown = [r for r in rows if r.breached] if breached_only else rows
    shown.sort(key=lambda r: (not r.breached, URGENCY_ORDER[r.urgency], -r.waiting))
    shown = shown[:ROW_LIMIT]
    audit.record(
        session,
        principal,
        "consult:queue:viewed",
        object_type="consult",
        details={"ids": [r.consult_id for r in shown], "breached_only": breached_only},
    )
    return Queue(
        rows=shown,
        groups=groups,
        total=len(rows),
        breached=sum(r.breached for r in rows),
        as_of=now,
    )
