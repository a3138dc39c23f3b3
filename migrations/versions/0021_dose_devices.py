"""Dose: device registry, exemptions and exam-type mapping

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imaging_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("modality", sa.String(length=8), nullable=False),
        sa.Column("manufacturer", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=False),
        sa.Column("station_name", sa.String(length=64), nullable=True),
        sa.Column("ae_title", sa.String(length=16), nullable=True),
        sa.Column("national_device_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_imaging_device_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_device")),
        sa.UniqueConstraint(
            "facility_id", "serial_number", name=op.f("uq_imaging_device_facility_id")
        ),
        sa.UniqueConstraint(
            "national_device_id", name=op.f("uq_imaging_device_national_device_id")
        ),
    )
    op.create_index(
        op.f("ix_imaging_device_facility_id"), "imaging_device", ["facility_id"], unique=False
    )
    op.create_table(
        "imaging_device_exemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["imaging_device.id"],
            name=op.f("fk_imaging_device_exemption_device_id_imaging_device"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["user_account.id"],
            name=op.f("fk_imaging_device_exemption_granted_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_device_exemption")),
        sa.UniqueConstraint("device_id", name=op.f("uq_imaging_device_exemption_device_id")),
    )
    op.create_table(
        "imaging_device_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("planned_minutes", sa.Integer(), nullable=False),
        sa.Column("downtime_minutes", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["imaging_device.id"],
            name=op.f("fk_imaging_device_log_device_id_imaging_device"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_imaging_device_log_recorded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_device_log")),
        sa.UniqueConstraint("device_id", "day", name=op.f("uq_imaging_device_log_device_id")),
    )
    op.create_index(
        op.f("ix_imaging_device_log_device_id"), "imaging_device_log", ["device_id"], unique=False
    )
    op.create_table(
        "dose_exam_type_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(length=64), nullable=False),
        sa.Column("exam_type", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_dose_exam_type_rule_facility_id_facility"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_dose_exam_type_rule_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_exam_type_rule")),
        sa.UniqueConstraint(
            "facility_id", "pattern", name=op.f("uq_dose_exam_type_rule_facility_id")
        ),
    )
    op.create_index(
        op.f("ix_dose_exam_type_rule_facility_id"),
        "dose_exam_type_rule",
        ["facility_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dose_exam_type_rule_facility_id"), table_name="dose_exam_type_rule")
    op.drop_table("dose_exam_type_rule")
    op.drop_index(op.f("ix_imaging_device_log_device_id"), table_name="imaging_device_log")
    op.drop_table("imaging_device_log")
    op.drop_table("imaging_device_exemption")
    op.drop_index(op.f("ix_imaging_device_facility_id"), table_name="imaging_device")
    op.drop_table("imaging_device")
