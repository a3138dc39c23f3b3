"""Transfer requests and their timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import Facility, MacroRegion, Patient, Specialty, User
from hub.models.base import Model, utcnow, value_enum


class TransferStatus(enum.Enum):
    """The states of an inter-facility transfer ("shifting" in ohcnetwork/care)."""

    PENDING = "pending"
    ON_HOLD = "on_hold"
    APPROVED = "approved"
    REJECTED = "rejected"
    DESTINATION_APPROVED = "destination_approved"
    DESTINATION_REJECTED = "destination_rejected"
    TRANSPORT_TO_BE_ARRANGED = "transport_to_be_arranged"
    PATIENT_TO_BE_PICKED_UP = "patient_to_be_picked_up"
    IN_TRANSIT = "in_transit"
    COMPLETED = "completed"
    PATIENT_EXPIRED = "patient_expired"
    CANCELLED = "cancelled"


class Transfer(Model):
    __tablename__ = "transfer"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    consult_id: Mapped[int | None] = mapped_column(index=True)  # consult's, through its services
    origin_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    destination_facility_id: Mapped[int | None] = mapped_column(
        ForeignKey("facility.id"), index=True
    )
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    emergency: Mapped[bool] = mapped_column(default=False)
    severity: Mapped[int]  # 1 (stable) .. 5 (critical), the requester's judgement
    distance_km: Mapped[int | None]
    # The specialty whose assisting physician the region consults (the consult's, or chosen).
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("specialty.id"), index=True)
    status: Mapped[TransferStatus] = mapped_column(
        value_enum(TransferStatus), index=True, default=TransferStatus.PENDING
    )
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship()
    specialty: Mapped[Specialty | None] = relationship()
    origin: Mapped[Facility] = relationship(foreign_keys=[origin_facility_id])
    destination: Mapped[Facility | None] = relationship(foreign_keys=[destination_facility_id])
    created_by: Mapped[User] = relationship()
    events: Mapped[list[TransferEvent]] = relationship(
        back_populates="transfer", order_by="TransferEvent.id"
    )


class TransferEvent(Model):
    __tablename__ = "transfer_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfer.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    transfer: Mapped[Transfer] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class AssistingPhysician(Model):
    """The physician a region's command staff consult on transfers of one specialty (SEEDS 001:
    transfers are prioritised through each region's assisting physicians)."""

    __tablename__ = "assisting_physician"
    __table_args__ = (UniqueConstraint("region_id", "specialty_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"))
    specialty_id: Mapped[int] = mapped_column(ForeignKey("specialty.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    designated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    designated_at: Mapped[datetime] = mapped_column(default=utcnow)

    region: Mapped[MacroRegion] = relationship()
    specialty: Mapped[Specialty] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class TransferMessage(Model):
    """One message in a transfer's thread (command staff, both facilities, the assisting
    physician); shown on the transfer's timeline."""

    __tablename__ = "transfer_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfer.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)

    author: Mapped[User] = relationship()
