"""The command centre's monitoring tables: alerts that stay until taken, the nightly progress
snapshots, and the signed progress-report exports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import MacroRegion, User
from hub.models.base import Model, utcnow


class CommandAlert(Model):
    """An SLA breach or escalation that reached the region's command staff; it stays open
    until one of them takes it (who and when kept)."""

    __tablename__ = "command_alert"
    __table_args__ = (UniqueConstraint("kind", "subject_type", "subject_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int]
    detail: Mapped[str | None] = mapped_column(String(40))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    taken_at: Mapped[datetime | None]
    region: Mapped[MacroRegion] = relationship()
    taken_by: Mapped[User | None] = relationship()


class ProgressSnapshot(Model):
    """One day's progress figures of a macro-region or a university, kept by the nightly job."""

    __tablename__ = "progress_snapshot"
    __table_args__ = (UniqueConstraint("day", "scope_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(index=True)
    scope_key: Mapped[str] = mapped_column(String(48))  # "region:<id>" or "university:<id>"
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"), index=True)
    university_id: Mapped[int | None] = mapped_column(ForeignKey("university.id"))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProgressExport(Model):
    """A signed PDF of a progress report: who asked, for which place and period, and the
    seal certificate that signed it (so an export can be traced back from its signature)."""

    __tablename__ = "progress_export"
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("macro_region.id"))  # None: national
    period_from: Mapped[date]
    period_to: Mapped[date]
    locale: Mapped[str] = mapped_column(String(8))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    certificate_serial: Mapped[str] = mapped_column(String(40))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
