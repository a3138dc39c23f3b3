"""Quality-control tables of teleradiology (SEEDS 004): reviewers' experience (who is senior),
follow-up of reports against the final diagnosis, image-quality grades, the weekly senior
peer-review sample and its RADPEER scores, and the signed quarterly high-risk reports."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Model, utcnow, value_enum


class FollowUpSource(enum.Enum):
    PATHOLOGY = "pathology"
    SURGERY = "surgery"
    DISCHARGE = "discharge"


class Agreement(enum.Enum):
    CONCORDANT = "concordant"
    MISSED = "missed"
    MISDIAGNOSED = "misdiagnosed"


class Grade(enum.Enum):
    EXCELLENT = "excellent"
    ACCEPTABLE = "acceptable"
    POOR = "poor"


class Reviewer(Model):
    """A radiologist's years of reporting experience; 10 or more makes them a senior reviewer."""

    __tablename__ = "reading_reviewer"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    years_of_experience: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Model):
    """The final diagnosis a read study was checked against (one per reading request)."""

    __tablename__ = "reading_follow_up"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("reading_request.id"), unique=True)
    source: Mapped[FollowUpSource] = mapped_column(value_enum(FollowUpSource))
    final_diagnosis: Mapped[str] = mapped_column(Text)
    agreement: Mapped[Agreement] = mapped_column(value_enum(Agreement), index=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImageQuality(Model):
    """The reading radiologist's grade of a study's images, with the device that acquired them."""

    __tablename__ = "reading_image_quality"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("reading_request.id"), unique=True)
    grade: Mapped[Grade] = mapped_column(value_enum(Grade), index=True)
    defect: Mapped[str | None] = mapped_column(Text)
    # The sending station as the images said it (the calling AE title): defects are traced
    # back to the acquisition (SEEDS 004).
    device: Mapped[str] = mapped_column(String(64), default="")
    graded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    graded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewWeek(Model):
    """A week whose senior-review sample was drawn: drawing it again changes nothing."""

    __tablename__ = "reading_review_week"
    week: Mapped[str] = mapped_column(String(8), primary_key=True)  # ISO week, 2026-W49
    share_percent: Mapped[int]
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)


class PeerReview(Model):
    """One final report assigned to a senior reviewer, and its RADPEER 2016 score once given."""

    __tablename__ = "reading_peer_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(ForeignKey("reading_review_week.week"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("imaging_report.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(index=True)
    score: Mapped[str | None] = mapped_column(String(2))
    comment: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime | None]
    # When the QA physicians were told it is overdue (once).
    overdue_alerted_at: Mapped[datetime | None]


class QuarterReport(Model):
    """A quarter's high-risk monitoring report, signed as a PDF by a QA physician."""

    __tablename__ = "reading_qc_quarter"
    __table_args__ = (UniqueConstraint("quarter", "region_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    quarter: Mapped[str] = mapped_column(String(7))  # 2026-Q4
    region_id: Mapped[int | None] = mapped_column(ForeignKey("macro_region.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
