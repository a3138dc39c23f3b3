"""Teleradiology: report versions (an amendment is a new version; the signed original is kept),
and studies sent for reading on arrival from an AE title that wants it

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imaging_report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("supersedes_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("amendment_reason", sa.Text(), nullable=True))
        batch_op.drop_constraint("uq_imaging_report_study_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_imaging_report_study_id_version", ["study_id", "version"]
        )
        batch_op.create_index("ix_imaging_report_study_id", ["study_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_imaging_report_supersedes_id_imaging_report",
            "imaging_report",
            ["supersedes_id"],
            ["id"],
        )
    with op.batch_alter_table("dicom_calling_ae", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reading_urgency", sa.String(length=16), nullable=True))
    with op.batch_alter_table("reading_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_by_ae", sa.String(length=16), nullable=True))
        batch_op.alter_column("requested_by_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("reading_request", schema=None) as batch_op:
        batch_op.alter_column("requested_by_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("sent_by_ae")
    with op.batch_alter_table("dicom_calling_ae", schema=None) as batch_op:
        batch_op.drop_column("reading_urgency")
    with op.batch_alter_table("imaging_report", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_imaging_report_supersedes_id_imaging_report", type_="foreignkey"
        )
        batch_op.drop_index("ix_imaging_report_study_id")
        batch_op.drop_constraint("uq_imaging_report_study_id_version", type_="unique")
        batch_op.create_unique_constraint("uq_imaging_report_study_id", ["study_id"])
        batch_op.drop_column("amendment_reason")
        batch_op.drop_column("supersedes_id")
        batch_op.drop_column("version")
