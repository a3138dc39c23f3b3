"""The dose index: each dose document received (read or refused, with why), its irradiation
events (each counted once per Irradiation Event UID), the study's sending to the national dose
node, and the diagnostic reference levels."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Model, utcnow, value_enum

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class ReportState(enum.Enum):
    READ = "read"
    REFUSED = "refused"  # stored as an instance, but its dose could not be read (``reason``)


class NodeState(enum.Enum):
    """A study's dose objects on their way to the national dose node."""

    LOCAL = "local"  # queued: nothing delivered yet
    SENT = "sent"  # some objects delivered, the rest under way
    ACCEPTED = "accepted"  # the node answered success for the dose SRs and the KOS
    REFUSED = "refused"  # the node refused an object: its status and comment are kept


class DoseReport(Model):
    """One dose document of a study, with its accumulated totals in the hub's units.

    ``counted_*`` are what the document adds to its study: its totals when none of its events
    was already counted from another document, else the sum over its new events only.
    """

    __tablename__ = "dose_report"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(_BIG_ID, ForeignKey("dicom_instance.id"), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[ReportState] = mapped_column(value_enum(ReportState))
    reason: Mapped[str | None] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(8), default="")
    modality: Mapped[str] = mapped_column(String(8), default="")
    manufacturer: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial: Mapped[str | None] = mapped_column(String(64))
    station: Mapped[str | None] = mapped_column(String(64))
    events_declared: Mapped[int | None]
    ct_dlp_mgycm: Mapped[float | None] = mapped_column(Float)
    dap_gym2: Mapped[float | None] = mapped_column(Float)
    agd_mgy: Mapped[float | None] = mapped_column(Float)
    dose_rp_gy: Mapped[float | None] = mapped_column(Float)
    fluoro_time_s: Mapped[float | None] = mapped_column(Float)
    counted_ct_dlp_mgycm: Mapped[float | None] = mapped_column(Float)
    counted_dap_gym2: Mapped[float | None] = mapped_column(Float)
    counted_agd_mgy: Mapped[float | None] = mapped_column(Float)
    counted_dose_rp_gy: Mapped[float | None] = mapped_column(Float)
    duplicate_events: Mapped[int] = mapped_column(default=0)
    problems: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DoseEvent(Model):
    """One irradiation event, stored once whichever document of the study named it first."""

    __tablename__ = "dose_event"
    # Per study: a UID reused by another study's device is that study's own event.
    __table_args__ = (UniqueConstraint("study_id", "irradiation_event_uid"),)
    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("dose_report.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    # Null when the document gave none: such an event cannot be matched, so it is kept.
    irradiation_event_uid: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    started: Mapped[str | None] = mapped_column(String(32))
    protocol: Mapped[str | None] = mapped_column(String(255))
    target_region: Mapped[str | None] = mapped_column(String(128))
    target_region_code: Mapped[str | None] = mapped_column(String(64))
    acquisition_type: Mapped[str | None] = mapped_column(String(64))
    ctdivol_mgy: Mapped[float | None] = mapped_column(Float)
    dlp_mgycm: Mapped[float | None] = mapped_column(Float)
    phantom: Mapped[str | None] = mapped_column(String(64))
    ssde_mgy: Mapped[float | None] = mapped_column(Float)
    dap_gym2: Mapped[float | None] = mapped_column(Float)
    dose_rp_gy: Mapped[float | None] = mapped_column(Float)
    agd_mgy: Mapped[float | None] = mapped_column(Float)
    exposure_time_s: Mapped[float | None] = mapped_column(Float)
    laterality: Mapped[str | None] = mapped_column(String(8))
    fluoroscopy: Mapped[bool] = mapped_column(default=False)
    dose_check: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class NodeSend(Model):
    """A study's dose SRs and KOS sent to ``HUB_NATIONAL_DOSE_NODE`` through the outbox."""

    __tablename__ = "dose_node_send"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), unique=True)
    state: Mapped[NodeState] = mapped_column(value_enum(NodeState))
    # The KOS's UIDs are fixed when the study is first queued, so a resend is the same object.
    kos_sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    kos_series_instance_uid: Mapped[str] = mapped_column(String(64))
    # SOP Instance UIDs the node has answered success for (never sent again).
    delivered: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]


class ReferenceLevel(Model):
    """A diagnostic reference level for an exam type and quantity: national when
    ``facility_id`` is null, else the facility's local level."""

    __tablename__ = "dose_reference_level"
    __table_args__ = (UniqueConstraint("exam_type", "quantity", "facility_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    exam_type: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str] = mapped_column(String(8))
    # ctdivol_mgy | dlp_mgycm | dap_gym2 | agd_mgy
    quantity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExamTypeRule(Model):
    """A facility's own mapping of a study or protocol description to an exam type, tried
    before the built-in rules of :mod:`imaging.dose.reference`. ``pattern`` is matched as
    words anywhere in the description, case and accents as written aside."""

    __tablename__ = "dose_exam_type_rule"
    __table_args__ = (UniqueConstraint("facility_id", "pattern"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    pattern: Mapped[str] = mapped_column(String(64))
    # One of reference.EXAM_TYPES, or "unclassified" to keep matching exams out of the levels.
    exam_type: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
