"""Who is on call in a region, per specialty and tier, and how much waits where: the facts a
command officer's board shows beside the queue (counts only, no patient details).

"Online" means an open browser session of the hub used within ``ONLINE_WINDOW`` (a session
records its last use at most once a minute, so a live page keeps it fresh); "busy" means
the specialist set their status to busy or has as many accepted consults open as their limit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import Session

from consult.access import consult_visibility
from consult.models import Consult, ConsultStatus, Shift, SpecialistState, SpecialistStatus
from consult.queues import BOARD_ROLES, IN_PROGRESS, WAITING, _breached
from consult.rosters import DEFAULT_MAX_CONCURRENT
from hub.auth.principal import Principal
from hub.errors import AccessDenied
from hub.models import Facility, Specialty, University, User, utcnow
from hub.models.auth import UserSession
from hub.permissions import require

ONLINE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class StaffingRow:
    specialty_code: str
    specialty: str  # the stored name (pages translate by code)
    level: int  # the tier: the level of the facility the shift is at
    on_call: int
    online: int
    busy: int


@dataclass(frozen=True)
class FacilityLoad:
    facility_id: int
    code: str
    name: str
    level: int
    university_id: int | None
    open: int
    breached: int
    on_call: int  # specialists on call at this facility now


@dataclass(frozen=True)
class UniversityLoad:
    university_id: int | None
    code: str | None
    name: str | None
    facilities: list[FacilityLoad]

    @property
    def open(self) -> int:
        return sum(f.open for f in self.facilities)

    @property
    def breached(self) -> int:
        return sum(f.breached for f in self.facilities)

    @property
    def on_call(self) -> int:
        return sum(f.on_call for f in self.facilities)


def _require_board(principal: Principal, action: str) -> None:
    require(principal, "consults:read", action=action)
    if not principal.roles & BOARD_ROLES and principal.kind != "system":
        raise AccessDenied(
            "The command board is for command staff and national administrators.", action=action
        )


def _in_region(region_id: int | None) -> ColumnElement[bool]:
    return Facility.region_id == region_id if region_id is not None else true()


def staffing(
    session: Session, principal: Principal, region_id: int | None, now: datetime | None = None
) -> list[StaffingRow]:
    """Specialists on call now in the region (every region: None), online and busy, per
    specialty and tier; a person on call for two specialties counts in both."""
    _require_board(principal, "consult:staffing:viewed")
    now = now or utcnow()
    rows = session.execute(
        select(
            Shift.specialist_id,
            Specialty.code,
            Specialty.name,
            Facility.level,
            SpecialistStatus.state,
            SpecialistStatus.max_concurrent,
        )
        .join(User, User.id == Shift.specialist_id)
        .join(Facility, Facility.id == Shift.facility_id)
        .join(Specialty, Specialty.id == Shift.specialty_id)
        .outerjoin(SpecialistStatus, SpecialistStatus.user_id == Shift.specialist_id)
        .where(
            Shift.starts_at <= now,
            Shift.ends_at > now,
            User.is_active.is_(True),
            _in_region(region_id),
        )
    ).all()
    people = {r.specialist_id for r in rows}
    online: set[int] = set()
    active: dict[int, int] = {}
    if people:
        online = set(
            session.scalars(
                select(UserSession.user_id).where(
                    UserSession.user_id.in_(people),
                    UserSession.revoked_at.is_(None),
                    UserSession.last_seen_at >= now - ONLINE_WINDOW,
                )
            )
        )
        active = {
            uid: int(n)
            for uid, n in session.execute(
                select(Consult.assigned_to_id, func.count())
                .where(Consult.status == ConsultStatus.ACCEPTED, Consult.assigned_to_id.in_(people))
                .group_by(Consult.assigned_to_id)
            )
            if uid is not None
        }
    seen: set[tuple[int, str, int]] = set()  # overlapping shifts count a person once
    counts: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        key = (r.specialist_id, r.code, r.level)
        if key in seen:
            continue
        seen.add(key)
        limit = r.max_concurrent or DEFAULT_MAX_CONCURRENT
        busy = r.state is SpecialistState.BUSY or active.get(r.specialist_id, 0) >= limit
        c = counts[(r.code, r.name, r.level)]
        c[0] += 1
        c[1] += r.specialist_id in online
        c[2] += busy
    return sorted(
        (StaffingRow(code, name, level, *c) for (code, name, level), c in counts.items()),
        key=lambda s: (s.specialty, s.level),
    )


def loads(
    session: Session, principal: Principal, region_id: int | None, now: datetime | None = None
) -> list[UniversityLoad]:
    """Every facility of the region grouped by university, with the open consults it requested
    (SLA breaches among them) and the specialists on call there now."""
    _require_board(principal, "consult:load:viewed")
    now = now or utcnow()
    opened = {
        fid: (int(n), int(b or 0))
        for fid, n, b in session.execute(
            select(
                Consult.requester_facility_id,
                func.count(),
                func.sum(case((_breached(now), 1), else_=0)),
            )
            .where(
                consult_visibility(principal),
                Consult.status.in_(WAITING + IN_PROGRESS),
                Consult.region_id == region_id if region_id is not None else true(),
            )
            .group_by(Consult.requester_facility_id)
        )
    }
    on_call = {
        fid: int(n)
        for fid, n in session.execute(
            select(Shift.facility_id, func.count(func.distinct(Shift.specialist_id)))
            .join(User, User.id == Shift.specialist_id)
            .join(Facility, Facility.id == Shift.facility_id)
            .where(
                Shift.starts_at <= now,
                Shift.ends_at > now,
                User.is_active.is_(True),
                _in_region(region_id),
            )
            .group_by(Shift.facility_id)
        )
    }
    facilities = session.execute(
        select(Facility, University)
        .outerjoin(University, University.id == Facility.university_id)
        .where(_in_region(region_id))
        .order_by(University.name, Facility.level.desc(), Facility.name)
    ).all()
    grouped: dict[int | None, UniversityLoad] = {}
    for facility, university in facilities:
        key = university.id if university is not None else None
        if key not in grouped:
            grouped[key] = UniversityLoad(
                key,
                university.code if university else None,
                university.name if university else None,
                [],
            )
        n, b = opened.get(facility.id, (0, 0))
        grouped[key].facilities.append(
            FacilityLoad(
                facility.id,
                facility.code,
                facility.name,
                facility.level,
                key,
                n,
                b,
                on_call.get(facility.id, 0),
            )
        )
    return list(grouped.values())
