"""The device registry: who keeps a facility's devices, their dose exemptions and operating
logs, uptime per device and period, and matching incoming studies to devices.

A facility's administrators keep its devices (national administrators every facility's); its
imaging staff also enter the daily logs. Whoever may see a facility's work sees its devices:
its own staff, the region's command and QA staff, national administrators. Another facility's
device is not found (the refusal is audited). Every change is audited with what it changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from hub import audit
from hub.auth.principal import Principal
from hub.config import ConfigError, ae_title
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Role, utcnow
from hub.permissions import CLINICAL_ROLES, REGION_ROLES, require
from imaging.devices.models import Device, DoseExemption, OperatingLog
from imaging.devices.schemas import (
    DeviceIn,
    ExemptionIn,
    LogIn,
    UptimeGroup,
    UptimeOut,
)

KEEPERS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})
# Who enters a device's daily log: its keepers and the facility's imaging staff.
LOGGERS = KEEPERS | frozenset({Role.CHW, Role.NURSE, Role.GP, Role.RADIOLOGIST})
# Units that must send dose data unless exempt (SEEDS 003 names CT and mammography).
EXEMPTABLE = frozenset({"CT", "MG"})
UPTIME_THRESHOLD = 95.0
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366


def _national(principal: Principal) -> bool:
    return principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN)


def facility_visibility(principal: Principal) -> ColumnElement[bool]:
    """A condition on ``Facility.id``-valued columns: facilities whose devices one sees."""
    if _national(principal):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if principal.facility_id is not None and principal.roles & (
        CLINICAL_ROLES | {Role.FACILITY_ADMIN}
    ):
        clauses.append(Facility.id == principal.facility_id)
    if principal.region_id is not None and principal.roles & REGION_ROLES:
        clauses.append(Facility.region_id == principal.region_id)
    return or_(*clauses) if clauses else false()


def visible_facilities(session: Session, principal: Principal) -> list[Facility]:
    """The facilities whose devices the principal sees, by code."""
    require(principal, "imaging:read", action="imaging:device:listed")
    return list(
        session.scalars(
            select(Facility).where(facility_visibility(principal)).order_by(Facility.code)
        )
    )


def kept_facilities(session: Session, principal: Principal) -> list[Facility]:
    """The facilities whose devices the principal may register and change."""
    if not principal.roles & KEEPERS:
        return []
    stmt = select(Facility).order_by(Facility.code)
    if not _national(principal):
        stmt = stmt.where(Facility.id == principal.facility_id)
    return list(session.scalars(stmt))


def may_keep(principal: Principal, device: Device) -> bool:
    return _national(principal) or (
        principal.has_role(Role.FACILITY_ADMIN) and device.facility_id == principal.facility_id
    )


def may_log(principal: Principal, device: Device) -> bool:
    return _national(principal) or (
        bool(principal.roles & LOGGERS) and device.facility_id == principal.facility_id
    )


def _hidden(action: str, device_id: int) -> AccessDenied:
    return AccessDenied(action=action, object_type="imaging_device", object_id=device_id, hide=True)


def get_device(session: Session, principal: Principal, device_id: int) -> Device:
    """A device of a facility the principal sees; another facility's is not found."""
    action = "imaging:device:viewed"
    require(principal, "imaging:read", action=action)
    row = session.get(Device, device_id)
    if row is None:
        raise NotFound("Not found.")
    seen = session.scalar(
        select(Facility.id).where(Facility.id == row.facility_id, facility_visibility(principal))
    )
    if seen is None:
        raise _hidden(action, device_id)
    return row


