"""Realtime notices of consult changes: ids and states only; details come from the API."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from consult.models import Consult, OfferState
from hub.realtime import command_room, emit_after_commit, user_room


def consult_changed(
    session: Session, consult: Consult, *, withdrawn_from: Iterable[int] = ()
) -> None:
    """Tell the requester, every offered or assigned specialist and the region's command room;
    ``withdrawn_from`` are the specialists whose open offer this change withdrew (a claim by
    someone else, a cancellation), so their worklists drop it at once."""
    rooms = {user_room(consult.requester_id), command_room(consult.region_id)}
    if consult.assigned_to_id is not None:
        rooms.add(user_room(consult.assigned_to_id))
    rooms.update(user_room(user_id) for user_id in withdrawn_from)
    for offer in consult.offers:
        if offer.state in (OfferState.OPEN, OfferState.CLAIMED):
            rooms.add(user_room(offer.specialist_id))
    payload = {
        "consult_id": consult.id,
        "status": consult.status.value,
        "urgency": consult.urgency.value,
        "assigned_to": consult.assigned_to_id,
    }
    emit_after_commit(session, "consult.updated", payload, sorted(rooms))
