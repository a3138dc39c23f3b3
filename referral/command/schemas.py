"""Transfer bodies and answers under /api/v1/transfers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from hub.schemas import CursorPage, Id, Strict
from referral.command.models import Transfer, TransferMessage, TransferStatus


class TransferIn(Strict):
    patient_id: Id
    consult_id: Id | None = None
    reason: str = Field(min_length=3, max_length=4000)
    emergency: bool = False
    severity: int = Field(ge=1, le=5, description="1 stable … 5 critical")
    distance_km: int | None = Field(default=None, ge=0, le=20_000)
    specialty: str | None = Field(
        default=None,
        max_length=64,
        description="Specialty code, whose assisting physician is consulted (default: consult's)",
    )


class TransitionIn(Strict):
    to: TransferStatus
    destination: str | None = Field(
        default=None, max_length=40, description="Facility code; required to approve"
    )
    note: str | None = Field(default=None, max_length=4000)


class ReasonOut(BaseModel):
    reason: str
    points: int


class EventOut(BaseModel):
    at: datetime
    actor_id: int | None
    from_status: str | None
    to_status: str
    note: str | None


class TransferOut(BaseModel):
    id: int
    status: TransferStatus
    patient_id: int
    consult_id: int | None
    origin: str
    destination: str | None
    emergency: bool
    severity: int
    distance_km: int | None
    specialty: str | None
    priority: int
    priority_reasons: list[ReasonOut]
    created_at: datetime
    timeline: list[EventOut]


class TransferList(BaseModel):
    items: list[TransferOut]


def transfer_out(t: Transfer, score: object) -> TransferOut:
    reasons = getattr(score, "reasons", ())
    return TransferOut(
        id=t.id,
        status=t.status,
        patient_id=t.patient_id,
        consult_id=t.consult_id,
        origin=t.origin.code,
        destination=t.destination.code if t.destination else None,
        emergency=t.emergency,
        severity=t.severity,
        distance_km=t.distance_km,
        specialty=t.specialty.code if t.specialty else None,
        priority=int(getattr(score, "score", 0)),
        priority_reasons=[ReasonOut(reason=r, points=p) for r, p in reasons],
        created_at=t.created_at,
        timeline=[
            EventOut(
                at=e.at,
                actor_id=e.actor_id,
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note,
            )
            for e in t.events
        ],
    )


class TransferMessageIn(Strict):
    text: str = Field(min_length=1, max_length=4000)


class TransferMessageOut(BaseModel):
    id: int
    transfer_id: int
    author_id: int
    author: str
    at: datetime
    text: str


class TransferMessageList(CursorPage):
    items: list[TransferMessageOut]


def message_out(m: TransferMessage) -> TransferMessageOut:
    return TransferMessageOut(
        id=m.id,
        transfer_id=m.transfer_id,
        author_id=m.author_id,
        author=m.author.full_name,
        at=m.at,
        text=m.text,
    )


class AssistingIn(Strict):
    username: str | None = Field(
        max_length=64, description="The specialist to designate; null removes the designation"
    )


class AssistingOut(BaseModel):
    specialty: str
    user_id: int | None
    username: str | None
    name: str | None
    designated_at: datetime | None


class AssistingList(BaseModel):
    region: str
    items: list[AssistingOut]
