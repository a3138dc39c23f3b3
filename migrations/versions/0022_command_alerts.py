"""Command: persistent alerts and nightly progress snapshots

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "command_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(length=40), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_by_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"], ["macro_region.id"], name=op.f("fk_command_alert_region_id_macro_region")
        ),
        sa.ForeignKeyConstraint(
            ["taken_by_id"],
            ["user_account.id"],
            name=op.f("fk_command_alert_taken_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_alert")),
        sa.UniqueConstraint(
            "kind",
            "subject_type",
            "subject_id",
            name=op.f("uq_command_alert_kind"),
        ),
    )
    op.create_index(op.f("ix_command_alert_region_id"), "command_alert", ["region_id"])
    op.create_index(op.f("ix_command_alert_raised_at"), "command_alert", ["raised_at"])
    op.create_table(
        "progress_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope_key", sa.String(length=48), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("university_id", sa.Integer(), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["macro_region.id"],
            name=op.f("fk_progress_snapshot_region_id_macro_region"),
        ),
        sa.ForeignKeyConstraint(
            ["university_id"],
            ["university.id"],
            name=op.f("fk_progress_snapshot_university_id_university"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_snapshot")),
        sa.UniqueConstraint("day", "scope_key", name=op.f("uq_progress_snapshot_day")),
    )
    op.create_index(op.f("ix_progress_snapshot_day"), "progress_snapshot", ["day"])
    op.create_index(op.f("ix_progress_snapshot_region_id"), "progress_snapshot", ["region_id"])
    op.create_table(
        "progress_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("certificate_serial", sa.String(length=40), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["macro_region.id"],
            name=op.f("fk_progress_export_region_id_macro_region"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_progress_export_requested_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_export")),
    )
    op.create_index(op.f("ix_progress_export_sha256"), "progress_export", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_progress_export_sha256"), table_name="progress_export")
    op.drop_table("progress_export")
    op.drop_index(op.f("ix_progress_snapshot_region_id"), table_name="progress_snapshot")
    op.drop_index(op.f("ix_progress_snapshot_day"), table_name="progress_snapshot")
    op.drop_table("progress_snapshot")
    op.drop_index(op.f("ix_command_alert_raised_at"), table_name="command_alert")
    op.drop_index(op.f("ix_command_alert_region_id"), table_name="command_alert")
    op.drop_table("command_alert")
