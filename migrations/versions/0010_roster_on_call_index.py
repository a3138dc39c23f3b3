"""Routing's on-call lookup is keyed on a shift's end, so past shifts are never scanned;
a specialist's open cases are counted from one index

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 05:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_roster_shift_window', table_name='roster_shift')
    op.create_index(
        'ix_roster_shift_on_call',
        'roster_shift',
        ['specialty_id', 'ends_at'],
        unique=False,
        postgresql_include=['starts_at', 'specialist_id', 'facility_id'],
    )
    op.drop_index('ix_consult_assigned_to_id', table_name='consult')
    op.create_index(
        'ix_consult_assigned_to_status', 'consult', ['assigned_to_id', 'status'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_consult_assigned_to_status', table_name='consult')
    op.create_index('ix_consult_assigned_to_id', 'consult', ['assigned_to_id'], unique=False)
    op.drop_index('ix_roster_shift_on_call', table_name='roster_shift')
    op.create_index(
        'ix_roster_shift_window',
        'roster_shift',
        ['specialty_id', 'starts_at', 'ends_at'],
        unique=False,
    )
