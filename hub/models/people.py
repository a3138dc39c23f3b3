"""Staff accounts and their roles; each account is bound to a facility, a region or an insurer."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Model, utcnow, value_enum
from hub.models.org import Facility, Insurer, MacroRegion, Specialty


class Role(enum.Enum):
    CHW = "chw"
    NURSE = "nurse"
    GP = "gp"
    SPECIALIST = "specialist"
    RADIOLOGIST = "radiologist"
    COMMAND = "command"
    INSURER = "insurer"
    FACILITY_ADMIN = "facility_admin"
    QA_PHYSICIAN = "qa_physician"
    NATIONAL_ADMIN = "national_admin"


user_specialty = Table(
    "user_specialty",
    Model.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("specialty_id", ForeignKey("specialty.id"), primary_key=True),
)


class User(Model):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    licence_number: Mapped[str | None] = mapped_column(String(64))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("macro_region.id"), index=True)
    insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurer.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    facility: Mapped[Facility | None] = relationship()
    region: Mapped[MacroRegion | None] = relationship()
    insurer: Mapped[Insurer | None] = relationship()
    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    specialties: Mapped[list[Specialty]] = relationship(secondary=user_specialty, lazy="selectin")

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.roles)


class UserRole(Model):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(value_enum(Role))
    user: Mapped[User] = relationship(back_populates="roles")
