"""Shapes of the equipment API (they also feed the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.pagination import PageQuery
from hub.schemas import Day, FromRow

# DICOM modality codes of the devices the hub keeps (dose-bearing ones and the usual others).
Modality = Literal["CT", "MG", "XA", "DX", "CR", "RF", "US", "MR", "NM", "PT", "OT"]
MINUTES_A_DAY = 24 * 60


def _text(value: str | None) -> str | None:
    return value or None


class DeviceIn(BaseModel):
    """A device to register (or its new details). ``facility_id`` defaults to the caller's."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    facility_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    modality: Modality
    manufacturer: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=64)
    serial_number: str = Field(min_length=1, max_length=64)
    station_name: str | None = Field(
        default=None, max_length=64, description="Station Name (0008,1010) it writes"
    )
    ae_title: str | None = Field(
        default=None, max_length=16, description="Calling AE title it sends with"
    )
    national_device_id: str | None = Field(default=None, max_length=64)
    active: bool = True

    _blank_is_none = field_validator("station_name", "ae_title", "national_device_id")(_text)


class ExemptionOut(FromRow):
    serial_number: str
    justification: str
    granted_by_id: int | None
    granted_at: datetime


class DeviceOut(FromRow):
    id: int
    facility_id: int
    facility_code: str
    modality: str
    manufacturer: str
    model: str
    serial_number: str
    station_name: str | None
    ae_title: str | None
    national_device_id: str | None
    active: bool
    exemption: ExemptionOut | None = Field(description="Set for a unit exempt from dose data")
    created_at: datetime
    updated_at: datetime


class DeviceQuery(PageQuery):
    facility_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    modality: str | None = Field(default=None, max_length=8)


class DeviceList(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None = Field(description="Cursor of the next page; null on the last")


class ExemptionIn(BaseModel):
    """Why a CT or mammography unit cannot produce dose data; the serial number must be the
    device's own (it names the physical unit the justification is about)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    serial_number: str = Field(min_length=1, max_length=64)
    justification: str = Field(min_length=10, max_length=2000)


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    date: dt.date
    planned_minutes: int = Field(ge=0, le=MINUTES_A_DAY)
    downtime_minutes: int = Field(ge=0, le=MINUTES_A_DAY)
    note: str | None = Field(default=None, max_length=1000)


class LogOut(FromRow):
    id: int
    device_id: int
    date: dt.date = Field(validation_alias="day")
    planned_minutes: int
    downtime_minutes: int
    note: str | None
    recorded_at: datetime


class UptimeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Day | None = Field(
        default=None, alias="from", description="First day (default: 30 days before 'to')"
    )
    to: Day | None = Field(default=None, description="Last day, included (default: today)")
    facility_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class UptimeGroup(BaseModel):
    key: str = Field(description="The device: its national device id, else facility:serial")
    device_id: int
    facility_code: str
    modality: str
    days: int = Field(description="Days with an operating log in the period")
    planned_minutes: int
    downtime_minutes: int
    rate: float | None = Field(
        description="Uptime %: (planned - downtime) / planned; null without planned minutes"
    )
    flagged: bool = Field(description="Uptime below the threshold")


class UptimeOut(BaseModel):
    period_start: date
    period_end: date = Field(description="Included")
    threshold: float = Field(description="Uptime % below which a device is flagged")
    groups: list[UptimeGroup]
