"""The session timeline: who was connected when, and the billable video time derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import utcnow
from video.models import ParticipantRole, VideoEvent, VideoParticipant, VideoSession

JOINED = "joined"
# A dropped connection ends the interval; the participant keeps their place and rejoins.
ENDS = frozenset({"left", "disconnected"})


def add(
    session: Session,
    video: VideoSession,
    kind: str,
    participant: VideoParticipant | None = None,
    *,
    at: datetime | None = None,
    **details: Any,
) -> VideoEvent:
    """Append one event to the session's timeline (ids and measurements only, no names)."""
    event = VideoEvent(
        session_id=video.id,
        participant_id=participant.id if participant else None,
        kind=kind,
        at=at or utcnow(),
        details=details,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Interval:
    participant_id: int
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


def intervals(
    session: Session, video: VideoSession, *, now: datetime | None = None
) -> list[Interval]:
    """Connected intervals per participant; an interval still open ends when the session ended
    (or now, for a session still running).

    A participant may be connected through several sockets at once (a reload overlapping the old
    page, two tabs, two web processes): each event names its socket, and the interval ends only
    when the last socket is gone. An event without a socket stands for all of them.
    """
    cutoff = video.ended_at or now or utcnow()
    events = session.scalars(
        select(VideoEvent)
        .where(
            VideoEvent.session_id == video.id,
            VideoEvent.participant_id.is_not(None),
            VideoEvent.kind.in_([JOINED, *ENDS]),
        )
        .order_by(VideoEvent.at, VideoEvent.id)
    ).all()
    open_since: dict[int, datetime] = {}
    sockets: dict[int, set[str]] = {}
    found: list[Interval] = []
    for event in events:
        pid = event.participant_id
        assert pid is not None
        sid = str(event.details.get("sid") or "*")
        live = sockets.setdefault(pid, set())
        if event.kind == JOINED:
            live.add(sid)
            open_since.setdefault(pid, event.at)
            continue
        if sid == "*":
            live.clear()
        else:
            live.discard(sid)
        if not live and pid in open_since:
            start = open_since.pop(pid)
            found.append(Interval(pid, start, min(event.at, cutoff)))
    for pid, start in open_since.items():
        if start < cutoff:
            found.append(Interval(pid, start, cutoff))
    return found


def has_joined(session: Session, video: VideoSession, participant_id: int) -> bool:
    """Whether the participant was in the session before (a rejoin keeps their place)."""
    return (
        session.scalar(
            select(VideoEvent.id)
            .where(
                VideoEvent.session_id == video.id,
                VideoEvent.participant_id == participant_id,
                VideoEvent.kind == JOINED,
            )
            .limit(1)
        )
        is not None
    )


def waiting(session: Session, video: VideoSession) -> set[int]:
    """Participants with a socket in the waiting room now."""
    events = session.scalars(
        select(VideoEvent)
        .where(
            VideoEvent.session_id == video.id,
            VideoEvent.kind.in_(["waiting", *ENDS]),
        )
        .order_by(VideoEvent.at, VideoEvent.id)
    ).all()
    sockets: dict[int, set[str]] = {}
    for event in events:
        if event.participant_id is None:
            continue
        live = sockets.setdefault(event.participant_id, set())
        sid = str(event.details.get("sid") or "*")
        if event.kind == "waiting":
            live.add(sid)
        elif sid == "*":
            live.clear()
        else:
            live.discard(sid)
    return {pid for pid, live in sockets.items() if live}


def overlap_seconds(anchor: list[Interval], others: list[Interval]) -> int:
    """Seconds during which some ``anchor`` interval and some ``others`` interval both ran."""
    points: list[tuple[datetime, int, int]] = []  # (time, +1/-1, 0 anchor / 1 other)
    for iv in anchor:
        points += [(iv.start, 1, 0), (iv.end, -1, 0)]
    for iv in others:
        points += [(iv.start, 1, 1), (iv.end, -1, 1)]
    # Ends sort before starts at the same instant, so touching intervals do not overlap.
    points.sort(key=lambda p: (p[0], p[1]))
    counts = [0, 0]
    total = 0.0
    last: datetime | None = None
    for at, step, side in points:
        if last is not None and counts[0] > 0 and counts[1] > 0:
            total += (at - last).total_seconds()
        counts[side] += step
        last = at
    return int(total)


def billable_seconds_of(
    session: Session, video: VideoSession, specialist_id: int | None, *, now: datetime | None = None
) -> int:
    """Seconds the specialist and at least one other person were both connected."""
    if specialist_id is None:
        return 0
    people = {p.id: p for p in video.participants if p.role is not ParticipantRole.RECORDER}
    anchor_ids = {pid for pid, p in people.items() if p.user_id == specialist_id}
    spans = [iv for iv in intervals(session, video, now=now) if iv.participant_id in people]
    anchor = [iv for iv in spans if iv.participant_id in anchor_ids]
    others = [iv for iv in spans if iv.participant_id not in anchor_ids]
    return overlap_seconds(anchor, others)
