"""Equipment under /api/v1: the device registry, dose exemptions, daily operating logs and
uptime per device (quality control)."""

from __future__ import annotations

from hub import db
from hub.api.core import api_route
from hub.api.pagination import next_cursor
from hub.auth.principal import Principal
from imaging.devices import services
from imaging.devices.models import Device
from imaging.devices.schemas import (
    DeviceIn,
    DeviceList,
    DeviceOut,
    DeviceQuery,
    ExemptionIn,
    ExemptionOut,
    LogIn,
    LogOut,
    UptimeOut,
    UptimeQuery,
)


def device_out(row: Device) -> DeviceOut:
    return DeviceOut.model_validate(row)


@api_route(
    "/equipment",
    "POST",
    summary="Register an imaging device of a facility (its facility administrators, national "
    "administrators); matched to incoming studies by serial number, station name or AE title",
    scope="admin",
    tag="imaging",
    body=DeviceIn,
    response=DeviceOut,
    status=201,
    errors=(404, 409),
)
def create_device(principal: Principal, body: DeviceIn) -> DeviceOut:
    return device_out(services.create_device(db.session(), principal, body))


@api_route(
    "/equipment",
    summary="The imaging devices of the facilities you see",
    scope="imaging:read",
    tag="imaging",
    query=DeviceQuery,
    response=DeviceList,
)
def list_devices(principal: Principal, query: DeviceQuery) -> DeviceList:
    found = services.list_devices(
        db.session(),
        principal,
        facility_id=query.facility_id,
        modality=query.modality,
        after_id=query.position() or 0,
        limit=query.limit,
    )
    return DeviceList(
        items=[device_out(row) for row in found],
        next_cursor=next_cursor(found, query.limit, key=lambda row: row.id),
    )


@api_route(
    "/equipment/<int:device_id>",
    summary="One imaging device",
    scope="imaging:read",
    tag="imaging",
    response=DeviceOut,
    errors=(404,),
)
def get_device(principal: Principal, device_id: int) -> DeviceOut:
    return device_out(services.get_device(db.session(), principal, device_id))


@api_route(
    "/equipment/<int:device_id>",
    "PUT",
    summary="Change an imaging device's details (its facility stays)",
    scope="admin",
    tag="imaging",
    body=DeviceIn,
    response=DeviceOut,
    errors=(404, 409),
)
def update_device(principal: Principal, device_id: int, body: DeviceIn) -> DeviceOut:
    return device_out(services.update_device(db.session(), principal, device_id, body))


@api_route(
    "/equipment/<int:device_id>/exemption",
    "POST",
    summary="Exempt a CT or mammography unit that cannot produce dose data (justification and "
    "the unit's serial number)",
    scope="admin",
    tag="imaging",
    body=ExemptionIn,
    response=ExemptionOut,
    status=201,
    errors=(404, 409),
)
def set_exemption(principal: Principal, device_id: int, body: ExemptionIn) -> ExemptionOut:
    found = services.set_exemption(db.session(), principal, device_id, body)
    return ExemptionOut.model_validate(found)


@api_route(
    "/equipment/<int:device_id>/exemption",
    "DELETE",
    summary="Withdraw a device's dose exemption",
    scope="admin",
    tag="imaging",
    status=204,
    errors=(404,),
)
def withdraw_exemption(principal: Principal, device_id: int) -> None:
    services.withdraw_exemption(db.session(), principal, device_id)


@api_route(
    "/equipment/<int:device_id>/logs",
    "POST",
    summary="A device's daily operating log: planned and downtime minutes (one per day)",
    scope="imaging:write",
    tag="imaging",
    body=LogIn,
    response=LogOut,
    status=201,
    errors=(404, 409),
)
def add_log(principal: Principal, device_id: int, body: LogIn) -> LogOut:
    return LogOut.model_validate(services.add_log(db.session(), principal, device_id, body))


@api_route(
    "/qc/uptime",
    summary="Uptime % per device over a period (from, to: days, both included); a device "
    "without planned minutes has rate null; below 95 % is flagged",
    scope="imaging:read",
    tag="imaging",
    query=UptimeQuery,
    response=UptimeOut,
)
def uptime(principal: Principal, query: UptimeQuery) -> UptimeOut:
    return services.uptime(
        db.session(), principal, query.from_, query.to, facility_id=query.facility_id
    )
