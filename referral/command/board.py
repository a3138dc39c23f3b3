"""The command centre's board: one region's (or, for a national administrator, every region's)
open consults, staffing, teleradiology, referral loops and transfers, and the pressure of each
university and facility. Read-only, through the other packages' services; counts, no patient
details (a board is read over shoulders)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from consult import services as consults
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, NotFound
from hub.models import MacroRegion, Role
from hub.permissions import require
from imaging.reading import services as reading
from referral import services as referrals
from referral.command import rules
from referral.command.models import Transfer, TransferStatus

BOARD_ROLES = frozenset({Role.COMMAND, Role.QA_PHYSICIAN, Role.NATIONAL_ADMIN})


class Pressure(enum.Enum):
    """A tile's pressure, said in words on the page (never by colour alone)."""

    CALM = "calm"  # nothing waits, or fewer consults wait than specialists are on call
    BUSY = "busy"  # as many consults wait as the university has specialists on call, or more
    BREACHED = "breached"  # at least one consult has run past its SLA clock


def pressure(open_: int, breached: int, on_call: int) -> Pressure:
    """The rule the grid colours by (pure; the legend says it in words)."""
    if breached > 0:
        return Pressure.BREACHED
    if open_ > 0 and open_ >= on_call:
        return Pressure.BUSY
    return Pressure.CALM


@dataclass(frozen=True)
class Tile:
    code: str
    name: str
    level: int | None  # None for a university tile
    open: int
    breached: int
    on_call: int
    pressure: Pressure


@dataclass(frozen=True)
class UniversityTiles:
    university: Tile | None  # None: facilities outside any university
    facilities: list[Tile]


@dataclass(frozen=True)
class TransferCounts:
    open: int
    emergency: int
    awaiting_command: int  # pending or on hold: command staff decide next


@dataclass(frozen=True)
class Board:
    region: MacroRegion | None  # None: every region (national view)
    regions: list[MacroRegion]  # what a national administrator may drill down to
    queue: consults.Queue  # open consults by specialty and urgency
    staffing: list[consults.StaffingRow]  # per specialty and tier
    grid: list[UniversityTiles]
    reading: reading.RegionReading
    loops: referrals.RegionLoops
    transfers: TransferCounts
    as_of: datetime
    online_minutes: int = field(default=int(consults.ONLINE_WINDOW.total_seconds() // 60))


def _region(session: Session, principal: Principal, code: str | None) -> MacroRegion | None:
    """Command staff see their own region (another region's code is not found); national
    administrators see every region, or one by code."""
    national = principal.has_role(Role.NATIONAL_ADMIN)
    if code is None:
        if national:
            return None
        if principal.region_id is None:
            raise AccessDenied("Your account has no region.", action="command:board:viewed")
        return session.get_one(MacroRegion, principal.region_id)
    region = session.scalar(select(MacroRegion).where(MacroRegion.code == code))
    if region is None:
        raise NotFound("Region not found.")
    if not (national or region.id == principal.region_id):
        raise AccessDenied(
            action="command:board:viewed", object_type="region", object_id=region.id, hide=True
        )
    return region


def _transfers(session: Session, region_id: int | None) -> TransferCounts:
    awaiting = (TransferStatus.PENDING, TransferStatus.ON_HOLD)
    stmt = select(
        func.count(),
        func.sum(case((Transfer.emergency.is_(True), 1), else_=0)),
        func.sum(case((Transfer.status.in_(awaiting), 1), else_=0)),
    ).where(Transfer.status.not_in(rules.TERMINAL))
    if region_id is not None:
        stmt = stmt.where(Transfer.region_id == region_id)
    n, emergency, awaiting_n = session.execute(stmt).one()
    return TransferCounts(int(n or 0), int(emergency or 0), int(awaiting_n or 0))


def _grid(loads: list[consults.UniversityLoad]) -> list[UniversityTiles]:
    grid = []
    for u in loads:
        head = None
        if u.code is not None:
            head = Tile(
                u.code,
                u.name or u.code,
                None,
                u.open,
                u.breached,
                u.on_call,
                pressure(u.open, u.breached, u.on_call),
            )
        tiles = [
            # A health post has nobody on call: its consults weigh on its university's staff.
            Tile(
                f.code,
                f.name,
                f.level,
                f.open,
                f.breached,
                f.on_call,
                pressure(f.open, f.breached, u.on_call if u.code is not None else f.on_call),
            )
            for f in u.facilities
        ]
        grid.append(UniversityTiles(head, tiles))
    return grid


def board(session: Session, principal: Principal, region_code: str | None = None) -> Board:
    """Everything the command centre shows for one region (or all), computed by the database."""
    action = "command:board:viewed"
    require(principal, "consults:read", action=action)
    if not principal.roles & BOARD_ROLES:
        raise AccessDenied(
            "The command centre is for command staff and national administrators.", action=action
        )
    region = _region(session, principal, region_code)
    region_id = region.id if region is not None else None
    place = consults.Place(region_id=region_id) if region is not None else None
    queue = consults.open_queue(session, principal, place=place)
    regions: list[MacroRegion] = []
    if principal.has_role(Role.NATIONAL_ADMIN):
        regions = list(session.scalars(select(MacroRegion).order_by(MacroRegion.number)))
    result = Board(
        region=region,
        regions=regions,
        queue=queue,
        staffing=list(consults.staffing(session, principal, region_id, queue.as_of)),
        grid=_grid(consults.loads(session, principal, region_id, queue.as_of)),
        reading=reading.region_reading(session, region_id, queue.as_of),
        loops=referrals.region_loops(session, region_id),
        transfers=_transfers(session, region_id),
        as_of=queue.as_of,
    )
    audit.record(session, principal, action, object_type="region", object_id=region_id)
    return result
