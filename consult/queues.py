"""The open-consult queue a command officer watches: waiting times and SLA clocks per specialty
and urgency, without patient details (a queue board is read over shoulders)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from consult.access import consult_visibility
from consult.models import Consult, ConsultStatus, Urgency
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied
from hub.models import Facility, Role, Specialty, utcnow
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
    specialty_code: str
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
    specialty_code: str
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


# The two waiting-time quantiles the board shows, as fractions (numerator, denominator): the
# same inclusive linear interpolation as ``statistics.median`` / ``statistics.quantiles(n=10,
# method="inclusive")`` and PostgreSQL's ``percentile_cont``.
MEDIAN = (1, 2)
P90 = (9, 10)


def _start() -> ColumnElement[datetime]:
    """When the consult started waiting (a draft submitted straight away has no submitted_at)."""
    return func.coalesce(Consult.submitted_at, Consult.created_at)


def _due() -> ColumnElement[datetime]:
    """The clock that runs now: the answer once accepted, the acceptance before."""
    return case(
        (Consult.status.in_(IN_PROGRESS), Consult.answer_due_at), else_=Consult.accept_due_at
    )


def _breached(now: datetime) -> ColumnElement[bool]:
    due = _due()
    return and_(due.is_not(None), due < now)


def _urgency_rank() -> ColumnElement[int]:
    return case(
        *((Consult.urgency == urgency, rank) for urgency, rank in URGENCY_ORDER.items()),
        else_=len(URGENCY_ORDER),
    )


def _interpolate(ordered: dict[int, float], n: int, fraction: tuple[int, int]) -> float:
    """The quantile of ``n`` ascending values of which ``ordered`` holds the ranks it needs."""
    num, den = fraction
    m = n - 1
    j, delta = divmod(num * m, den)
    if delta == 0:
        return ordered[j]
    return (ordered[j] * (den - delta) + ordered[j + 1] * delta) / den


@dataclass(frozen=True)
class _Aggregate:
    specialty: str
    code: str
    urgency: Urgency
    count: int
    breached: int
    median: float
    p90: float


def _aggregates_percentile_cont(
    session: Session, visible: ColumnElement[bool], now: datetime
) -> list[_Aggregate]:
    """PostgreSQL: counts, breaches and both quantiles in one grouped scan."""
    wait = func.extract("epoch", literal(now, Consult.created_at.type) - _start())
    stmt = (
        select(
            Specialty.name,
            Specialty.code,
            Consult.urgency,
            func.count(),
            func.sum(case((_breached(now), 1), else_=0)),
            func.percentile_cont(MEDIAN[0] / MEDIAN[1]).within_group(wait),
            func.percentile_cont(P90[0] / P90[1]).within_group(wait),
        )
        .join(Specialty, Specialty.id == Consult.specialty_id)
        .where(visible, Consult.status.in_(WAITING + IN_PROGRESS))
        .group_by(Specialty.name, Specialty.code, Consult.urgency)
    )
    return [
        _Aggregate(name, code, urgency, int(n), int(breached or 0), float(median), float(p90))
        for name, code, urgency, n, breached, median, p90 in session.execute(stmt)
    ]


def _aggregates_window(
    session: Session, visible: ColumnElement[bool], now: datetime
) -> list[_Aggregate]:
    """Other databases (SQLite has no ordered-set aggregates): counts in a grouped query, and
    for the quantiles only the (at most four) rows per group at the ranks that the
    interpolation needs, picked out by a window function; the database never hands over more
    than that, whatever the size of the queue."""
    grouped = (
        select(
            Specialty.name,
            Specialty.code,
            Consult.urgency,
            func.count(),
            func.sum(case((_breached(now), 1), else_=0)),
        )
        .join(Specialty, Specialty.id == Consult.specialty_id)
        .where(visible, Consult.status.in_(WAITING + IN_PROGRESS))
        .group_by(Specialty.name, Specialty.code, Consult.urgency)
    )
    counts = {
        (name, urgency): (code, int(n), int(b or 0))
        for name, code, urgency, n, b in session.execute(grouped)
    }
    if not counts:
        return []
    start = _start()
    partition = (Consult.specialty_id, Consult.urgency)
    ranked = (
        select(
            Specialty.name.label("specialty"),
            Consult.urgency.label("urgency"),
            start.label("start"),
            # Rank 0 is the shortest wait: the latest start.
            (
                func.row_number().over(partition_by=partition, order_by=(start.desc(), Consult.id))
                - 1
            ).label("rn"),
            (func.count().over(partition_by=partition) - 1).label("m"),
        )
        .join(Specialty, Specialty.id == Consult.specialty_id)
        .where(visible, Consult.status.in_(WAITING + IN_PROGRESS))
        .subquery()
    )
    wanted: list[ColumnElement[Any]] = []
    for num, den in (MEDIAN, P90):
        j = ranked.c.m * num // den
        wanted += [ranked.c.rn == j, ranked.c.rn == j + 1]
    picked: dict[tuple[str, Urgency], dict[int, float]] = defaultdict(dict)
    rows = session.execute(
        select(ranked.c.specialty, ranked.c.urgency, ranked.c.rn, ranked.c.start).where(
            or_(*wanted)
        )
    )
    for name, urgency, rn, started in rows:
        picked[(name, urgency)][int(rn)] = (now - started).total_seconds()
    result = []
    for (name, urgency), (code, n, breached) in counts.items():
        ordered = picked[(name, urgency)]
        result.append(
            _Aggregate(
                name,
                code,
                urgency,
                n,
                breached,
                _interpolate(ordered, n, MEDIAN),
                _interpolate(ordered, n, P90),
            )
        )
    return result


def _aggregates(session: Session, visible: ColumnElement[bool], now: datetime) -> list[_Aggregate]:
    if session.get_bind().dialect.name == "postgresql":
        return _aggregates_percentile_cont(session, visible, now)
    return _aggregates_window(session, visible, now)


def _rows(
    session: Session, visible: ColumnElement[bool], now: datetime, *, breached_only: bool
) -> list[QueueRow]:
    """At most ROW_LIMIT rows: breached first, then by urgency, the longest waiting first."""
    breached = _breached(now)
    flag = case((breached, 1), else_=0)
    start = _start()
    stmt = (
        select(
            Consult.id,
            Specialty.name,
            Specialty.code,
            Consult.urgency,
            Consult.status,
            Facility.name,
            start,
            _due(),
            flag,
            Consult.escalation_stage,
        )
        .join(Specialty, Specialty.id == Consult.specialty_id)
        .join(Facility, Facility.id == Consult.requester_facility_id)
        .where(visible, Consult.status.in_(WAITING + IN_PROGRESS))
        .order_by(flag.desc(), _urgency_rank(), start, Consult.id)
        .limit(ROW_LIMIT)
    )
    if breached_only:
        stmt = stmt.where(breached)
    return [
        QueueRow(
            consult_id=cid,
            specialty=specialty,
            specialty_code=code,
            urgency=urgency,
            status=status,
            facility=facility,
            waiting=now - started,
            due_at=due,
            breached=bool(is_breached),
            escalation_stage=stage,
        )
        for cid, specialty, code, urgency, status, facility, started, due, is_breached, stage in (
            session.execute(stmt)
        )
    ]


@dataclass(frozen=True)
class Place:
    """Where the board is narrowed to: the consults requested by one facility, or by the
    facilities of one university (the pressure grid's tiles link there)."""

    facility_id: int | None = None
    university_id: int | None = None
    region_id: int | None = None  # a national administrator's drill-down


def _narrowed(visible: ColumnElement[bool], place: Place | None) -> ColumnElement[bool]:
    if place is None:
        return visible
    if place.region_id is not None:
        visible = and_(visible, Consult.region_id == place.region_id)
    if place.facility_id is not None:
        return and_(visible, Consult.requester_facility_id == place.facility_id)
    if place.university_id is not None:
        facilities = select(Facility.id).where(Facility.university_id == place.university_id)
        return and_(visible, Consult.requester_facility_id.in_(facilities))
    return visible


def open_queue(
    session: Session,
    principal: Principal,
    *,
    breached_only: bool = False,
    place: Place | None = None,
) -> Queue:
    """The open consults the principal may see (command staff: their region), optionally of
    one facility or university: counts and waiting-time quantiles per specialty and urgency
    over all of them, computed by the database, and the first ROW_LIMIT rows (breached first,
    urgency, longest waiting)."""
    require(principal, "consults:read", action="consult:queue:viewed")
    if not principal.roles & BOARD_ROLES and principal.kind != "system":
        raise AccessDenied(
            "The queue board is for command staff and national administrators.",
            action="consult:queue:viewed",
        )
    now = utcnow()
    visible = _narrowed(consult_visibility(principal), place)
    groups = [
        QueueGroup(
            specialty=a.specialty,
            specialty_code=a.code,
            urgency=a.urgency,
            count=a.count,
            breached=a.breached,
            median_wait=timedelta(seconds=a.median),
            p90_wait=timedelta(seconds=a.p90),
        )
        for a in _aggregates(session, visible, now)
    ]
    groups.sort(key=lambda g: (URGENCY_ORDER[g.urgency], -g.p90_wait, g.specialty))
    shown = _rows(session, visible, now, breached_only=breached_only)
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
        total=sum(g.count for g in groups),
        breached=sum(g.breached for g in groups),
        as_of=now,
    )
