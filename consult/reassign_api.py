"""Command staff's reassignment under /api/v1 (see consult.reassign)."""

from __future__ import annotations

from pydantic import BaseModel

from consult.api import consult_out
from consult.reassign import on_call, reassign
from consult.schemas import ConsultOut
from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from hub.schemas import Id, Strict


class ReassignIn(Strict):
    specialist_id: Id


class OnCallOut(BaseModel):
    user_id: int
    name: str
    facility: str
    state: str


class OnCallList(BaseModel):
    items: list[OnCallOut]


@api_route(
    "/consults/<int:consult_id>/on-call",
    summary="Specialists on call now for the consult's specialty (whom it can be reassigned to)",
    scope="consults:dispatch",
    tag="command",
    response=OnCallList,
    errors=(404,),
)
def consult_on_call(principal: Principal, consult_id: int) -> OnCallList:
    found = on_call(db.session(), principal, consult_id)
    return OnCallList(items=[OnCallOut(**vars(o)) for o in found])


@api_route(
    "/consults/<int:consult_id>/reassign",
    "POST",
    summary="Reassign an open consult to a specialist on call for its specialty (command staff)",
    scope="consults:dispatch",
    tag="command",
    body=ReassignIn,
    response=ConsultOut,
    errors=(404, 409, 422),
)
def reassign_consult(principal: Principal, consult_id: int, body: ReassignIn) -> ConsultOut:
    return consult_out(reassign(db.session(), principal, consult_id, body.specialist_id))
