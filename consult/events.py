"""Realtime notices of consult changes: ids and states only; details come from the API."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consult.models import Consult, OfferState
from hub.realtime import command_room, emit_after_commit, user_room


def consult_changed(session: Session, consult: Consult) -> None:
    """Tell the requester, every offered or assigned specialist and the region's command room."""
    rooms = {user_room(consult.requester_id), command_room(consult.region_id)}
    if consult.assigned_to_id is not None:
        rooms.add(user_room(consult.assigned_to_id))
    for offer in consult.offers:
        if offer.state in (OfferState.OPEN, OfferState.CLAIMED):
            rooms.add(user_room(offer.specialist_id))
    payload = {"consult_id": consult.id, "status": consult.status.value,
               "urgency": consult.urgency.value,
               "assigned_to": consult.assigned_to_id}
    emit_after_commit(session, "consult.updated", payload, sorted(rooms))
