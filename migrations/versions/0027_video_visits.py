"""Referral: a virtual appointment's visit held as a video session (through a video-mode
consult opened for the visit)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visit_consult_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("video_session_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_appointment_visit_consult_id", ["visit_consult_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_visit_consult_id")
        batch_op.drop_column("video_session_id")
        batch_op.drop_column("visit_consult_id")
