"""Teleradiology: reading sites, technicians, requests, critical results and their timeline

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 20:10:03.558955
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reading_critical_window",
        sa.Column("category", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ack_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_reading_critical_window")),
    )
    op.create_table(
        "reading_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("licensed", sa.Boolean(), nullable=False),
        sa.Column("licence_number", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_reading_site_facility_id_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_site")),
        sa.UniqueConstraint("facility_id", name=op.f("uq_reading_site_facility_id")),
    )
    op.create_table(
        "reading_technician",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_reading_technician_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_technician")),
        sa.UniqueConstraint("facility_id", "name", name=op.f("uq_reading_technician_facility_id")),
    )
    with op.batch_alter_table("reading_technician", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_technician_facility_id"), ["facility_id"], unique=False
        )

    op.create_table(
        "reading_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "urgency",
            sa.Enum(
                "routine",
                "urgent",
                "emergency",
                name="urgency",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("clinical_question", sa.Text(), nullable=False),
        sa.Column("technician", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "in_progress",
                "completed",
                "cancelled",
                name="readingstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("candidate_ids", sa.JSON(), nullable=False),
        sa.Column("routing_trace", sa.JSON(), nullable=False),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["user_account.id"],
            name=op.f("fk_reading_request_assigned_to_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facility.id"], name=op.f("fk_reading_request_facility_id_facility")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_reading_request_requested_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["dicom_study.id"], name=op.f("fk_reading_request_study_id_dicom_study")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_request")),
    )
    with op.batch_alter_table("reading_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_request_assigned_to_id"), ["assigned_to_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reading_request_facility_id"), ["facility_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reading_request_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_reading_request_study_id"), ["study_id"], unique=False)

    op.create_table(
        "reading_critical_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("finding", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "acknowledged",
                "escalated",
                name="criticalstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("raised_by_id", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_method", sa.String(length=32), nullable=True),
        sa.Column("read_back", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["user_account.id"],
            name=op.f("fk_reading_critical_result_acknowledged_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_id"],
            ["user_account.id"],
            name=op.f("fk_reading_critical_result_raised_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["reading_request.id"],
            name=op.f("fk_reading_critical_result_request_id_reading_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_critical_result")),
    )
    with op.batch_alter_table("reading_critical_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_critical_result_next_escalation_at"),
            ["next_escalation_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reading_critical_result_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reading_critical_result_status"), ["status"], unique=False
        )

    op.create_table(
        "reading_critical_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_reading_critical_event_actor_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["reading_critical_result.id"],
            name=op.f("fk_reading_critical_event_result_id_reading_critical_result"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_critical_event")),
    )
    with op.batch_alter_table("reading_critical_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_critical_event_result_id"), ["result_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reading_critical_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_critical_event_result_id"))

    op.drop_table("reading_critical_event")
    with op.batch_alter_table("reading_critical_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_critical_result_status"))
        batch_op.drop_index(batch_op.f("ix_reading_critical_result_request_id"))
        batch_op.drop_index(batch_op.f("ix_reading_critical_result_next_escalation_at"))

    op.drop_table("reading_critical_result")
    with op.batch_alter_table("reading_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_request_study_id"))
        batch_op.drop_index(batch_op.f("ix_reading_request_status"))
        batch_op.drop_index(batch_op.f("ix_reading_request_facility_id"))
        batch_op.drop_index(batch_op.f("ix_reading_request_assigned_to_id"))

    op.drop_table("reading_request")
    with op.batch_alter_table("reading_technician", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_technician_facility_id"))

    op.drop_table("reading_technician")
    op.drop_table("reading_site")
    op.drop_table("reading_critical_window")
