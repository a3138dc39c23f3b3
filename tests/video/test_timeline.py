"""Billable video time from the stored timeline of joins and leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hub.models import Role
from tests.support import factories as f
from tests.video.support import new_site
from video import services, timeline
from video.models import (
    ParticipantRole,
    SessionKind,
    SessionStatus,
    VideoParticipant,
    VideoSession,
)

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_billable_seconds_counts_only_time_with_the_specialist_and_someone_else(
    session: Session,
) -> None:
    site = new_site(session)
    interpreter = f.user(session, Role.GP, at=site.post)
    video = VideoSession(
        consult_id=site.consult.id,
        kind=SessionKind.INSTANT,
        status=SessionStatus.OPEN,
        created_by_id=site.requester.id,
    )
    session.add(video)
    session.flush()
    people = {}
    for role, user in (
        (ParticipantRole.REQUESTER, site.requester),
        (ParticipantRole.SPECIALIST, site.specialist),
        (ParticipantRole.INTERPRETER, interpreter),
        (ParticipantRole.RECORDER, None),
    ):
        people[role] = VideoParticipant(
            session_id=video.id, user_id=user.id if user else None, role=role
        )
        session.add(people[role])
    session.flush()
    session.refresh(video)
    req, spec = people[ParticipantRole.REQUESTER], people[ParticipantRole.SPECIALIST]
    interp, rec = people[ParticipantRole.INTERPRETER], people[ParticipantRole.RECORDER]
    # requester 0-100, dropped 100-110, back 110-300; specialist 50-250; interpreter 200-400
    # (overlaps the specialist 200-250 while the requester is also there: counted once);
    # the recorder is connected the whole time and never counts.
    for kind, who, t in [
        ("joined", req, 0),
        ("joined", rec, 0),
        ("joined", spec, 50),
        ("disconnected", req, 100),
        ("joined", req, 110),
        ("joined", req, 120),  # a second tab: no new interval
        ("joined", interp, 200),
        ("left", spec, 250),
        ("left", req, 300),
        ("left", interp, 400),
    ]:
        timeline.add(session, video, kind, who, at=_at(t))
    video.status, video.ended_at = SessionStatus.ENDED, _at(500)
    session.flush()
    # with the specialist (50-250): requester 50-100 and 110-250, interpreter 200-250
    assert services.billable_seconds(session, site.consult.id) == 50 + 140
    # The recorder alone with the specialist is not billable.
    session.rollback()


def test_open_interval_ends_with_the_session_and_unknown_consult_is_zero(
    session: Session,
) -> None:
    site = new_site(session)
    video = VideoSession(
        consult_id=site.consult.id,
        kind=SessionKind.INSTANT,
        status=SessionStatus.ENDED,
        created_by_id=site.requester.id,
        ended_at=_at(90),
    )
    session.add(video)
    session.flush()
    req = VideoParticipant(
        session_id=video.id, user_id=site.requester.id, role=ParticipantRole.REQUESTER
    )
    spec = VideoParticipant(
        session_id=video.id, user_id=site.specialist.id, role=ParticipantRole.SPECIALIST
    )
    session.add_all([req, spec])
    session.flush()
    session.refresh(video)
    timeline.add(session, video, "joined", req, at=_at(0))
    timeline.add(session, video, "joined", spec, at=_at(30))
    assert services.billable_seconds(session, site.consult.id) == 60
    assert services.billable_seconds(session, 10**9) == 0
    session.rollback()
