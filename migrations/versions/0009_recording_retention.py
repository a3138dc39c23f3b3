"""Recordings deleted by retention keep their row (deleted_at), like imaging instances

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 04:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('video_recording') as batch:
        batch.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f('ix_video_recording_retain_until'), ['retain_until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('video_recording') as batch:
        batch.drop_index(batch.f('ix_video_recording_retain_until'))
        batch.drop_column('deleted_at')