def list_devices(
    session: Session,
    principal: Principal,
    *,
    facility_id: int | None = None,
    modality: str | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> list[Device]:
    """The devices the principal sees, by id (a page after ``after_id``)."""
    require(principal, "imaging:read", action="imaging:device:listed")
    stmt = (
        select(Device)
        .join(Facility, Facility.id == Device.facility_id)
        .options(joinedload(Device.facility), joinedload(Device.exemption))
        .where(facility_visibility(principal), Device.id > after_id)
    )
    if facility_id is not None:
        stmt = stmt.where(Device.facility_id == facility_id)
    if modality is not None:
        stmt = stmt.where(Device.modality == modality.upper())
    return list(session.scalars(stmt.order_by(Device.id).limit(limit)).unique())


def _valid_ae(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return ae_title(value, "ae_title")
    except ConfigError:
        raise ValidationFailed(
            "An AE title is 1 to 16 letters, digits, spaces, '_', '-' or '.'.",
            details={"ae_title": "invalid"},
        ) from None


def _target_facility(
    session: Session, principal: Principal, facility_id: int | None, action: str
) -> Facility:
    if facility_id is None:
        facility_id = principal.facility_id
        if facility_id is None:
            raise ValidationFailed(
                "Name the facility of the device.", details={"facility_id": "missing"}
            )
    facility = session.get(Facility, facility_id)
    if not _national(principal) and facility_id != principal.facility_id:
        raise AccessDenied(action=action, object_type="facility", object_id=facility_id, hide=True)
    if facility is None:
        raise ValidationFailed("Unknown facility.", details={"facility_id": facility_id})
    return facility


def _check_unique(session: Session, body: DeviceIn, facility_id: int, except_id: int) -> None:
    same_serial = session.scalar(
        select(Device.id).where(
            Device.facility_id == facility_id,
            Device.serial_number == body.serial_number,
            Device.id != except_id,
        )
    )
    if same_serial is not None:
        raise Conflict(
            "This facility has a device with this serial number already.",
            code="serial_number_taken",
            details={"serial_number": body.serial_number, "device_id": same_serial},
        )
    if body.national_device_id is not None:
        same_national = session.scalar(
            select(Device.id).where(
                Device.national_device_id == body.national_device_id, Device.id != except_id
            )
        )
        if same_national is not None:
            raise Conflict(
                "Another device has this national device id.",
                code="national_device_id_taken",
                details={"national_device_id": body.national_device_id},
            )


def _facts_of(row: Device) -> dict[str, object]:
    return {
        "facility_id": row.facility_id,
        "modality": row.modality,
        "manufacturer": row.manufacturer,
        "model": row.model,
        "serial_number": row.serial_number,
        "station_name": row.station_name,
        "ae_title": row.ae_title,
        "national_device_id": row.national_device_id,
        "active": row.active,
    }


def _flush_unique(session: Session, what: str) -> None:
    """Flush inside a savepoint: a concurrent insert of the same key is a 409, not a 500."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"{what} was recorded at the same moment by someone else.") from None


def create_device(session: Session, principal: Principal, body: DeviceIn) -> Device:
    """Register a device of the caller's facility (or, national administrators, any)."""
    action = "imaging:device:created"
    require(principal, "admin", roles=KEEPERS, action=action)
    facility = _target_facility(session, principal, body.facility_id, action)
    ae = _valid_ae(body.ae_title)
    _check_unique(session, body, facility.id, except_id=0)
    row = Device(
        facility_id=facility.id,
        modality=body.modality,
        manufacturer=body.manufacturer,
        model=body.model,
        serial_number=body.serial_number,
        station_name=body.station_name,
        ae_title=ae,
        national_device_id=body.national_device_id,
        active=body.active,
    )
    session.add(row)
    _flush_unique(session, "A device with this serial number or national id")
    audit.record(
        session,
        principal,
        action,
        object_type="imaging_device",
        object_id=row.id,
        details=_facts_of(row),
    )
    return row


def update_device(session: Session, principal: Principal, device_id: int, body: DeviceIn) -> Device:
    """Change a device's details; its facility stays (register a moved unit anew)."""
    action = "imaging:device:changed"
    require(principal, "admin", roles=KEEPERS, action=action)
    row = get_device(session, principal, device_id)
    if not may_keep(principal, row):
        raise _hidden(action, device_id)
    if body.facility_id is not None and body.facility_id != row.facility_id:
        raise ValidationFailed(
            "A device keeps its facility; register a moved unit at its new facility.",
            details={"facility_id": "fixed"},
        )
    if row.exemption is not None and body.modality not in EXEMPTABLE:
        raise ValidationFailed(
            "An exempt device is CT or mammography; withdraw the exemption first.",
            details={"modality": "exempt"},
        )
    ae = _valid_ae(body.ae_title)
    _check_unique(session, body, row.facility_id, except_id=row.id)
    before = _facts_of(row)
    row.modality, row.manufacturer, row.model = body.modality, body.manufacturer, body.model
    row.serial_number, row.station_name, row.ae_title = body.serial_number, body.station_name, ae
    row.national_device_id, row.active, row.updated_at = (
        body.national_device_id,
        body.active,
        utcnow(),
    )
    _flush_unique(session, "A device with this serial number or national id")
    after = _facts_of(row)
    audit.record(
        session,
        principal,
        action,
        object_type="imaging_device",
        object_id=row.id,
        details={k: {"before": before[k], "after": v} for k, v in after.items() if before[k] != v},
    )
    return row


def set_exemption(
    session: Session, principal: Principal, device_id: int, body: ExemptionIn
) -> DoseExemption:
    """Record that a CT or mammography unit cannot produce dose data, and why."""
    action = "imaging:device:exempted"
    require(principal, "admin", roles=KEEPERS, action=action)
    row = get_device(session, principal, device_id)
    if not may_keep(principal, row):
        raise _hidden(action, device_id)
    if row.modality not in EXEMPTABLE:
        raise ValidationFailed(
            "Only CT and mammography units may be exempt from dose data.",
            details={"modality": row.modality},
        )
    if body.serial_number != row.serial_number:
        raise ValidationFailed(
            "The serial number is not the device's: write the serial number on the unit.",
            details={"serial_number": "mismatch"},
        )
    if row.exemption is not None:
        raise Conflict(
            "The device is exempt already; withdraw the exemption to write a new one.",
            code="exempt_already",
        )
    exemption = DoseExemption(
        device_id=row.id,
        serial_number=body.serial_number,
        justification=body.justification,
        granted_by_id=principal.user_id,
    )
    session.add(exemption)
    _flush_unique(session, "An exemption of this device")
    session.refresh(row)
    audit.record(
        session,
        principal,
        action,
        object_type="imaging_device",
        object_id=row.id,
        details={"serial_number": body.serial_number, "justification": body.justification},
    )
    return exemption


def withdraw_exemption(session: Session, principal: Principal, device_id: int) -> None:
    """End a device's exemption: from now on it is expected to send dose data."""
    action = "imaging:device:exemption_withdrawn"
    require(principal, "admin", roles=KEEPERS, action=action)
    row = get_device(session, principal, device_id)
    if not may_keep(principal, row):
        raise _hidden(action, device_id)
    exemption = row.exemption
    if exemption is None:
        raise NotFound("The device has no exemption.")
    details = {
        "serial_number": exemption.serial_number,
        "justification": exemption.justification,
        "granted_by_id": exemption.granted_by_id,
        "granted_at": exemption.granted_at.isoformat(),
    }
    session.delete(exemption)
    session.flush()
    session.refresh(row)
    audit.record(
        session, principal, action, object_type="imaging_device", object_id=row.id, details=details
    )


def add_log(session: Session, principal: Principal, device_id: int, body: LogIn) -> OperatingLog:
    """A device's operating day; one per day (a second is a 409)."""
    action = "imaging:device:logged"
    require(principal, "imaging:write", roles=LOGGERS, action=action)
    row = get_device(session, principal, device_id)
    if not may_log(principal, row):
        raise _hidden(action, device_id)
    if body.downtime_minutes > body.planned_minutes:
        raise ValidationFailed(
            "Downtime cannot exceed the planned minutes of the day.",
            details={"downtime_minutes": "above planned_minutes"},
        )
    if body.date > utcnow().date() + timedelta(days=1):  # a day ahead: time zones
        raise ValidationFailed(
            "An operating log is written for a day that has begun.", details={"date": "future"}
        )
    taken = session.scalar(
        select(OperatingLog.id).where(
            OperatingLog.device_id == row.id, OperatingLog.day == body.date
        )
    )
    if taken is not None:
        raise Conflict(
            "This device has a log for this day already.",
            code="log_exists",
            details={"date": body.date.isoformat(), "log_id": taken},
        )
    log = OperatingLog(
        device_id=row.id,
        day=body.date,
        planned_minutes=body.planned_minutes,
        downtime_minutes=body.downtime_minutes,
        note=body.note or None,
        recorded_by_id=principal.user_id,
    )
    session.add(log)
    _flush_unique(session, "A log of this day")
    audit.record(
        session,
        principal,
        action,
        object_type="imaging_device",
        object_id=row.id,
        details={
            "date": body.date.isoformat(),
            "planned_minutes": body.planned_minutes,
            "downtime_minutes": body.downtime_minutes,
        },
    )
    return log


def logs_of(
    session: Session, principal: Principal, device_id: int, limit: int = 31
) -> list[OperatingLog]:
    """A device's latest logs, newest first."""
    row = get_device(session, principal, device_id)
    return list(
        session.scalars(
            select(OperatingLog)
            .where(OperatingLog.device_id == row.id)
            .order_by(OperatingLog.day.desc())
            .limit(limit)
        )
    )


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The days of a report (both included); 30 days to today by default."""
    end = end or utcnow().date()
    start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise ValidationFailed(
            "The period starts after it ends.", details={"from": start.isoformat()}
        )
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationFailed(
            f"A period is at most {MAX_PERIOD_DAYS} days.", details={"to": end.isoformat()}
        )
    return start, end


def rate(planned: int, downtime: int) -> float | None:
    """Uptime in %, None without planned minutes (no data is not 0 %)."""
    if planned <= 0:
        return None
    return round(100.0 * (planned - downtime) / planned, 2)


def device_key(row: Device) -> str:
    return row.national_device_id or f"{row.facility_code}:{row.serial_number}"


def uptime(
    session: Session,
    principal: Principal,
    start: date | None,
    end: date | None,
    *,
    facility_id: int | None = None,
) -> UptimeOut:
    """Uptime per device over the period: the active devices the principal sees, and the
    inactive ones with logs in it."""
    action = "imaging:device:uptime_viewed"
    require(principal, "imaging:read", action=action)
    start, end = period(start, end)
    sums = {
        device_id: (int(days), int(planned or 0), int(down or 0))
        for device_id, days, planned, down in session.execute(
            select(
                OperatingLog.device_id,
                func.count(OperatingLog.id),
                func.sum(OperatingLog.planned_minutes),
                func.sum(OperatingLog.downtime_minutes),
            )
            .where(OperatingLog.day >= start, OperatingLog.day <= end)
            .group_by(OperatingLog.device_id)
        )
    }
    stmt = (
        select(Device)
        .join(Facility, Facility.id == Device.facility_id)
        .options(joinedload(Device.facility))
        .where(facility_visibility(principal))
        .order_by(Facility.code, Device.modality, Device.id)
    )
    if facility_id is not None:
        stmt = stmt.where(Device.facility_id == facility_id)
    groups = []
    for row in session.scalars(stmt):
        days, planned, down = sums.get(row.id, (0, 0, 0))
        if not row.active and not days:
            continue
        found = rate(planned, down)
        groups.append(
            UptimeGroup(
                key=device_key(row),
                device_id=row.id,
                facility_code=row.facility_code,
                modality=row.modality,
                days=days,
                planned_minutes=planned,
                downtime_minutes=down,
                rate=found,
                flagged=found is not None and found < UPTIME_THRESHOLD,
            )
        )
    audit.record(
        session,
        principal,
        action,
        details={"from": start.isoformat(), "to": end.isoformat(), "devices": len(groups)},
    )
    return UptimeOut(period_start=start, period_end=end, threshold=UPTIME_THRESHOLD, groups=groups)


@dataclass(frozen=True)
class DeviceFacts:
    """What matching a study needs of a device (no ORM object leaves the registry)."""

    id: int
    facility_id: int
    modality: str
    label: str
    serial_number: str
    station_name: str | None
    ae_title: str | None
    national_device_id: str | None
    active: bool
    exempt: bool


def facility_devices(session: Session, facility_id: int) -> list[DeviceFacts]:
    """A facility's devices, for matching its studies (the caller checked its access)."""
    rows = session.scalars(
        select(Device)
        .options(joinedload(Device.exemption))
        .where(Device.facility_id == facility_id)
        .order_by(Device.id)
    ).unique()
    return [
        DeviceFacts(
            r.id,
            r.facility_id,
            r.modality,
            r.label,
            r.serial_number,
            r.station_name,
            r.ae_title,
            r.national_device_id,
            r.active,
            r.exemption is not None,
        )
        for r in rows
    ]


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.strip().casefold() == b.strip().casefold()  # type: ignore[union-attr]


def match(
    devices: Sequence[DeviceFacts],
    *,
    modalities: Iterable[str],
    serial: str | None = None,
    station: str | None = None,
    calling_aes: Iterable[str] = (),
) -> DeviceFacts | None:
    """The device a study came from: by the serial number its dose document names, else its
    station name, else the calling AE title it arrived with when exactly one device of the
    study's modality sends with that title (a PACS proxy sends for many)."""
    for device in devices:
        if _same(device.serial_number, serial):
            return device
    for device in devices:
        if _same(device.station_name, station):
            return device
    wanted = set(modalities)
    aes = [a for a in calling_aes if a]
    found = [d for d in devices if d.modality in wanted and any(_same(d.ae_title, a) for a in aes)]
    return found[0] if len(found) == 1 else None
