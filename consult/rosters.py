"""On-call rosters, live availability, and the routing candidates they produce."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Row, Select, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from consult import oncall
from consult.models import (
    Consult,
    ConsultStatus,
    RosterRevision,
    Shift,
    SpecialistState,
    SpecialistStatus,
)
from consult.routing import Candidate, Request, ineligible_reason
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, NotFound, ValidationFailed
from hub.models import Facility, Role, Specialty, User, UserRole, utcnow
from hub.permissions import require

ROSTER_ADMINS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})
MAX_SHIFT = timedelta(days=366)
MAX_PAUSE_MINUTES = 240


def status_of(session: Session, user_id: int) -> SpecialistStatus:
    row = session.get(SpecialistStatus, user_id)
    if row is None:
        row = SpecialistStatus(user_id=user_id, state=SpecialistState.AVAILABLE)
        session.add(row)
        session.flush()
    return row


def set_status(
    session: Session,
    principal: Principal,
    *,
    state: SpecialistState | None,
    pause_minutes: int | None,
    max_concurrent: int | None,
) -> SpecialistStatus:
    """A specialist sets their own live status, a pause of N minutes, or their case limit."""
    action = "consult:availability:changed"
    require(
        principal,
        "consults:write",
        roles=frozenset({Role.SPECIALIST, Role.RADIOLOGIST}),
        action=action,
    )
    assert principal.user_id is not None
    row = status_of(session, principal.user_id)
    if state is not None:
        row.state = state
    if pause_minutes is not None:
        if not 0 <= pause_minutes <= MAX_PAUSE_MINUTES:
            raise ValidationFailed(f"A pause lasts 0 to {MAX_PAUSE_MINUTES} minutes.")
        row.paused_until = utcnow() + timedelta(minutes=pause_minutes) if pause_minutes else None
    if max_concurrent is not None:
        row.max_concurrent = max_concurrent
    row.updated_at = utcnow()
    audit.record(
        session,
        principal,
        action,
        object_type="user",
        object_id=principal.user_id,
        details={"state": row.state.value, "max_concurrent": row.max_concurrent},
    )
    return row


def add_shift(
    session: Session,
    principal: Principal,
    *,
    username: str,
    specialty_code: str,
    facility_code: str,
    starts_at: datetime,
    ends_at: datetime,
) -> Shift:
    """Publish an on-call shift; a facility admin manages their own facility's roster."""
    action = "consult:shift:created"
    require(principal, "admin", roles=ROSTER_ADMINS, action=action)
    if ends_at <= starts_at:
        raise ValidationFailed("A shift must end after it starts.")
    if ends_at - starts_at > MAX_SHIFT:
        raise ValidationFailed("A shift lasts at most a year; publish the next one later.")
    facility = session.scalar(select(Facility).where(Facility.code == facility_code))
    if facility is None:
        raise ValidationFailed("Unknown facility.", details={"facility": facility_code})
    if not principal.has_role(Role.NATIONAL_ADMIN) and facility.id != principal.facility_id:
        raise AccessDenied(
            "You manage only your own facility's roster.",
            action=action,
            object_type="facility",
            object_id=facility.id,
        )
    if facility.level not in (2, 3):
        raise ValidationFailed("On-call consultants work at level 2 or 3 facilities.")
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.role_set & {Role.SPECIALIST, Role.RADIOLOGIST}:
        raise ValidationFailed("Unknown specialist.", details={"specialist": username})
    specialty = session.scalar(select(Specialty).where(Specialty.code == specialty_code))
    if specialty is None:
        raise ValidationFailed("Unknown specialty.", details={"specialty": specialty_code})
    if specialty not in user.specialties:
        raise ValidationFailed("The specialist does not practise this specialty.")
    shift = Shift(
        specialist_id=user.id,
        specialty_id=specialty.id,
        facility_id=facility.id,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    session.add(shift)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="shift",
        object_id=shift.id,
        details={"specialist": user.id, "facility": facility.code},
    )
    return shift


def remove_shift(session: Session, principal: Principal, shift_id: int) -> None:
    """Take a shift off the roster; a facility admin only their own facility's."""
    action = "consult:shift:removed"
    require(principal, "admin", roles=ROSTER_ADMINS, action=action)
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound("Not found.")
    if not principal.has_role(Role.NATIONAL_ADMIN) and shift.facility_id != principal.facility_id:
        raise AccessDenied(
            "You manage only your own facility's roster.",
            action=action,
            object_type="shift",
            object_id=shift.id,
        )
    details = {
        "specialist": shift.specialist_id,
        "facility": shift.facility_id,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
    }
    session.delete(shift)
    session.flush()
    audit.record(
        session, principal, action, object_type="shift", object_id=shift_id, details=details
    )


