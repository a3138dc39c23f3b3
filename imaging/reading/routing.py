"""Which radiologists a reading request is offered to, with a trace a person can follow.

Tiers widen like consult routing: radiologists of the sending facility's region first, then
the rest of the country. Within a tier, those with the modality's subspecialty are preferred,
then those on the published on-call roster now and not on a break (when nobody of the tier is,
everyone stays offered: a study is never left unrouted), available before busy, the least
loaded first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult import services as consult_services
from hub.models import Facility, Role, User
from hub.services.users import role_holders
from imaging.reading.models import ReadingRequest, ReadingStatus, Urgency

# Time from request to signed report (SEEDS 004 leaves the figures to the hub).
SLA: dict[Urgency, timedelta] = {
    Urgency.EMERGENCY: timedelta(hours=1),
    Urgency.URGENT: timedelta(hours=4),
    Urgency.ROUTINE: timedelta(hours=48),
}
# Subspecialty (specialty code) preferred for a modality, where one exists.
SUBSPECIALTY: dict[str, str] = {
    "MG": "breast_imaging",
    "MR": "neuroradiology",
    "NM": "nuclear_medicine",
    "US": "ultrasound",
}


UNAVAILABLE = frozenset({"on_break", "off_shift"})


@dataclass(frozen=True)
class Routed:
    candidate_ids: list[int]
    trace: list[str]


def _radiologists(session: Session) -> list[User]:
    return list(session.scalars(role_holders(Role.RADIOLOGIST, User).order_by(User.id)))


def _load(session: Session, user_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(ReadingRequest.assigned_to_id, func.count())
        .where(
            ReadingRequest.assigned_to_id.in_(user_ids),
            ReadingRequest.status == ReadingStatus.IN_PROGRESS,
        )
        .group_by(ReadingRequest.assigned_to_id)
    )
    return {int(uid): int(n) for uid, n in rows if uid is not None}


def route(session: Session, facility: Facility, modalities: list[str]) -> Routed:
    """Candidates for a study of ``modalities`` sent by ``facility``."""
    trace: list[str] = []
    everyone = _radiologists(session)
    regions = dict(session.execute(select(Facility.id, Facility.region_id)).all())
    in_region = [
        u for u in everyone if u.facility_id and regions.get(u.facility_id) == facility.region_id
    ]
    trace.append(f"tier 1 (region {facility.region_id}): {len(in_region)} active radiologist(s)")
    pool = in_region
    if not pool:
        pool = everyone
        trace.append(f"tier 2 (national): {len(pool)} active radiologist(s)")
    wanted = sorted({SUBSPECIALTY[m] for m in modalities if m in SUBSPECIALTY})
    if wanted:
        sub = [u for u in pool if {s.code for s in u.specialties} & set(wanted)]
        if sub:
            trace.append(f"subspecialty {', '.join(wanted)}: {len(sub)} of {len(pool)} kept")
            pool = sub
        else:
            trace.append(f"subspecialty {', '.join(wanted)}: none in tier, all kept")
    else:
        trace.append(f"modality {', '.join(modalities) or 'unknown'}: no subspecialty needed")
    states = consult_services.on_call_now(session, [u.id for u in pool])
    rostered = [u for u in pool if u.id in states and states[u.id] not in UNAVAILABLE]
    if rostered:
        trace.append(f"on-call roster: {len(rostered)} of {len(pool)} on call and not on break")
        pool = rostered
    elif states:
        trace.append(f"on-call roster: {len(states)} on call, all on break or off shift: all kept")
    else:
        trace.append("on-call roster: nobody of the tier on call now: all kept")
    load = _load(session, [u.id for u in pool])
    # The available first, then the least loaded: a busy radiologist is still offered the study.
    pool.sort(key=lambda u: (states.get(u.id) == "busy", load.get(u.id, 0), u.id))
    if pool:
        least = load.get(pool[0].id, 0)
        trace.append(f"load: {len(pool)} offered, least loaded has {least} study(ies) in progress")
    else:
        trace.append("no radiologist available: the request waits in the national worklist")
    return Routed(candidate_ids=[u.id for u in pool], trace=trace)
