"""Routing keeps who is on call where in memory (``consult.oncall``); a roster change, committed
by any session or rolled back, is seen by the very next routing decision, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from consult import oncall
from consult.models import Shift
from consult.rosters import candidates_for
from consult.routing import Request, route
from hub import db
from hub.models import Facility, FacilityKind, Role, Specialty, utcnow
from tests.support import factories as f


@dataclass
class Roster:
    specialty_id: int
    post: Facility
    near: Facility  # a level-2 hospital of the post's university
    far: Facility  # a level-2 hospital of another region
    near_doctor: int
    far_doctor: int


@pytest.fixture
def roster(app: Flask) -> Iterator[Roster]:
    """A specialty of its own with one specialist on call far away; committed, as a roster
    published by someone else is."""
    with db.get_db(app).new_session() as s:
        specialty = Specialty(code=f.unique("spec"), name="On-call memory")
        s.add(specialty)
        home, away = f.region(s), f.region(s)
        uni, other = f.university(s, home), f.university(s, away)
        post = f.facility(s, uni)
        near = f.facility(s, uni, FacilityKind.HOSPITAL, 2)
        far = f.facility(s, other, FacilityKind.HOSPITAL, 2)
        near_doctor = f.user(s, Role.SPECIALIST, at=near)
        far_doctor = f.user(s, Role.SPECIALIST, at=far)
        s.flush()
        s.add(_shift(far_doctor.id, specialty.id, far.id, utcnow() - timedelta(hours=1)))
        s.commit()
        s.expunge_all()
        yield Roster(specialty.id, post, near, far, near_doctor.id, far_doctor.id)


def _shift(doctor: int, specialty: int, facility: int, starts: datetime) -> Shift:
    return Shift(
        specialist_id=doctor,
        specialty_id=specialty,
        facility_id=facility,
        starts_at=starts,
        ends_at=starts + timedelta(hours=8),
    )


def _near_shift(r: Roster) -> Shift:
    """The near hospital's specialist, on call since five minutes."""
    return _shift(r.near_doctor, r.specialty_id, r.near.id, utcnow() - timedelta(minutes=5))


def _request(r: Roster, now: datetime | None = None) -> Request:
    return Request(
        urgency="routine",
        university_id=r.post.university_id,
        region_id=r.post.region_id,
        now=now or utcnow(),
    )


def _offered(session: Session, r: Roster, now: datetime | None = None) -> list[int]:
    req = _request(r, now)
    decision = route(req, candidates_for(session, r.specialty_id, req))
    session.rollback()  # a request's transaction ends here
    return decision.offer_to


