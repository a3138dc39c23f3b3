"""Referral: patient booking links, reminders and virtual-clinic visits

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VISIT_SETTING = sa.Enum(
    "outpatient",
    "inpatient",
    name="visitsetting",
    native_enum=False,
    create_constraint=True,
    length=32,
)
REMINDER_STATUS = sa.Enum(
    "pending",
    "sent",
    "failed",
    "cancelled",
    name="reminderstatus",
    native_enum=False,
    create_constraint=True,
    length=32,
)


def upgrade() -> None:
    # Inpatient or outpatient visit (a remote ward round is an inpatient visit).
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("setting", VISIT_SETTING, nullable=False, server_default="outpatient")
        )
    # A region's waiting-time target per specialty (the row without one is the region's own).
    with op.batch_alter_table("referral_wait_target", schema=None) as batch_op:
        batch_op.drop_constraint("uq_referral_wait_target_region_id", type_="unique")
        batch_op.add_column(sa.Column("specialty_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_referral_wait_target_specialty_id_specialty"),
            "specialty",
            ["specialty_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_referral_wait_target_region_id"), ["region_id", "specialty_id"]
        )
    op.create_table(
        "booking_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_booking_link_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_booking_link_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_booking_link_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_booking_link_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_booking_link_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_booking_link_token_hash")),
    )
    with op.batch_alter_table("booking_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_link_patient_id"), ["patient_id"])
        batch_op.create_index(batch_op.f("ix_booking_link_referral_id"), ["referral_id"])
    op.create_table(
        "appointment_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", REMINDER_STATUS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_appointment_reminder_appointment_id_appointment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_reminder")),
        sa.UniqueConstraint(
            "appointment_id", "lead_minutes", name=op.f("uq_appointment_reminder_appointment_id")
        ),
    )
    with op.batch_alter_table("appointment_reminder", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_reminder_status_due", ["status", "due_at"])


def downgrade() -> None:
    with op.batch_alter_table("appointment_reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_reminder_status_due")
    op.drop_table("appointment_reminder")
    with op.batch_alter_table("booking_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_link_referral_id"))
        batch_op.drop_index(batch_op.f("ix_booking_link_patient_id"))
    op.drop_table("booking_link")
    with op.batch_alter_table("referral_wait_target", schema=None) as batch_op:
        batch_op.drop_constraint("uq_referral_wait_target_region_id", type_="unique")
        batch_op.drop_constraint(
            "fk_referral_wait_target_specialty_id_specialty", type_="foreignkey"
        )
        batch_op.drop_column("specialty_id")
        batch_op.create_unique_constraint("uq_referral_wait_target_region_id", ["region_id"])
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        # The enum's CHECK goes first: SQLite rebuilds the table with what is left.
        batch_op.drop_constraint(batch_op.f("ck_appointment_visitsetting"), type_="check")
        batch_op.drop_column("setting")
