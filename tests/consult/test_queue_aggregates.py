"""The queue board's counts and waiting-time quantiles come from the database (percentile_cont
on PostgreSQL, a window function elsewhere): they must equal the same figures computed in
Python over every open consult, and the row list must keep its order and its bound."""

from __future__ import annotations

import random
import statistics
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import queues
from consult.models import Consult, ConsultStatus, Mode, TechLevel, Urgency
from hub.auth.principal import user_principal
from hub.models import MacroRegion, Role, Specialty, utcnow
from tests.support import factories as f

OPEN = (
    ConsultStatus.SUBMITTED,
    ConsultStatus.OFFERED,
    ConsultStatus.ESCALATED,
    ConsultStatus.ACCEPTED,
)
CLOSED = (ConsultStatus.CLOSED, ConsultStatus.SIGNED, ConsultStatus.CANCELLED, ConsultStatus.DRAFT)


def _p90(waits: list[float]) -> float:
    if len(waits) == 1:
        return waits[0]
    return statistics.quantiles(waits, n=10, method="inclusive")[-1]


def _populate(session: Session, rng: random.Random) -> tuple[MacroRegion, list[Consult]]:
    region = f.region(session)
    post = f.facility(session, f.university(session, region))
    requester = f.user(session, Role.CHW, at=post)
    patient = f.patient(session, post)
    specialties = session.scalars(select(Specialty).order_by(Specialty.id).limit(3)).all()
    now = utcnow()
    consults = []
    for i in range(60):
        status = rng.choice(OPEN) if i % 5 else rng.choice(CLOSED)
        start = now - timedelta(
            seconds=rng.randint(60, 5 * 86400), microseconds=rng.randint(0, 999_999)
        )
        due = start + timedelta(hours=rng.choice((1, 4, 24, 200)))
        consult = Consult(
            patient_id=patient.id,
            requester_id=requester.id,
            requester_facility_id=post.id,
            region_id=region.id,
            specialty_id=rng.choice(specialties).id,
            urgency=rng.choice(list(Urgency)),
            mode=Mode.ASYNC,
            tech_level=TechLevel.BASIC,
            question="Queue aggregate check",
            vitals={},
            status=status,
            routing_trace=[],
            created_at=start,
            # Some drafts were submitted straight away: their wait starts at created_at.
            submitted_at=None if i % 7 == 0 else start,
            accept_due_at=None if i % 11 == 0 else due,
            answer_due_at=due if status is ConsultStatus.ACCEPTED else None,
        )
        session.add(consult)
        consults.append(consult)
    session.commit()
    return region, consults


def test_sql_aggregates_equal_a_python_computation(app: Flask, session: Session) -> None:
    rng = random.Random(21)
    region, consults = _populate(session, rng)
    officer = f.user(session, Role.COMMAND, region_of=region)
    session.commit()
    before = utcnow()
    queue = queues.open_queue(session, user_principal(officer, "session"))
    after = utcnow()
    assert before <= queue.as_of <= after
    now = queue.as_of

    groups: dict[tuple[str, Urgency], list[tuple[float, bool]]] = {}
    for c in consults:
        if c.status not in OPEN:
            continue
        due = c.answer_due_at if c.status is ConsultStatus.ACCEPTED else c.accept_due_at
        wait = (now - (c.submitted_at or c.created_at)).total_seconds()
        groups.setdefault((c.specialty.name, c.urgency), []).append(
            (wait, due is not None and due < now)
        )
    assert len(groups) >= 4  # several groups, some with a handful of members
    got = {(g.specialty, g.urgency): g for g in queue.groups}
    assert set(got) == set(groups)
    for key, members in groups.items():
        waits = sorted(w for w, _ in members)
        g = got[key]
        assert g.count == len(members)
        assert g.breached == sum(b for _, b in members)
        assert g.median_wait.total_seconds() == pytest.approx(statistics.median(waits), abs=1e-3)
        assert g.p90_wait.total_seconds() == pytest.approx(_p90(waits), abs=1e-3)
    assert queue.total == sum(len(m) for m in groups.values())
    assert queue.breached == sum(b for m in groups.values() for _, b in m)
    assert queue.total < len(consults)  # the closed ones are not counted

    # The rows: every open consult (fewer than ROW_LIMIT), breached first, then urgency, then
    # the longest waiting.
    order = [(not r.breached, queues.URGENCY_ORDER[r.urgency], -r.waiting) for r in queue.rows]
    assert order == sorted(order)
    assert len(queue.rows) == queue.total
    assert sum(r.breached for r in queue.rows) == queue.breached

    breached = queues.open_queue(session, user_principal(officer, "session"), breached_only=True)
    assert breached.rows and all(r.breached for r in breached.rows)
    assert len(breached.rows) == queue.breached


def test_the_row_list_is_bounded(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    region, consults = _populate(session, random.Random(7))
    officer = f.user(session, Role.COMMAND, region_of=region)
    session.commit()
    monkeypatch.setattr(queues, "ROW_LIMIT", 5)
    queue = queues.open_queue(session, user_principal(officer, "session"))
    assert len(queue.rows) == 5
    assert queue.total == sum(1 for c in consults if c.status in OPEN)
    # The five shown are the first five of the full order: the breached ones come first.
    assert [r.breached for r in queue.rows] == sorted(
        (r.breached for r in queue.rows), reverse=True
    )