def publishable(session: Session, principal: Principal) -> tuple[list[User], list[Facility]]:
    """Whom and where a roster administrator may publish shifts for: the consultants and the
    level 2/3 facilities of their facility (a national administrator: all of them)."""
    require(principal, "admin", roles=ROSTER_ADMINS, action="consult:shift:form_viewed")
    people = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_([Role.SPECIALIST, Role.RADIOLOGIST]), User.is_active.is_(True))
        .distinct()
        .order_by(User.full_name)
        .limit(1000)
    )
    places = select(Facility).where(Facility.level.in_([2, 3])).order_by(Facility.name)
    if not principal.has_role(Role.NATIONAL_ADMIN):
        people = people.where(User.facility_id == principal.facility_id)
        places = places.where(Facility.id == principal.facility_id)
    return list(session.scalars(people)), list(session.scalars(places.limit(1000)))


def shifts_of_specialist(
    session: Session, user_id: int, start: datetime, end: datetime
) -> list[Shift]:
    """One specialist's shifts overlapping [start, end] (their own page)."""
    return list(
        session.scalars(
            select(Shift)
            .where(Shift.specialist_id == user_id, Shift.ends_at > start, Shift.starts_at < end)
            .order_by(Shift.starts_at)
            .limit(200)
        )
    )


def live_states(session: Session, user_ids: set[int]) -> dict[int, SpecialistStatus]:
    """The live status rows of these people (none: available, the default)."""
    if not user_ids:
        return {}
    rows = session.scalars(select(SpecialistStatus).where(SpecialistStatus.user_id.in_(user_ids)))
    return {r.user_id: r for r in rows}


def shifts_of(
    session: Session,
    principal: Principal,
    *,
    specialty_code: str | None,
    start: datetime,
    end: datetime,
) -> list[Shift]:
    """The published calendar (rosters are public within the hub, SEEDS 001 step 2)."""
    require(principal, "profile", action="consult:shift:listed")
    stmt = select(Shift).where(Shift.ends_at > start, Shift.starts_at < end)
    if specialty_code:
        specialty = session.scalar(select(Specialty).where(Specialty.code == specialty_code))
        if specialty is None:
            raise ValidationFailed("Unknown specialty.", details={"specialty": specialty_code})
        stmt = stmt.where(Shift.specialty_id == specialty.id)
    return list(session.scalars(stmt.order_by(Shift.starts_at).limit(1000)))


DEFAULT_MAX_CONCURRENT = 5


def _on_call(specialty_id: int, now: datetime) -> list[ColumnElement[bool]]:
    return [
        Shift.specialty_id == specialty_id,
        Shift.starts_at <= now,
        Shift.ends_at > now,
        User.is_active.is_(True),
    ]


def _candidate(
    user_id: int, where: tuple[int, int | None, int], status: Row[Any], active_cases: int
) -> Candidate:
    """A routing candidate from where they are on call (level, university, region) and their
    live status row (``username``, ``state``, ...): no status row's values mean the defaults."""
    level, university_id, region_id = where
    return Candidate(
        user_id=user_id,
        username=status.username,
        level=level,
        university_id=university_id,
        region_id=region_id,
        on_call=True,
        state=(status.state or SpecialistState.AVAILABLE).value,
        paused_until=status.paused_until,
        active_cases=active_cases,
        max_concurrent=status.max_concurrent or DEFAULT_MAX_CONCURRENT,
        last_assigned_at=status.last_assigned_at,
    )


_COLUMNS = (
    Shift.specialist_id,
    User.username,
    Facility.level,
    Facility.university_id,
    Facility.region_id,
    SpecialistStatus.state,
    SpecialistStatus.paused_until,
    SpecialistStatus.max_concurrent,
    SpecialistStatus.last_assigned_at,
)


def _roster(select_stmt: Select) -> Select:
    return (
        select_stmt.join(User, User.id == Shift.specialist_id)
        .join(Facility, Facility.id == Shift.facility_id)
        .outerjoin(SpecialistStatus, SpecialistStatus.user_id == Shift.specialist_id)
    )


def candidates(session: Session, specialty_id: int, now: datetime) -> list[Candidate]:
    """Everyone on call now for the specialty, with the facts routing needs."""
    rows = session.execute(_roster(select(*_COLUMNS)).where(*_on_call(specialty_id, now))).all()
    # Open cases are counted for the people on call only, not for every specialist who ever
    # answered a consult (that count grew with the archive and dominated routing time).
    on_call_ids = {r.specialist_id for r in rows}
    active: dict[int, int] = {}
    if on_call_ids:
        active = {
            uid: n
            for uid, n in session.execute(
                select(Consult.assigned_to_id, func.count())
                .where(
                    Consult.status == ConsultStatus.ACCEPTED,
                    Consult.assigned_to_id.in_(on_call_ids),
                )
                .group_by(Consult.assigned_to_id)
            ).all()
            if uid is not None
        }
    seen: set[int] = set()
    found = []
    for r in rows:
        if r.specialist_id in seen:  # overlapping shifts: count the person once
            continue
        seen.add(r.specialist_id)
        where = (r.level, r.university_id, r.region_id)
        found.append(_candidate(r.specialist_id, where, r, active.get(r.specialist_id, 0)))
    return found


