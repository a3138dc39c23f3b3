"""Imaging reports: the radiologist's signed report of a study

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 02:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('imaging_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('impression', sa.Text(), nullable=False),
    sa.Column('critical', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'signed', name='reportstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_imaging_report_author_id_user_account')),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_imaging_report_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imaging_report')),
    sa.UniqueConstraint('study_id', name=op.f('uq_imaging_report_study_id'))
    )
    op.create_index(op.f('ix_imaging_report_author_id'), 'imaging_report', ['author_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_imaging_report_author_id'), table_name='imaging_report')
    op.drop_table('imaging_report')
