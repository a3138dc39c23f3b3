"""Patients by real name, their telemedicine consents and insurance memberships."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Model, utcnow, value_enum
from hub.models.org import Facility, Insurer


class Sex(enum.Enum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class ConsentScope(enum.Enum):
    CONSULT = "consult"
    VIDEO = "video"
    RECORDING = "recording"
    DATA_SHARING = "data_sharing"


class ConsentMethod(enum.Enum):
    WRITTEN = "written"
    VERBAL = "verbal"
    ELECTRONIC = "electronic"


class Patient(Model):
    __tablename__ = "patient"
    __table_args__ = (UniqueConstraint("id_country", "national_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    id_country: Mapped[str] = mapped_column(String(2))
    national_id: Mapped[str] = mapped_column(String(32))
    given_name: Mapped[str] = mapped_column(String(120))
    family_name: Mapped[str] = mapped_column(String(120))
    date_of_birth: Mapped[date]
    sex: Mapped[Sex] = mapped_column(value_enum(Sex))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    home_facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    # A merged duplicate keeps its row (for the audit trail) and points at the survivor.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    merged_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    home_facility: Mapped[Facility] = relationship()
    consents: Mapped[list[Consent]] = relationship(back_populates="patient")
    memberships: Mapped[list[Membership]] = relationship(back_populates="patient")


class Consent(Model):
    __tablename__ = "consent"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    scope: Mapped[ConsentScope] = mapped_column(value_enum(ConsentScope))
    method: Mapped[ConsentMethod] = mapped_column(value_enum(ConsentMethod))
    # Who gave it: the patient, or a guardian on their behalf.
    given_by_name: Mapped[str] = mapped_column(String(200))
    relationship_to_patient: Mapped[str] = mapped_column(String(40), default="self")
    given_at: Mapped[datetime]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    patient: Mapped[Patient] = relationship(back_populates="consents")

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


class Membership(Model):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("insurer_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    patient: Mapped[Patient] = relationship(back_populates="memberships")
    insurer: Mapped[Insurer] = relationship()
