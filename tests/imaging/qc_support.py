"""Builders for the teleradiology quality-control tests: a fresh region (so its figures hold
only the test's own cases), its facilities, radiologists, read studies with signed reports."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hub.models import Facility, MacroRegion, Role, User
from imaging.models import ImagingReport, Instance, InstanceKind, ReportStatus, Series, Study
from imaging.reading.models import ReadingRequest, ReadingStatus, Urgency
from imaging.reading.qc.review import set_experience
from tests.consult.support import bearer
from tests.support import factories as f

_uids = itertools.count(1)


def uid() -> str:
    return f"2.25.{uuid.uuid4().int % 10**30}.{next(_uids)}"


def at(text: str) -> datetime:
    """An instant written ``YYYY-MM-DD HH:MM`` (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Region:
    region: MacroRegion
    facilities: list[Facility]
    clinicians: dict[int, User]  # a GP per facility id
    qa: User
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def region(session: Session, facilities: int = 2) -> Region:
    """A new macro-region with its own facilities, a GP at each and a QA physician."""
    where = f.region(session)
    uni = f.university(session, where)
    places = [f.facility(session, uni) for _ in range(facilities)]
    gps = {p.id: f.user(session, Role.GP, at=p) for p in places}
    qa = f.user(session, Role.QA_PHYSICIAN, region_of=where)
    out = Region(where, places, gps, qa)
    out.headers["qa"] = bearer(session, qa)
    for p in places:
        out.headers[p.code] = bearer(session, gps[p.id])
    return out


def radiologist(session: Session, where: Facility, years: int | None = None) -> User:
    user = f.user(session, Role.RADIOLOGIST, at=where)
    if years is not None:
        set_experience(session, user.id, years)
    return user


def read_study(
    session: Session,
    facility: Facility,
    reader: User,
    requester: User,
    *,
    completed_at: datetime,
    modality: str = "CT",
    device: str = "CT_ROOM_1",
    status: ReadingStatus = ReadingStatus.COMPLETED,
    signed: bool = True,
    received_at: datetime | None = None,
) -> ReadingRequest:
    """A study of ``facility`` read by ``reader``: its request completed at ``completed_at``
    with a signed report then (or still in progress, unsigned)."""
    patient = f.patient(session, facility)
    received = received_at or completed_at - timedelta(hours=2)
    study = Study(
        study_instance_uid=uid(),
        facility_id=facility.id,
        patient_id=patient.id,
        received_at=received,
    )
    session.add(study)
    session.flush()
    series = Series(series_instance_uid=uid(), study_id=study.id, modality=modality)
    session.add(series)
    session.flush()
    session.add(
        Instance(
            sop_instance_uid=uid(),
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
            transfer_syntax_uid="1.2.840.10008.1.2.1",
            series_id=series.id,
            study_id=study.id,
            kind=InstanceKind.IMAGE,
            size=1,
            calling_ae=device,
            received_at=received,
        )
    )
    request = ReadingRequest(
        study_id=study.id,
        facility_id=facility.id,
        requested_by_id=requester.id,
        urgency=Urgency.ROUTINE,
        clinical_question="Cough?",
        technician="Tech",
        status=status,
        candidate_ids=[reader.id],
        routing_trace=[],
        assigned_to_id=reader.id,
        due_at=completed_at + timedelta(days=1),
        created_at=received + timedelta(minutes=30),
        claimed_at=received + timedelta(minutes=40),
        completed_at=completed_at if status is ReadingStatus.COMPLETED else None,
    )
    session.add(request)
    session.add(
        ImagingReport(
            study_id=study.id,
            author_id=reader.id,
            findings="Opacity in the right lower lobe.",
            impression="Pneumonia.",
            status=ReportStatus.SIGNED if signed else ReportStatus.DRAFT,
            signed_at=completed_at if signed else None,
        )
    )
    session.flush()
    return request
