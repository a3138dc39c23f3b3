"""A facility's dose compliance (SEEDS 003): studies whose dose data did not reach the national
dose node by the deadline, and CT/mammography devices that send studies but no dose data
without being exempt.

A study is matched to a registered device by what the index holds of it: the serial number
and station name its dose documents carry, else the calling AE title its instances came with
(:func:`imaging.devices.services.match`). A study of an exempt device is never late.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from hub.models import Facility, utcnow
from hub.permissions import require
from imaging.devices import services as devices
from imaging.dose.models import DoseReport, NodeSend, NodeState, ReportState
from imaging.models import Instance, Series, Study
from imaging.services import study_visibility

# Modalities whose dose data go to the national node (SEEDS 003), and those that must send it.
DOSE_MODALITIES = frozenset({"CT", "MG", "XA", "DX"})
MUST_SEND = devices.EXEMPTABLE
STUDIES_SCANNED = 2000  # the newest studies of the period a report looks at
UTC_MIDNIGHT = time(0, 0)


@dataclass(frozen=True)
class LateStudy:
    study_instance_uid: str
    patient_id: int | None
    modalities: tuple[str, ...]
    received_at: datetime
    due_at: datetime
    # no_dose (no dose document), local, sent, refused, accepted (but after the deadline),
    # not_configured (no national node is set)
    state: str
    accepted_at: datetime | None
    device: str | None


@dataclass(frozen=True)
class SilentDevice:
    device: devices.DeviceFacts
    studies: int
    last_received_at: datetime


@dataclass(frozen=True)
class UnknownSource:
    """Studies of CT or mammography without dose data from no registered device."""

    ae_title: str
    modality: str
    studies: int


@dataclass
class Compliance:
    facility: Facility | None
    facilities: list[Facility]
    start: date
    end: date
    deadline_hours: int
    node_configured: bool
    studies: int = 0
    late: list[LateStudy] = field(default_factory=list)
    silent: list[SilentDevice] = field(default_factory=list)
    unknown: list[UnknownSource] = field(default_factory=list)


@dataclass
class _Seen:
    study: Study
    modalities: set[str] = field(default_factory=set)
    aes: set[str] = field(default_factory=set)
    serial: str | None = None
    station: str | None = None
    has_dose: bool = False
    node: tuple[NodeState, datetime | None] | None = None


def _gather(session: Session, studies: list[Study]) -> list[_Seen]:
    seen = {s.id: _Seen(s) for s in studies}
    ids = list(seen)
    for study_id, modality in session.execute(
        select(Series.study_id, Series.modality).where(Series.study_id.in_(ids)).distinct()
    ):
        if modality:
            seen[study_id].modalities.add(modality)
    for study_id, ae in session.execute(
        select(Instance.study_id, Instance.calling_ae).where(Instance.study_id.in_(ids)).distinct()
    ):
        if ae:
            seen[study_id].aes.add(ae)
    for study_id, modality, serial, station in session.execute(
        select(DoseReport.study_id, DoseReport.modality, DoseReport.serial, DoseReport.station)
        .where(DoseReport.study_id.in_(ids), DoseReport.state == ReportState.READ)
        .order_by(DoseReport.id)
    ):
        item = seen[study_id]
        if modality:
            item.modalities.add(modality)
        if not item.has_dose:
            item.serial, item.station, item.has_dose = serial, station, True
    for study_id, state, accepted_at in session.execute(
        select(NodeSend.study_id, NodeSend.state, NodeSend.accepted_at).where(
            NodeSend.study_id.in_(ids)
        )
    ):
        seen[study_id].node = (state, accepted_at)
    return list(seen.values())


def _state(item: _Seen, due: datetime, configured: bool) -> tuple[str, datetime | None] | None:
    """Why the study is late, or None when its dose data were accepted in time."""
    if item.node is not None:
        state, accepted_at = item.node
        if state is NodeState.ACCEPTED:
            if accepted_at is not None and accepted_at <= due:
                return None
            return "accepted", accepted_at
        return state.value, None
    if not item.has_dose:
        return "no_dose", None
    return ("local" if configured else "not_configured"), None


def report(
    session: Session,
    principal: Principal,
    settings: ImagingSettings,
    facility_code: str | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    now: datetime | None = None,
) -> Compliance:
    """The facility's late studies and silent devices over the period (by arrival), audited."""
    action = "imaging:dose:compliance_viewed"
    require(principal, "imaging:read", action=action)
    start, end = devices.period(start, end)
    now = now or utcnow()
    facilities = devices.visible_facilities(session, principal)
    facility = next((f for f in facilities if f.code == facility_code), None)
    if facility is None and facility_code is None:
        facility = next((f for f in facilities if f.id == principal.facility_id), None)
        if facility is None and facilities:
            facility = facilities[0]
    deadline = timedelta(hours=settings.dose_report_deadline_hours)
    found = Compliance(
        facility,
        facilities,
        start,
        end,
        settings.dose_report_deadline_hours,
        settings.national_dose_node is not None,
    )
    if facility is None:
        return found
    since = datetime.combine(start, UTC_MIDNIGHT, tzinfo=now.tzinfo)
    until = datetime.combine(end + timedelta(days=1), UTC_MIDNIGHT, tzinfo=now.tzinfo)
    dose_study = (select(Series.study_id).where(Series.modality.in_(DOSE_MODALITIES))).union(
        select(DoseReport.study_id).where(
            DoseReport.modality.in_(DOSE_MODALITIES), DoseReport.state == ReportState.READ
        )
    )
    studies = list(
        session.scalars(
            select(Study)
            .where(
                study_visibility(principal),
                Study.facility_id == facility.id,
                Study.received_at >= since,
                Study.received_at < until,
                Study.id.in_(dose_study),
            )
            .order_by(Study.id.desc())
            .limit(STUDIES_SCANNED)
        )
    )
    registry = devices.facility_devices(session, facility.id)
    per_device: dict[int, list[_Seen]] = defaultdict(list)
    unknown: dict[tuple[str, str], int] = defaultdict(int)
    for item in _gather(session, studies):
        modalities = item.modalities & DOSE_MODALITIES
        device = devices.match(
            registry,
            modalities=modalities,
            serial=item.serial,
            station=item.station,
            calling_aes=item.aes,
        )
        if device is not None:
            per_device[device.id].append(item)
        elif not item.has_dose and modalities & MUST_SEND:
            for ae in sorted(item.aes) or [""]:
                unknown[(ae, sorted(modalities & MUST_SEND)[0])] += 1
        if device is not None and device.exempt:
            continue
        due = item.study.received_at + deadline
        if now <= due:
            continue
        late = _state(item, due, found.node_configured)
        if late is not None:
            found.late.append(
                LateStudy(
                    item.study.study_instance_uid,
                    item.study.patient_id,
                    tuple(sorted(modalities)),
                    item.study.received_at,
                    due,
                    late[0],
                    late[1],
                    device.label if device is not None else None,
                )
            )
    for device in registry:
        items = per_device.get(device.id, [])
        if device.modality not in MUST_SEND or device.exempt or not items:
            continue
        if not any(i.has_dose for i in items):
            found.silent.append(
                SilentDevice(device, len(items), max(i.study.received_at for i in items))
            )
    found.studies = len(studies)
    found.unknown = [UnknownSource(ae, m, n) for (ae, m), n in sorted(unknown.items())]
    found.late.sort(key=lambda s: s.received_at)
    audit.record(
        session,
        principal,
        action,
        object_type="facility",
        object_id=facility.id,
        details={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "late": len(found.late),
            "silent": len(found.silent),
        },
    )
    return found
