"""Who is on call where, per specialty, kept in each process's memory between roster changes.

Routing runs on every submission, decline and escalation. On a national roster the shifts
covering now are hundreds per specialty, and reading them (with each facility's place) was most
of a routing decision's time, yet they change only when a roster is published. So each process
keeps, per database and specialty, the shifts overlapping a short window, and reads them again
when the window has passed or the roster's revision has changed.

The revision (table ``roster_revision``) is replaced by database triggers on every change to
shifts or facilities, whichever process or tool makes it (migration 0011). Routing reads it in
the same query as the live status of the people it considers (``consult.rosters``), so a roster
change committed by anyone is used by the very next routing decision, at no extra round trip.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import RosterRevision, Shift
from consult.routing import LEVELS, Request
from hub.models import Facility

# Shifts starting within this long after a load are kept too, so that a load serves routing
# for this long (unless the roster changes first).
WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Posting:
    """One shift: who is on call, at a facility of this level, university and region, when."""

    specialist_id: int
    level: int
    university_id: int | None
    region_id: int
    starts_at: datetime
    ends_at: datetime


# (specialist, level, university, region, tier): tier = pool * 10 + level, where pool is
# 0 same university, 1 same macro-region, 2 national, as routing ranks them.
OnCallRow = tuple[int, int, int | None, int, int]


@dataclass(frozen=True)
class Snapshot:
    """A specialty's shifts overlapping [start, end], as of the roster revision ``revision``."""

    revision: int | None
    start: datetime
    end: datetime
    everyone: tuple[Posting, ...]  # sorted by (level, specialist)
    by_university: dict[int, tuple[Posting, ...]]
    by_region: dict[int, tuple[Posting, ...]]

    @classmethod
    def of(
        cls, revision: int | None, start: datetime, end: datetime, postings: list[Posting]
    ) -> Snapshot:
        postings.sort(key=lambda p: (p.level, p.specialist_id))
        by_university: dict[int, list[Posting]] = {}
        by_region: dict[int, list[Posting]] = {}
        for p in postings:
            if p.university_id is not None:
                by_university.setdefault(p.university_id, []).append(p)
            by_region.setdefault(p.region_id, []).append(p)
        return cls(
            revision,
            start,
            end,
            tuple(postings),
            {k: tuple(v) for k, v in by_university.items()},
            {k: tuple(v) for k, v in by_region.items()},
        )

    def covers(self, now: datetime) -> bool:
        return self.start <= now <= self.end

    def on_call(self, req: Request) -> Iterator[OnCallRow]:
        """Who is on call at ``req.now``, nearest tier first, by specialist within a tier
        (the order of the SQL this replaces); levels routing does not know are left out. A
        person with overlapping shifts comes once per shift; the caller counts them in their
        nearest tier. Farther pools are only looked at if the caller asks for more rows."""
        now, university, region = req.now, req.university_id, req.region_id
        pools: list[tuple[int, tuple[Posting, ...], bool]] = [
            # (pool, postings, whether to skip those of the request's university or region)
            (0, self.by_university.get(university, ()) if university is not None else (), False),
            (1, self.by_region.get(region, ()), True),
            (2, self.everyone, True),
        ]
        for pool, postings, nearer_elsewhere in pools:
            for p in postings:  # sorted by (level, specialist): tier order within the pool
                if p.level not in LEVELS or not p.starts_at <= now < p.ends_at:
                    continue
                if nearer_elsewhere and _nearer(p, pool, university, region):
                    continue
                yield p.specialist_id, p.level, p.university_id, p.region_id, pool * 10 + p.level


def _nearer(p: Posting, pool: int, university: int | None, region: int) -> bool:
    """Whether ``p`` belongs to a pool nearer than ``pool`` (it was yielded there already)."""
    if university is not None and p.university_id == university:
        return True
    return pool == 2 and p.region_id == region


class OnCallCache:
    """Snapshots per (database, specialty); shared by a process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[tuple[str, int], Snapshot] = {}

    def snapshot(self, session: Session, specialty_id: int, now: datetime) -> Snapshot:
        key = (_database(session), specialty_id)
        found = self._snapshots.get(key)
        if found is not None and found.covers(now):
            return found
        fresh = load(session, specialty_id, now)
        if fresh.revision is not None:  # without the revision row changes could not be seen
            with self._lock:
                self._snapshots[key] = fresh
        return fresh

    def forget(self, session: Session) -> None:
        """Drop every snapshot of ``session``'s database: its roster has changed."""
        database = _database(session)
        with self._lock:
            for key in [k for k in self._snapshots if k[0] == database]:
                del self._snapshots[key]


def load(session: Session, specialty_id: int, now: datetime) -> Snapshot:
    # The revision is read first: a change committed between the two reads is in the shifts
    # read but not in the revision kept, so the next check finds the revision changed and
    # reads again (never the other way round, which would keep a stale roster).
    revision = current_revision(session)
    end = now + WINDOW
    rows = session.execute(
        select(
            Shift.specialist_id,
            Facility.level,
            Facility.university_id,
            Facility.region_id,
            Shift.starts_at,
            Shift.ends_at,
        )
        .join(Facility, Facility.id == Shift.facility_id)
        .where(Shift.specialty_id == specialty_id, Shift.ends_at > now, Shift.starts_at <= end)
    ).all()
    return Snapshot.of(revision, now, end, [Posting(*r) for r in rows])


def current_revision(session: Session) -> int | None:
    return session.scalar(select(RosterRevision.revision))


def _database(session: Session) -> str:
    return session.connection().engine.url.render_as_string(hide_password=True)


CACHE = OnCallCache()
