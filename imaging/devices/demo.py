"""Demo data: health post A's CT (the DEMOPOST modality) registered with its national device
id and two weeks of operating logs, and Hospital 2A's mammography unit, exempt from dose data."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Facility, utcnow
from imaging.devices.models import Device, DoseExemption, OperatingLog

# facility, modality, manufacturer, model, serial, station, AE title, national device id
DEMO_DEVICES = (
    (
        "HP-A",
        "CT",
        "DemoVendor",
        "Demo CT 16",
        "HPA-CT-0001",
        "HPA-CT1",
        "DEMOPOST",
        "IR-CT-000123",
    ),
    (
        "HOSP-2A",
        "MG",
        "DemoVendor",
        "Demo Mammo 2D",
        "H2A-MG-0001",
        "H2A-MG1",
        None,
        "IR-MG-000456",
    ),
)
EXEMPT = {
    "H2A-MG-0001": (
        "Computed-radiography mammography unit installed before dose structured reports: it "
        "writes no RDSR and no dose in the image headers. Replacement is planned."
    )
}
LOG_DAYS = 14
PLANNED = 480  # an eight-hour operating day
# Days back from today with downtime, and why.
DOWNTIME = {3: (90, "Tube warm-up fault, service engineer on site"), 8: (30, "Power cut")}


def seed_devices(session: Session) -> None:
    for code, modality, maker, model, serial, station, ae, national in DEMO_DEVICES:
        facility = session.scalar(select(Facility).where(Facility.code == code))
        if facility is None:
            continue
        device = session.scalar(
            select(Device).where(Device.facility_id == facility.id, Device.serial_number == serial)
        )
        if device is None:
            device = Device(
                facility_id=facility.id,
                modality=modality,
                manufacturer=maker,
                model=model,
                serial_number=serial,
                station_name=station,
                ae_title=ae,
                national_device_id=national,
            )
            session.add(device)
            session.flush()
        if serial in EXEMPT and device.exemption is None:
            session.add(
                DoseExemption(
                    device_id=device.id, serial_number=serial, justification=EXEMPT[serial]
                )
            )
        has_logs = session.scalar(
            select(OperatingLog.id).where(OperatingLog.device_id == device.id)
        )
        if modality == "CT" and has_logs is None:
            today = utcnow().date()
            for back in range(1, LOG_DAYS + 1):
                down, note = DOWNTIME.get(back, (0, None))
                session.add(
                    OperatingLog(
                        device_id=device.id,
                        day=today - timedelta(days=back),
                        planned_minutes=PLANNED,
                        downtime_minutes=down,
                        note=note,
                    )
                )
    session.flush()
