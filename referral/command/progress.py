"""Progress reports (SEEDS 001 monitoring: the national secretariat follows each university and
macro-region): which steps of the roadmap run, volumes, and how well the service keeps its
promises, for a period. Every figure comes from the owning package's services; this module only
adds them up by university and region.

The steps, as the hub can see them:
- headquarters: the region has active command staff;
- a specialist consult clinic per specialty: someone was on the published roster for it;
- teleradiology: a facility licensed to read for others, with an active radiologist;
- virtual clinics: a virtual-clinic facility offering bookable slots.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult import services as consults
from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, NotFound, ValidationFailed
from hub.models import Facility, MacroRegion, Role, Specialty, University, User, utcnow
from hub.services.users import role_holders
from imaging.reading import services as reading
from referral import services as referrals
from referral.command.models import Transfer

READERS = frozenset({Role.COMMAND, Role.NATIONAL_ADMIN})
MAX_DAYS = 366
DEFAULT_DAYS = 30


@dataclass
class Figures:
    """One place's progress in a period; the counts add up across facilities."""

    headquarters: bool = False
    specialties: dict[str, bool] = field(default_factory=dict)
    teleradiology: bool = False
    virtual_clinics: bool = False
    consults: int = 0
    reading_requests: int = 0
    referrals: int = 0
    transfers: int = 0
    sla_decided: int = 0
    sla_met: int = 0
    loops_opened: int = 0
    loops_closed: int = 0
    critical_results: int = 0
    critical_in_window: int = 0

    @staticmethod
    def _pct(part: int, whole: int) -> float | None:
        return round(100.0 * part / whole, 1) if whole else None

    @property
    def sla_compliance(self) -> float | None:
        return self._pct(self.sla_met, self.sla_decided)

    @property
    def loop_closure(self) -> float | None:
        return self._pct(self.loops_closed, self.loops_opened)

    @property
    def critical_acknowledged(self) -> float | None:
        return self._pct(self.critical_in_window, self.critical_results)

    @property
    def specialties_running(self) -> int:
        return sum(1 for on in self.specialties.values() if on)

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON (API answers and snapshots)."""
        return {
            "steps": {
                "headquarters": self.headquarters,
                "specialty_clinics": dict(self.specialties),
                "teleradiology": self.teleradiology,
                "virtual_clinics": self.virtual_clinics,
            },
            "volumes": {
                "consults": self.consults,
                "reading_requests": self.reading_requests,
                "referrals": self.referrals,
                "transfers": self.transfers,
            },
            "sla": {"decided": self.sla_decided, "met": self.sla_met, "pct": self.sla_compliance},
            "referral_loops": {
                "opened": self.loops_opened,
                "closed": self.loops_closed,
                "pct": self.loop_closure,
            },
            "critical_results": {
                "raised": self.critical_results,
                "acknowledged_in_window": self.critical_in_window,
                "pct": self.critical_acknowledged,
            },
        }


@dataclass(frozen=True)
class Place:
    """A university (or the region itself) with its figures."""

    code: str
    name: str
    figures: Figures
    university_id: int | None = None


@dataclass(frozen=True)
class RegionProgress:
    region_id: int
    code: str
    number: int
    name: str
    figures: Figures
    universities: list[Place]


@dataclass(frozen=True)
class Report:
    period_from: date
    period_to: date
    regions: list[RegionProgress]
    specialties: list[str]  # codes, in the order the columns show them
    generated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {"from": self.period_from.isoformat(), "to": self.period_to.isoformat()},
            "generated_at": self.generated_at.isoformat(),
            "specialties": self.specialties,
            "regions": [
                {
                    "code": r.code,
                    "number": r.number,
                    "name": r.name,
                    "figures": r.figures.as_dict(),
                    "universities": [
                        {"code": u.code, "name": u.name, "figures": u.figures.as_dict()}
                        for u in r.universities
                    ],
                }
                for r in self.regions
            ],
        }


# --- the period ---------------------------------------------------------------------------


def period(first: date | None, last: date | None, today: date | None = None) -> tuple[date, date]:
    """The days asked for (both included); by default the last thirty days up to today."""
    today = today or utcnow().date()
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationFailed(
            "The period starts after it ends.",
            code="bad_period",
            details=[{"field": "from", "problem": "after 'to'"}],
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed(
            f"A report covers at most {MAX_DAYS} days.",
            code="bad_period",
            details=[{"field": "from", "problem": f"more than {MAX_DAYS} days before 'to'"}],
        )
    return first, last


def bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC for the days ``first`` .. ``last``."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return start, datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)


# --- who reads which region ----------------------------------------------------------------


def readable_regions(
    session: Session, principal: Principal, region_code: str | None, *, action: str
) -> list[MacroRegion]:
    """The regions the caller may read: a national administrator every one (or the one asked
    for), command staff only their own; another region is answered as not found."""
    if not principal.roles & READERS:
        raise AccessDenied(
            "Progress reports are for command staff and national administrators.",
            action=action,
            details={"allowed_roles": sorted(r.value for r in READERS)},
        )
    national = principal.has_role(Role.NATIONAL_ADMIN)
    stmt = select(MacroRegion).order_by(MacroRegion.number, MacroRegion.code)
    if region_code is not None:
        stmt = stmt.where(MacroRegion.code == region_code)
    if not national:
        stmt = stmt.where(MacroRegion.id == principal.region_id)
    found = list(session.scalars(stmt))
    if region_code is not None and not found:
        if not national:
            # Another region's report: as if it did not exist, and audited as a refusal.
            raise AccessDenied(
                action=action, object_type="macro_region", object_id=region_code, hide=True
            )
        raise NotFound(f"Unknown region {region_code!r}.", code="unknown_region")
    return found


# --- gathering -----------------------------------------------------------------------------


def specialty_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Specialty.code).order_by(Specialty.id)))


def _add(into: Figures, facility_ids: Iterable[int], data: _RegionData) -> None:
    for fid in facility_ids:
        c = data.consults.get(fid)
        if c is not None:
            into.consults += c.submitted
            into.sla_decided += c.decided
            into.sla_met += c.met
        r = data.reading.get(fid)
        if r is not None:
            into.reading_requests += r.requests
            into.critical_results += r.critical
            into.critical_in_window += r.critical_in_window
        ref = data.referrals.get(fid)
        if ref is not None:
            into.referrals += ref.sent
            into.loops_opened += ref.looped
            into.loops_closed += ref.closed
        into.transfers += data.transfers.get(fid, 0)
        for code in data.rostered.get(fid, ()):
            into.specialties[code] = True
        if fid in data.reading_sites and fid in data.radiologists:
            into.teleradiology = True
        if fid in data.virtual:
            into.virtual_clinics = True


@dataclass
class _RegionData:
    consults: dict[int, consults.ConsultVolume]
    reading: dict[int, reading.ReadingVolume]
    referrals: dict[int, referrals.ReferralVolume]
    transfers: dict[int, int]
    rostered: dict[int, set[str]]
    reading_sites: set[int]
    radiologists: set[int]
    virtual: set[int]


def _gather(session: Session, ids: list[int], start: datetime, end: datetime) -> _RegionData:
    transfers = dict(
        session.execute(
            select(Transfer.origin_facility_id, func.count())
            .where(
                Transfer.origin_facility_id.in_(ids),
                Transfer.created_at >= start,
                Transfer.created_at < end,
            )
            .group_by(Transfer.origin_facility_id)
        ).all()
    )
    radiologists = set(
        session.scalars(
            role_holders(Role.RADIOLOGIST, User.facility_id).where(User.facility_id.in_(ids))
        )
    )
    return _RegionData(
        consults=consults.volume_by_facility(session, ids, start, end),
        reading=reading.volume_by_facility(session, ids, start, end),
        referrals=referrals.volume_by_facility(session, ids, start, end),
        transfers={int(k): int(v) for k, v in transfers.items()},
        rostered=consults.rostered_specialties(session, ids, start, end),
        reading_sites=reading.licensed_reading_sites(session, ids),
        radiologists={fid for fid in radiologists if fid is not None},
        virtual=referrals.virtual_clinics_with_slots(session, ids, start),
    )


def _has_headquarters(session: Session, region_id: int) -> bool:
    found = session.scalar(role_holders(Role.COMMAND).where(User.region_id == region_id).limit(1))
    return found is not None


def region_progress(
    session: Session, region: MacroRegion, start: datetime, end: datetime, codes: list[str]
) -> RegionProgress:
    """One region's figures and its universities' for ``[start, end)``, unchecked (the caller
    checked who may read them; the nightly snapshot acts for the hub)."""
    facilities = list(
        session.execute(
            select(Facility.id, Facility.university_id).where(Facility.region_id == region.id)
        ).all()
    )
    ids = [fid for fid, _ in facilities]
    data = _gather(session, ids, start, end)
    hq = _has_headquarters(session, region.id)

    def blank() -> Figures:
        return Figures(headquarters=hq, specialties=dict.fromkeys(codes, False))

    total = blank()
    _add(total, ids, data)
    universities = []
    for uni in session.scalars(
        select(University).where(University.region_id == region.id).order_by(University.code)
    ):
        figures = blank()
        _add(figures, [fid for fid, u in facilities if u == uni.id], data)
        universities.append(Place(uni.code, uni.name, figures, uni.id))
    return RegionProgress(region.id, region.code, region.number, region.name, total, universities)


def report(
    session: Session,
    principal: Principal,
    *,
    region_code: str | None,
    first: date | None,
    last: date | None,
    purpose: str = "viewed",
) -> Report:
    """The progress report the caller asked for: one region with its universities, or every
    region the caller may read side by side (the national page); audited."""
    action = f"command:progress:{purpose}"
    regions = readable_regions(session, principal, region_code, action=action)
    first, last = period(first, last)
    start, end = bounds(first, last)
    codes = specialty_codes(session)
    found = Report(
        period_from=first,
        period_to=last,
        regions=[region_progress(session, r, start, end, codes) for r in regions],
        specialties=codes,
        generated_at=utcnow(),
    )
    audit.record(
        session,
        principal,
        action,
        object_type="progress_report",
        object_id=region_code or "national",
        details={"from": first.isoformat(), "to": last.isoformat()},
    )
    return found