@contextmanager
def _shift_reads(session: Session) -> Iterator[list[str]]:
    """The statements reading ``roster_shift`` that ``session``'s engine runs meanwhile."""
    seen: list[str] = []
    engine = session.connection().engine

    def listener(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if "FROM roster_shift" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_the_roster_is_read_once_while_it_does_not_change(app: Flask, roster: Roster) -> None:
    with db.get_db(app).new_session() as s:
        assert _offered(s, roster) == [roster.far_doctor]
        with _shift_reads(s) as reads:
            for _ in range(5):
                assert _offered(s, roster) == [roster.far_doctor]
        assert reads == []


def test_a_shift_committed_by_another_session_is_routed_to_next(app: Flask, roster: Roster) -> None:
    database = db.get_db(app)
    with database.new_session() as router, database.new_session() as admin:
        assert _offered(router, roster) == [roster.far_doctor]
        admin.add(_near_shift(roster))
        admin.commit()
        with _shift_reads(router) as reads:
            assert _offered(router, roster) == [roster.near_doctor]
        assert len(reads) == 1  # read again once, because the revision changed


def test_a_shift_cut_short_elsewhere_is_no_longer_routed_to(app: Flask, roster: Roster) -> None:
    database = db.get_db(app)
    with database.new_session() as router, database.new_session() as admin:
        admin.add(_near_shift(roster))
        admin.commit()
        assert _offered(router, roster) == [roster.near_doctor]
        admin.execute(
            update(Shift)
            .where(Shift.specialist_id == roster.near_doctor)
            .values(ends_at=utcnow() - timedelta(seconds=1))
        )
        admin.commit()
        assert _offered(router, roster) == [roster.far_doctor]


def test_a_facility_moved_to_the_posts_university_changes_its_tier(
    app: Flask, roster: Roster
) -> None:
    database = db.get_db(app)
    with database.new_session() as router, database.new_session() as admin:
        admin.add(_near_shift(roster))
        # The near hospital leaves the post's university and region: the far one joins both.
        admin.execute(
            update(Facility)
            .where(Facility.id == roster.near.id)
            .values(university_id=roster.far.university_id, region_id=roster.far.region_id)
        )
        admin.commit()
        req = _request(roster)
        found = candidates_for(router, roster.specialty_id, req)
        router.rollback()
        assert {c.user_id for c in found} == {roster.near_doctor, roster.far_doctor}
        admin.execute(
            update(Facility)
            .where(Facility.id == roster.far.id)
            .values(university_id=roster.post.university_id, region_id=roster.post.region_id)
        )
        admin.commit()
        decision = route(req, candidates_for(router, roster.specialty_id, req))
        router.rollback()
        assert decision.offer_to == [roster.far_doctor]
        assert decision.tier is not None and "university" in decision.tier


def test_a_shift_rolled_back_is_not_kept(app: Flask, roster: Roster) -> None:
    database = db.get_db(app)
    with database.new_session() as router, database.new_session() as admin:
        assert _offered(router, roster) == [roster.far_doctor]
        admin.add(_near_shift(roster))
        admin.flush()
        # Routing inside the transaction that publishes the shift sees it...
        assert _offered(admin, roster) == [roster.near_doctor]  # (and rolls it back)
        # ...and nobody keeps it once it is rolled back.
        assert _offered(router, roster) == [roster.far_doctor]
        assert _offered(admin, roster) == [roster.far_doctor]


def test_a_shift_starting_after_the_window_is_routed_to_once_it_starts(
    app: Flask, roster: Roster
) -> None:
    later = utcnow() + oncall.WINDOW + timedelta(minutes=5)
    database = db.get_db(app)
    with database.new_session() as s:
        s.add(_shift(roster.near_doctor, roster.specialty_id, roster.near.id, later))
        s.commit()
        now = utcnow()
        assert _offered(s, roster, now) == [roster.far_doctor]
        assert _offered(s, roster, now + oncall.WINDOW) == [roster.far_doctor]
        assert _offered(s, roster, later + timedelta(minutes=1)) == [roster.near_doctor]
        # Back to the present (an escalation routing with an earlier clock): read again.
        assert _offered(s, roster, now) == [roster.far_doctor]


def test_the_order_is_nearest_tier_first_then_by_specialist() -> None:
    now = utcnow()
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)

    def post(who: int, level: int, uni: int | None, region: int) -> oncall.Posting:
        return oncall.Posting(who, level, uni, region, start, end)

    snapshot = oncall.Snapshot.of(
        1,
        now,
        now + oncall.WINDOW,
        [
            post(9, 3, 1, 1),  # same university, level 3
            post(8, 2, None, 1),  # same region, a clinic without a university
            post(7, 2, 1, 1),  # same university, level 2
            post(6, 3, 2, 2),  # national
            post(5, 2, 1, 2),  # same university in another region: still the university pool
            post(4, 1, 1, 1),  # level 1: not a consultant tier
            oncall.Posting(3, 2, 1, 1, end, end + timedelta(hours=1)),  # not started yet
        ],
    )
    req = Request(urgency="routine", university_id=1, region_id=1, now=now)
    assert [(who, tier) for who, _l, _u, _r, tier in snapshot.on_call(req)] == [
        (5, 2),
        (7, 2),
        (9, 3),
        (8, 12),
        (6, 23),
    ]
    no_university = Request(urgency="routine", university_id=None, region_id=1, now=now)
    assert [(who, tier) for who, _l, _u, _r, tier in snapshot.on_call(no_university)] == [
        (7, 12),
        (8, 12),
        (9, 13),
        (5, 22),
        (6, 23),
    ]
