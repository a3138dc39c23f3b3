"""Organisation tree: country → macro-region → university → facility; specialties; insurers."""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Model, value_enum


class FacilityKind(enum.Enum):
    HEALTH_HOUSE = "health_house"
    HEALTH_POST = "health_post"
    COMPREHENSIVE_HEALTH_CENTRE = "comprehensive_health_centre"
    HOSPITAL = "hospital"
    IMAGING_CENTRE = "imaging_centre"
    VIRTUAL_CLINIC = "virtual_clinic"


class InsurerKind(enum.Enum):
    BASIC = "basic"
    SUPPLEMENTARY = "supplementary"


class Country(Model):
    __tablename__ = "country"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(2), unique=True)  # ISO 3166-1 alpha-2
    name: Mapped[str] = mapped_column(String(120))
    regions: Mapped[list[MacroRegion]] = relationship(back_populates="country")


class MacroRegion(Model):
    __tablename__ = "macro_region"
    __table_args__ = (CheckConstraint("number BETWEEN 1 AND 10", name="number_range"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(120))
    country_id: Mapped[int] = mapped_column(ForeignKey("country.id"), index=True)
    country: Mapped[Country] = relationship(back_populates="regions")
    universities: Mapped[list[University]] = relationship(back_populates="region")


class University(Model):
    __tablename__ = "university"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"), index=True)
    region: Mapped[MacroRegion] = relationship(back_populates="universities")
    facilities: Mapped[list[Facility]] = relationship(back_populates="university")


class Facility(Model):
    __tablename__ = "facility"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[FacilityKind] = mapped_column(value_enum(FacilityKind))
    level: Mapped[int]
    # Independent virtual clinics belong to a region but to no university (SEEDS 001 step 4).
    university_id: Mapped[int | None] = mapped_column(ForeignKey("university.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("macro_region.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    university: Mapped[University | None] = relationship(back_populates="facilities")
    region: Mapped[MacroRegion] = relationship()


class Specialty(Model):
    __tablename__ = "specialty"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))


class Insurer(Model):
    __tablename__ = "insurer"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InsurerKind] = mapped_column(value_enum(InsurerKind))