def candidates_for(session: Session, specialty_id: int, req: Request) -> list[Candidate]:
    """What ``route(req, ...)`` needs of the roster: the eligible of the nearest tier (for an
    emergency, of the whole region) and, so the trace can say why they were passed over,
    everyone on call in nearer tiers. Nobody eligible: everyone on call.

    On a national roster a specialty has hundreds on call and routing needs a handful of them.
    Who is on call where comes from memory (``consult.oncall``); a person's live status and open
    cases are looked up only tier by tier, nearest first, until a tier has someone eligible (by
    ``routing.ineligible_reason`` itself). tests/consult/test_routing_db.py checks that this
    gives the decision the whole roster gives.
    """
    for _attempt in range(3):
        snapshot = oncall.CACHE.snapshot(session, specialty_id, req.now)
        found, revision = _candidates_from(session, snapshot, req)
        if revision is _UNSEEN:  # no status was read: ask for the revision alone
            revision = oncall.current_revision(session)
        if revision == snapshot.revision:
            return found
        oncall.CACHE.forget(session)  # the roster changed since the snapshot: read it again
    return found  # read just now, in this call: as current as a second look would be


_UNSEEN = object()


def _candidates_from(
    session: Session, snapshot: oncall.Snapshot, req: Request
) -> tuple[list[Candidate], object]:
    """The candidates, and the roster revision as of their status query (``_UNSEEN`` if none
    was needed)."""
    regional = _regional(req)
    revision: object = _UNSEEN
    place: dict[int, _Place] = {}
    found: list[Candidate] = []
    pending: list[int] = []
    collecting: int | None = None  # the tier being read
    # Rows come nearest tier first: those of farther tiers are never looked at once a tier
    # has someone eligible.
    for person, level, university_id, region_id, tier in snapshot.on_call(req):
        if person in place:
            continue  # overlapping shifts: a person counts once, in their nearest tier
        if collecting is not None and tier != collecting and _look_now(collecting, tier, req):
            more, revision = _with_status(session, pending, place, revision)
            found += more
            pending = []
            if any(_choosable(c, place[c.user_id][3] // 10, req, regional) for c in found):
                return found, revision
        collecting = tier
        place[person] = (level, university_id, region_id, tier)
        pending.append(person)
    more, revision = _with_status(session, pending, place, revision)
    return found + more, revision


def _look_now(finished: int, following: int, req: Request) -> bool:
    """Whether to read live status once tier ``finished`` is read and ``following`` begins."""
    if _regional(req):
        # Offered to the whole region at once: read it in one go.
        return not (finished // 10 <= 1 and following // 10 <= 1)
    return finished // 10 >= req.min_pool  # nearer pools are skipped at this stage


def _regional(req: Request) -> bool:
    """An emergency not yet widened past the region is offered to the whole region at once."""
    return req.urgency == "emergency" and req.min_pool <= 1


def _choosable(c: Candidate, pool: int, req: Request, regional: bool) -> bool:
    """Whether route() could offer to ``c``: eligible, in a pool this request searches."""
    in_scope = pool >= req.min_pool or (regional and pool <= 1)
    return in_scope and ineligible_reason(c, req) is None


# A facility's level, university and macro-region, and the tier (pool * 10 + level).
_Place = tuple[int, int | None, int, int]


def _with_status(
    session: Session, people: list[int], place: dict[int, _Place], revision: object
) -> tuple[list[Candidate], object]:
    """Candidates for ``people`` (in that order) with their live status and open cases, and
    the roster revision read with them (``revision`` again if nothing was read)."""
    if not people:
        return [], revision
    # Through the session's connection, not the session: nothing here is an ORM entity, and
    # the ORM's execution layer was a fifth of a routing decision's time.
    connection = session.connection()
    statement = _STATUS_PG if connection.dialect.name == "postgresql" else _STATUS
    rows = connection.execute(statement, {"people": people}).all()
    facts = {r.id: r for r in rows}
    found = [
        _candidate(person, place[person][:3], f, f.active_cases)
        for person in people
        if (f := facts.get(person)) is not None  # an inactive account is not on call
    ]
    return found, rows[0].roster_revision if rows else revision


# Built once: routing runs on every submission, decline and escalation.
_STATUS_COLUMNS = select(
    User.id,
    User.username,
    SpecialistStatus.state,
    SpecialistStatus.paused_until,
    SpecialistStatus.max_concurrent,
    SpecialistStatus.last_assigned_at,
    select(func.count())
    .where(Consult.assigned_to_id == User.id, Consult.status == ConsultStatus.ACCEPTED)
    .scalar_subquery()
    .label("active_cases"),
    select(RosterRevision.revision).scalar_subquery().label("roster_revision"),
).outerjoin(SpecialistStatus, SpecialistStatus.user_id == User.id)
_STATUS = _STATUS_COLUMNS.where(
    User.id.in_(bindparam("people", expanding=True)), User.is_active.is_(True)
)
# On PostgreSQL the people are one array parameter: one statement text whatever their number,
# so it is prepared once (an IN list is a new statement, planned anew, for every length).
_STATUS_PG = _STATUS_COLUMNS.where(
    User.id == any_(bindparam("people", type_=postgresql.ARRAY(Integer))),
    User.is_active.is_(True),
)


def get_specialist(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("Not found.")
    return user
