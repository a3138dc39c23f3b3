"""Devices, their dose exemptions and their daily operating logs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import Facility
from hub.models.base import Model, utcnow


class Device(Model):
    """One imaging device (a room's modality) of a facility.

    Incoming studies are matched to it by the serial number or station name their dose
    documents carry, else by the calling AE title they arrived from.
    """

    __tablename__ = "imaging_device"
    __table_args__ = (UniqueConstraint("facility_id", "serial_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    modality: Mapped[str] = mapped_column(String(8))
    manufacturer: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    serial_number: Mapped[str] = mapped_column(String(64))
    station_name: Mapped[str | None] = mapped_column(String(64))
    ae_title: Mapped[str | None] = mapped_column(String(16))
    # The Ministry's identifier of the device (the national dose registry names devices by it).
    national_device_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    facility: Mapped[Facility] = relationship()
    exemption: Mapped[DoseExemption | None] = relationship(back_populates="device")

    @property
    def facility_code(self) -> str:
        return self.facility.code

    @property
    def label(self) -> str:
        return " · ".join(p for p in (self.modality, self.manufacturer, self.model) if p)


class DoseExemption(Model):
    """A CT or mammography unit that cannot produce dose data, exempt from sending it.

    The serial number is written again on the exemption: it names the physical unit the
    justification is about, even if the registry row is later corrected.
    """

    __tablename__ = "imaging_device_exemption"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("imaging_device.id"), unique=True)
    serial_number: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    device: Mapped[Device] = relationship(back_populates="exemption")


class OperatingLog(Model):
    """One device's operating day: minutes it was planned to run and minutes it was down."""

    __tablename__ = "imaging_device_log"
    __table_args__ = (UniqueConstraint("device_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("imaging_device.id"), index=True)
    day: Mapped[date]
    planned_minutes: Mapped[int]
    downtime_minutes: Mapped[int]
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
