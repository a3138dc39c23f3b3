"""The database's narrowed candidate list (``rosters.candidates_for``) leads ``route`` to the same
decision as the full on-call roster (``rosters.candidates``), on both databases, over many
random rosters and requests: the narrowing is an optimisation, never a different policy."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy.orm import Session

from consult.models import (
    Consult,
    ConsultStatus,
    Mode,
    Shift,
    SpecialistState,
    SpecialistStatus,
    TechLevel,
    Urgency,
)
from consult.rosters import candidates, candidates_for
from consult.routing import Request, route
from hub.models import Facility, FacilityKind, Role, Specialty, utcnow
from tests.support import factories as f
from tests.support.personas import World

STATES = [None, *SpecialistState]


def _roster(session: Session, world: World, rng: random.Random) -> tuple[Specialty, list[Facility]]:
    """A specialty of its own (other tests' specialists stay out), on call across two regions."""
    specialty = Specialty(code=f.unique("spec"), name="Routing equivalence")
    session.add(specialty)
    regions = [f.region(session), f.region(session)]
    universities = [f.university(session, regions[i % 2]) for i in range(3)]
    facilities = [
        f.facility(session, uni, FacilityKind.HOSPITAL, level)
        for uni in universities
        for level in (1, 2, 3)
    ]
    posts = [f.facility(session, uni) for uni in universities]
    session.flush()
    now = utcnow()
    requester = f.user(session, Role.CHW, at=posts[0])
    patient = f.patient(session, posts[0])
    for _ in range(rng.randint(0, 14)):
        at = rng.choice(facilities)
        doctor = f.user(session, Role.SPECIALIST, at=at)
        for _shift in range(rng.choice([1, 1, 1, 2])):  # overlapping shifts now and then
            starts = now - timedelta(hours=rng.choice([1, 1, 1, -2]))  # some start later
            session.add(
                Shift(
                    specialist_id=doctor.id,
                    specialty_id=specialty.id,
                    # At the same facility: on call at two at once is resolved differently
                    # (the full roster keeps whichever row comes first, the narrowed list the
                    # nearest), so it is no equivalence case.
                    facility_id=at.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=8),
                )
            )
        state = rng.choice(STATES)
        if state is not None:
            session.add(
                SpecialistStatus(
                    user_id=doctor.id,
                    state=state,
                    paused_until=rng.choice(
                        [None, now - timedelta(minutes=5), now + timedelta(minutes=5)]
                    ),
                    max_concurrent=rng.choice([1, 2, 5]),
                    last_assigned_at=rng.choice(
                        [None, now - timedelta(minutes=rng.randint(1, 500))]
                    ),
                )
            )
        for _case in range(rng.choice([0, 0, 1, 2])):
            session.add(
                Consult(
                    patient_id=patient.id,
                    requester_id=requester.id,
                    requester_facility_id=posts[0].id,
                    region_id=regions[0].id,
                    specialty_id=specialty.id,
                    urgency=Urgency.ROUTINE,
                    mode=Mode.ASYNC,
                    tech_level=TechLevel.STANDARD,
                    question="Equivalence probe",
                    vitals={},
                    status=ConsultStatus.ACCEPTED,
                    assigned_to_id=doctor.id,
                    routing_trace=[],
                )
            )
    session.flush()
    return specialty, posts


def test_narrowed_candidates_decide_as_the_whole_roster(session: Session, world: World) -> None:
    rng = random.Random(20261122)
    decisions = 0
    for _roster_number in range(10):
        specialty, posts = _roster(session, world, rng)
        everyone = candidates(session, specialty.id, utcnow())
        for _ in range(15):
            post = rng.choice(posts)
            req = Request(
                urgency=rng.choice(list(Urgency)).value,
                university_id=rng.choice([post.university_id, post.university_id, None]),
                region_id=post.region_id,
                now=utcnow(),
                excluded=frozenset(c.user_id for c in everyone if rng.random() < 0.2),
                min_pool=rng.choice([0, 0, 1, 2]),
            )
            whole = route(req, everyone)
            narrowed = route(req, candidates_for(session, specialty.id, req))
            assert (sorted(narrowed.offer_to), narrowed.tier) == (
                sorted(whole.offer_to),
                whole.tier,
            ), (
                whole.trace,
                narrowed.trace,
            )
            decisions += bool(whole.offer_to)
        session.rollback()
    assert decisions > 20  # the random rosters did lead to offers, not only to "nobody"
