"""The study index (patient → study → series → instance), the calling-AE registry, the
forwarding outbox to the central archive, and links to images."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import Facility, Patient
from hub.models.base import Model, utcnow, value_enum


class AeKind(enum.Enum):
    MODALITY = "modality"
    PACS_PROXY = "pacs_proxy"  # a facility's local segment forwarding to the hub (SEEDS 002)


class ForwardState(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanently: the archive refused the instance itself


class InstanceKind(enum.Enum):
    """What retention counts an instance as (SEEDS 000: images 5 years, reports 10)."""

    IMAGE = "image"
    REPORT = "report"


# The outbox topic of studies that arrived from a title wanting reading (node -> reading).
AUTO_READING_TOPIC = "imaging.auto_reading"


class CallingAe(Model):
    """A calling AE title allowed to associate, and the facility it speaks for."""

    __tablename__ = "dicom_calling_ae"
    id: Mapped[int] = mapped_column(primary_key=True)
    ae_title: Mapped[str] = mapped_column(String(16), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    kind: Mapped[AeKind] = mapped_column(value_enum(AeKind))
    # Studies from this title are sent for teleradiology reading on arrival, at this urgency
    # (routine, urgent, emergency); None: only when someone sends them.
    reading_urgency: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    facility: Mapped[Facility] = relationship()


class PatientKey(Model):
    """A facility's PatientID (with its issuer) mapped to the hub's real-name patient."""

    __tablename__ = "dicom_patient_key"
    __table_args__ = (UniqueConstraint("facility_id", "issuer", "dicom_patient_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    issuer: Mapped[str] = mapped_column(String(64), default="")
    dicom_patient_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Study(Model):
    __tablename__ = "dicom_study"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    # Null until the facility's PatientID is mapped to a hub patient.
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    dicom_patient_id: Mapped[str] = mapped_column(String(64), default="")
    issuer: Mapped[str] = mapped_column(String(64), default="")
    dicom_patient_name: Mapped[str] = mapped_column(String(200), default="")
    dicom_birth_date: Mapped[str] = mapped_column(String(8), default="")
    dicom_sex: Mapped[str] = mapped_column(String(16), default="")
    study_date: Mapped[date | None]
    study_time: Mapped[str] = mapped_column(String(16), default="")
    accession_number: Mapped[str] = mapped_column(String(16), default="")
    study_id: Mapped[str] = mapped_column(String(16), default="")
    description: Mapped[str] = mapped_column(String(64), default="")
    referring_physician: Mapped[str] = mapped_column(String(200), default="")
    urgent: Mapped[bool] = mapped_column(default=False)
    legal_hold: Mapped[bool] = mapped_column(default=False)
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    facility: Mapped[Facility] = relationship()
    patient: Mapped[Patient | None] = relationship()
    series: Mapped[list[Series]] = relationship(
        back_populates="study", order_by="Series.series_number"
    )


class Series(Model):
    __tablename__ = "dicom_series"
    id: Mapped[int] = mapped_column(primary_key=True)
    series_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    modality: Mapped[str] = mapped_column(String(16), default="")
    series_number: Mapped[int | None]
    description: Mapped[str] = mapped_column(String(64), default="")
    body_part: Mapped[str] = mapped_column(String(16), default="")
    study: Mapped[Study] = relationship(back_populates="series")


class Instance(Model):
    __tablename__ = "dicom_instance"
    __table_args__ = (Index("ix_dicom_instance_series_number", "series_id", "instance_number"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    transfer_syntax_uid: Mapped[str] = mapped_column(String(64))
    series_id: Mapped[int] = mapped_column(ForeignKey("dicom_series.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    instance_number: Mapped[int | None]
    kind: Mapped[InstanceKind] = mapped_column(value_enum(InstanceKind))
    frames: Mapped[int] = mapped_column(default=1)
    size: Mapped[int] = mapped_column(BigInteger)
    # Relative to the storage directory; None once retention deleted the file.
    path: Mapped[str | None] = mapped_column(String(255))
    calling_ae: Mapped[str] = mapped_column(String(16), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    # What was wrong with the instance as received (``imaging.dicom.checks``), codes separated
    # by spaces, e.g. ``frames_exceed_pixel_data``; None when nothing was. Shown on its study.
    problems: Mapped[str | None] = mapped_column(String(255))


class QuarantineReason(enum.Enum):
    # A second object under a SOP Instance UID already stored, with other content.
    DUPLICATE_DIFFERS = "duplicate_differs"


class Quarantined(Model):
    """An object kept aside for a person to look at, never indexed as an instance."""

    __tablename__ = "dicom_quarantine"
    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[QuarantineReason] = mapped_column(value_enum(QuarantineReason))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    # The indexed instance it collided with (no foreign key: retention may remove that row
    # while this one waits for a person).
    instance_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    sop_instance_uid: Mapped[str] = mapped_column(String(64), index=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    calling_ae: Mapped[str] = mapped_column(String(16), default="")
    # Relative to the storage directory, under ``quarantine/``.
    path: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class ForwardItem(Model):
    """Per-instance transactional outbox to the central archive, written with the instance."""

    __tablename__ = "dicom_forward"
    __table_args__ = (Index("ix_dicom_forward_due", "state", "available_at"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    instance_id: Mapped[int] = mapped_column(ForeignKey("dicom_instance.id"), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    urgent: Mapped[bool] = mapped_column(default=False)
    state: Mapped[ForwardState] = mapped_column(value_enum(ForwardState))
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A worker leases rows while it sends them; a lease left by a crashed worker expires.
    leased_until: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    # Sends whose outcome was never recorded (worker lost mid-send) and were sent again: the
    # archive ignores a duplicate SOP Instance UID, so each is a harmless duplicate, counted here.
    resent: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class ImageLink(Model):
    """A signed, expiring, revocable link to a study's images; only its digest is stored."""

    __tablename__ = "dicom_image_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opens: Mapped[int] = mapped_column(default=0)
    study: Mapped[Study] = relationship()

    @property
    def live(self) -> bool:
        """Neither revoked nor expired: opening it shows the images."""
        return self.revoked_at is None and self.expires_at > utcnow()


class StudyConsult(Model):
    """A study attached to a consult (the consult's images); the study stays the patient's."""

    __tablename__ = "dicom_study_consult"
    __table_args__ = (UniqueConstraint("study_id", "consult_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consult.id"), index=True)
    attached_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    attached_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportStatus(enum.Enum):
    DRAFT = "draft"
    SIGNED = "signed"


class ImagingReport(Model):
    """One version of the radiologist's report of a study; signed once, then never changed
    (kept 10 years). An amendment is a new version: the signed original stays as it was and is
    shown as superseded."""

    __tablename__ = "imaging_report"
    __table_args__ = (
        UniqueConstraint("study_id", "version", name="uq_imaging_report_study_id_version"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("dicom_study.id"), index=True)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The signed version this one amends, and why; None for the first version.
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("imaging_report.id"))
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    findings: Mapped[str] = mapped_column(Text)
    impression: Mapped[str] = mapped_column(Text)
    critical: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ReportStatus] = mapped_column(value_enum(ReportStatus))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_at: Mapped[datetime | None]
    study: Mapped[Study] = relationship()
