"""Video sessions of consults: creation, participants, guest links, joining, timeline, billing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import Consult
from video import timeline
from video.models import VideoSession


def billable_seconds(session: Session, consult_id: int) -> int:
    """Seconds during which the consult's specialist and at least one other participant were both
    connected, summed over the consult's video sessions (from the stored join/leave timeline).

    The media worker's recording leg never counts as a participant.
    """
    consult = session.get(Consult, consult_id)
    if consult is None:
        return 0
    sessions = session.scalars(
        select(VideoSession).where(VideoSession.consult_id == consult_id).order_by(VideoSession.id)
    ).all()
    return sum(
        timeline.billable_seconds_of(session, video, consult.assigned_to_id) for video in sessions
    )
