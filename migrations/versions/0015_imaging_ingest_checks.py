"""Imaging ingest checks: what was wrong with an instance as received (its problems, shown on
its study), and the quarantine of objects kept aside for a person (a second object under a
stored SOP Instance UID with other content)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('dicom_instance') as batch:
        batch.add_column(sa.Column('problems', sa.String(length=255), nullable=True))
    op.create_table(
        'dicom_quarantine',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(
            'reason',
            sa.Enum(
                'duplicate_differs',
                name='quarantinereason',
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column('facility_id', sa.Integer(), nullable=False),
        sa.Column(
            'instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True
        ),
        sa.Column('sop_instance_uid', sa.String(length=64), nullable=False),
        sa.Column('study_instance_uid', sa.String(length=64), nullable=False),
        sa.Column('calling_ae', sa.String(length=16), nullable=False),
        sa.Column('path', sa.String(length=255), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['facility_id'], ['facility.id'], name=op.f('fk_dicom_quarantine_facility_id_facility')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_quarantine')),
    )
    with op.batch_alter_table('dicom_quarantine') as batch:
        batch.create_index(batch.f('ix_dicom_quarantine_facility_id'), ['facility_id'])
        batch.create_index(batch.f('ix_dicom_quarantine_sop_instance_uid'), ['sop_instance_uid'])


def downgrade() -> None:
    with op.batch_alter_table('dicom_quarantine') as batch:
        batch.drop_index(batch.f('ix_dicom_quarantine_sop_instance_uid'))
        batch.drop_index(batch.f('ix_dicom_quarantine_facility_id'))
    op.drop_table('dicom_quarantine')
    with op.batch_alter_table('dicom_instance') as batch:
        batch.drop_column('problems')
