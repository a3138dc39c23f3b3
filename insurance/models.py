"""Insurance tables: tariff schedules, insurer contracts and their coverage, billing records
(claims), the per-insurer export queue, insurer pulls and reconciliations.

Money is always an integer count of the schedule's minor unit (``*_minor`` columns), never a float.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models import Facility, Insurer, Patient
from hub.models.base import Model, utcnow, value_enum


def _big_pk() -> Any:
    # SQLite auto-increments only an "INTEGER PRIMARY KEY" (its rowid).
    return mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)


class TariffUnit(enum.Enum):
    SERVICE = "service"  # once per service
    MINUTE = "minute"  # per started minute (video)


class ClaimKind(enum.Enum):
    ORIGINAL = "original"
    CREDIT = "credit"  # reverses a record already exported
    REBILL = "rebill"  # the corrected record that replaces it


class ClaimStatus(enum.Enum):
    HELD = "held"  # could not be priced; kept for review with a reason, never exported as is
    READY = "ready"  # priced and released to its insurers


class Decision(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class TariffSchedule(Model):
    """One version of the national tariff: a full list of component prices from a date on."""

    __tablename__ = "tariff_schedule"
    __table_args__ = (
        UniqueConstraint("effective_from"),
        CheckConstraint("minor_unit BETWEEN 0 AND 4", name="minor_unit_range"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    minor_unit: Mapped[int]  # decimal places of the currency's minor unit, stated by the upload
    effective_from: Mapped[date]
    source_sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    items: Mapped[list[TariffItem]] = relationship(
        back_populates="schedule", order_by="TariffItem.component"
    )


class TariffItem(Model):
    __tablename__ = "tariff_item"
    __table_args__ = (
        UniqueConstraint("schedule_id", "component"),
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("tariff_schedule.id"), index=True)
    component: Mapped[str] = mapped_column(String(80))
    unit: Mapped[TariffUnit] = mapped_column(value_enum(TariffUnit))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(200), default="")
    schedule: Mapped[TariffSchedule] = relationship(back_populates="items")


class Contract(Model):
    """An insurer's contract covering one facility (or virtual clinic), or every facility."""

    __tablename__ = "insurance_contract"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    insurer: Mapped[Insurer] = relationship()
    facility: Mapped[Facility | None] = relationship()
    coverages: Mapped[list[Coverage]] = relationship(back_populates="contract")


class Coverage(Model):
    """What a contract pays of a component: ``coverage_bp`` basis points (10000 = 100 %) of the
    line, less a copay, up to a cap per line. ``component`` is a code, a prefix ending in ``*``
    (``consult:*``) or ``*``; the most specific match wins."""

    __tablename__ = "insurance_coverage"
    __table_args__ = (
        UniqueConstraint("contract_id", "component"),
        CheckConstraint("coverage_bp BETWEEN 0 AND 10000", name="coverage_range"),
        CheckConstraint("copay_minor >= 0", name="copay_not_negative"),
        CheckConstraint("cap_minor IS NULL OR cap_minor >= 0", name="cap_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("insurance_contract.id"), index=True)
    component: Mapped[str] = mapped_column(String(80))
    coverage_bp: Mapped[int]
    copay_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    cap_minor: Mapped[int | None] = mapped_column(BigInteger)
    contract: Mapped[Contract] = relationship(back_populates="coverages")


class Claim(Model):
    """A billing record of one signed service. Never changed once released to an insurer:
    corrections are new CREDIT / REBILL records pointing at the original."""

    __tablename__ = "insurance_claim"
    __table_args__ = (
        # No second claim for the same service: one original per service, one credit and one
        # rebill per correction round.
        UniqueConstraint(
            "service_type", "service_id", "kind", "revision", name="uq_insurance_claim_service"
        ),
        CheckConstraint(
            "total_minor = basic_minor + supplementary_minor + patient_minor", name="shares_add_up"
        ),
        CheckConstraint("(kind = 'original') = (original_id IS NULL)", name="original_link"),
        Index("ix_insurance_claim_facility_service_at", "facility_id", "service_at"),
    )
    id: Mapped[int] = _big_pk()
    service_type: Mapped[str] = mapped_column(String(32))  # the signed document kind
    service_id: Mapped[int]  # the consult (or report) it bills
    consult_id: Mapped[int | None] = mapped_column(ForeignKey("consult.id"), index=True)
    document_public_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[ClaimKind] = mapped_column(value_enum(ClaimKind))
    revision: Mapped[int] = mapped_column(default=0)
    original_id: Mapped[int | None] = mapped_column(
        BigInteger,
        ForeignKey("insurance_claim.id"),
        index=True,
    )
    status: Mapped[ClaimStatus] = mapped_column(value_enum(ClaimStatus))
    hold_reason: Mapped[str | None] = mapped_column(String(64))
    hold_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"))
    service_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    tariff_schedule_id: Mapped[int | None] = mapped_column(ForeignKey("tariff_schedule.id"))
    currency: Mapped[str] = mapped_column(String(3), default="")
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    basic_insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurer.id"), index=True)
    basic_member_id: Mapped[str | None] = mapped_column(String(64))
    basic_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    supplementary_insurer_id: Mapped[int | None] = mapped_column(
        ForeignKey("insurer.id"), index=True
    )
    supplementary_member_id: Mapped[str | None] = mapped_column(String(64))
    supplementary_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    patient_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Priced lines: [{component, unit, quantity, unit_minor, amount_minor, basic_minor,
    # supplementary_minor, patient_minor}], and the same as one export column.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    components_text: Mapped[str] = mapped_column(Text, default="")
    correction_reason: Mapped[str | None] = mapped_column(Text)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    patient: Mapped[Patient] = relationship()
    facility: Mapped[Facility] = relationship()
    tariff_schedule: Mapped[TariffSchedule | None] = relationship()
    original: Mapped[Claim | None] = relationship(remote_side="Claim.id")


class ClaimRelease(Model):
    """The export queue: a claim becomes visible to an insurer by a row here; the insurer's
    cursor walks these ids in order."""

    __tablename__ = "insurance_claim_release"
    __table_args__ = (
        UniqueConstraint("claim_id", "insurer_id"),
        Index("ix_insurance_claim_release_insurer_seq", "insurer_id", "id"),
    )
    id: Mapped[int] = _big_pk()
    claim_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("insurance_claim.id"))
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"))
    released_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsurerPull(Model):
    """One export pull: which part of the insurer's queue it covered, and the cursor it issued."""

    __tablename__ = "insurance_pull"
    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"), index=True)
    cursor: Mapped[str] = mapped_column(String(64), unique=True)
    after_release_id: Mapped[int] = mapped_column(BigInteger)
    upto_release_id: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(8))
    claims: Mapped[int]
    client_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    pulled_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reconciliation(Model):
    """An insurer's decision on its share of a claim; one per claim and insurer."""

    __tablename__ = "insurance_reconciliation"
    __table_args__ = (UniqueConstraint("claim_id", "insurer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("insurance_claim.id"),
        index=True,
    )
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurer.id"), index=True)
    decision: Mapped[Decision] = mapped_column(value_enum(Decision))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    client_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
