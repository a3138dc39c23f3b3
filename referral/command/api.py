"""Transfers under /api/v1 (see referral.command.services)."""

from __future__ import annotations

from flask import Response as FlaskResponse
from flask import jsonify

from hub import db
from hub.api.core import API_PREFIX, api_route
from hub.auth.principal import Principal
from hub.schemas import Strict
from referral.command import services
from referral.command.schemas import (
    TransferIn,
    TransferList,
    TransferOut,
    TransitionIn,
    transfer_out,
)


class TransferQuery(Strict):
    open: bool = True


@api_route(
    "/transfers",
    "POST",
    summary="Request an urgent transfer of a patient (the sending facility)",
    scope="consults:write",
    tag="command",
    body=TransferIn,
    response=TransferOut,
    status=201,
    errors=(404, 422),
)
def request_transfer(principal: Principal, body: TransferIn) -> FlaskResponse:
    session = db.session()
    transfer = services.request_transfer(
        session,
        principal,
        patient_id=body.patient_id,
        reason=body.reason,
        emergency=body.emergency,
        severity=body.severity,
        distance_km=body.distance_km,
        consult_id=body.consult_id,
        specialty_code=body.specialty,
    )
    session.commit()
    out = transfer_out(transfer, services.score(transfer))
    resp = jsonify(out.model_dump(mode="json"))
    resp.status_code = 201
    resp.headers["Location"] = f"{API_PREFIX}/transfers/{transfer.id}"
    return resp


@api_route(
    "/transfers",
    summary="Transfers of your facility (sent or received) or region, open ones by priority",
    scope="consults:read",
    tag="command",
    query=TransferQuery,
    response=TransferList,
)
def list_transfers(principal: Principal, query: TransferQuery) -> TransferList:
    found = services.list_visible(db.session(), principal, open_only=query.open)
    return TransferList(items=[transfer_out(t, services.score(t)) for t in found])


@api_route(
    "/transfers/<int:transfer_id>",
    summary="A transfer with its priority, the reasons for it and its timeline",
    scope="consults:read",
    tag="command",
    response=TransferOut,
    errors=(404,),
)
def get_transfer(principal: Principal, transfer_id: int) -> TransferOut:
    transfer = services.get(db.session(), principal, transfer_id)
    return transfer_out(transfer, services.score(transfer))


@api_route(
    "/transfers/<int:transfer_id>/transition",
    "POST",
    summary="Move a transfer on (who may, from which state: see the transfer rules)",
    scope="consults:read",
    tag="command",
    body=TransitionIn,
    response=TransferOut,
    errors=(403, 404, 409, 422),
)
def transition_transfer(principal: Principal, transfer_id: int, body: TransitionIn) -> TransferOut:
    transfer = services.transition(
        db.session(),
        principal,
        transfer_id,
        body.to,
        destination_code=body.destination,
        note=body.note,
    )
    return transfer_out(transfer, services.score(transfer))
