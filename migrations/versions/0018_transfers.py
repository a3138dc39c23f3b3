"""Command centre: urgent patient transfers and their timeline

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "pending",
    "on_hold",
    "approved",
    "rejected",
    "destination_approved",
    "destination_rejected",
    "transport_to_be_arranged",
    "patient_to_be_picked_up",
    "in_transit",
    "completed",
    "patient_expired",
    "cancelled",
)


def upgrade() -> None:
    op.create_table(
        "transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("consult_id", sa.Integer(), nullable=True),
        sa.Column("origin_facility_id", sa.Integer(), nullable=False),
        sa.Column("destination_facility_id", sa.Integer(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("distance_km", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                *STATUSES,
                name="transferstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_transfer_patient_id_patient")),
        sa.ForeignKeyConstraint(["origin_facility_id"], ["facility.id"], name=op.f("fk_transfer_origin_facility_id_facility")),
        sa.ForeignKeyConstraint(["destination_facility_id"], ["facility.id"], name=op.f("fk_transfer_destination_facility_id_facility")),
        sa.ForeignKeyConstraint(["region_id"], ["macro_region.id"], name=op.f("fk_transfer_region_id_macro_region")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"], name=op.f("fk_transfer_created_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer")),
    )
    for column in ("patient_id", "consult_id", "origin_facility_id", "destination_facility_id", "region_id", "status"):
        op.create_index(op.f(f"ix_transfer_{column}"), "transfer", [column])
    op.create_table(
        "transfer_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.String(length=40), nullable=True),
        sa.Column("to_status", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfer.id"], name=op.f("fk_transfer_event_transfer_id_transfer")),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"], name=op.f("fk_transfer_event_actor_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_event")),
    )
    op.create_index(op.f("ix_transfer_event_transfer_id"), "transfer_event", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("transfer_event")
    op.drop_table("transfer")
