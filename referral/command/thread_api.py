"""The transfer thread and the region's assisting physicians under /api/v1 (see
referral.command.threads)."""

from __future__ import annotations

from hub import db
from hub.api.core import api_route
from hub.api.pagination import PageQuery, next_cursor
from hub.auth.principal import Principal
from referral.command import threads
from referral.command.schemas import (
    AssistingIn,
    AssistingList,
    AssistingOut,
    TransferMessageIn,
    TransferMessageList,
    TransferMessageOut,
    message_out,
)


@api_route(
    "/transfers/<int:transfer_id>/messages",
    summary="The transfer's thread (participants and the region's assisting physician)",
    scope="consults:read",
    tag="command",
    query=PageQuery,
    response=TransferMessageList,
    errors=(404,),
)
def list_transfer_messages(
    principal: Principal, transfer_id: int, query: PageQuery
) -> TransferMessageList:
    found = threads.messages(
        db.session(), principal, transfer_id, after_id=query.position(), limit=query.limit
    )
    return TransferMessageList(
        items=[message_out(m) for m in found],
        next_cursor=next_cursor(found, query.limit, lambda m: m.id),
    )


@api_route(
    "/transfers/<int:transfer_id>/messages",
    "POST",
    summary="Write in the transfer's thread (its participants only; closed transfers refuse)",
    scope="consults:read",
    tag="command",
    body=TransferMessageIn,
    response=TransferMessageOut,
    status=201,
    errors=(403, 404, 409),
)
def post_transfer_message(
    principal: Principal, transfer_id: int, body: TransferMessageIn
) -> TransferMessageOut:
    return message_out(threads.post_message(db.session(), principal, transfer_id, body.text))


def _out(d: threads.Designation) -> AssistingOut:
    return AssistingOut(
        specialty=d.specialty.code,
        user_id=d.physician.id if d.physician else None,
        username=d.physician.username if d.physician else None,
        name=d.physician.full_name if d.physician else None,
        designated_at=d.designated_at,
    )


@api_route(
    "/regions/<string:code>/assisting-physicians",
    summary="The region's assisting physician for each specialty (command staff, national admin)",
    scope="consults:read",
    tag="command",
    response=AssistingList,
    errors=(403, 404),
)
def list_assisting_physicians(principal: Principal, code: str) -> AssistingList:
    region, found = threads.designations(db.session(), principal, code)
    return AssistingList(region=region.code, items=[_out(d) for d in found])


@api_route(
    "/regions/<string:code>/assisting-physicians/<string:specialty>",
    "PUT",
    summary="Designate the region's assisting physician for a specialty (null removes it)",
    scope="consults:read",
    tag="command",
    body=AssistingIn,
    response=AssistingOut,
    errors=(403, 404, 422),
)
def put_assisting_physician(
    principal: Principal, code: str, specialty: str, body: AssistingIn
) -> AssistingOut:
    return _out(threads.designate(db.session(), principal, code, specialty, body.username))
