"""Imaging: calling AEs, study index, patient keys, forwarding outbox, image links

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 00:10:15.983243
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dicom_calling_ae',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ae_title', sa.String(length=16), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('modality', 'pacs_proxy', name='aekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_dicom_calling_ae_facility_id_facility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_calling_ae')),
    sa.UniqueConstraint('ae_title', name=op.f('uq_dicom_calling_ae_ae_title'))
    )
    with op.batch_alter_table('dicom_calling_ae', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dicom_calling_ae_facility_id'), ['facility_id'], unique=False)

    op.create_table('dicom_patient_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=64), nullable=False),
    sa.Column('dicom_patient_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_dicom_patient_key_facility_id_facility')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_dicom_patient_key_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_patient_key')),
    sa.UniqueConstraint('facility_id', 'issuer', 'dicom_patient_id', name=op.f('uq_dicom_patient_key_facility_id'))
    )
    with op.batch_alter_table('dicom_patient_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dicom_patient_key_patient_id'), ['patient_id'], unique=False)

    op.create_table('dicom_study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('dicom_patient_id', sa.String(length=64), nullable=False),
    sa.Column('issuer', sa.String(length=64), nullable=False),
    sa.Column('dicom_patient_name', sa.String(length=200), nullable=False),
    sa.Column('dicom_birth_date', sa.String(length=8), nullable=False),
    sa.Column('dicom_sex', sa.String(length=16), nullable=False),
    sa.Column('study_date', sa.Date(), nullable=True),
    sa.Column('study_time', sa.String(length=16), nullable=False),
    sa.Column('accession_number', sa.String(length=16), nullable=False),
    sa.Column('study_id', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=64), nullable=False),
    sa.Column('referring_physician', sa.String(length=200), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('legal_hold', sa.Boolean(), nullable=False),
    sa.Column('legal_hold_reason', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_dicom_study_facility_id_facility')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_dicom_study_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_study')),
    sa.UniqueConstraint('study_instance_uid', name=op.f('uq_dicom_study_study_instance_uid'))
    )
    with op.batch_alter_table('dicom_study', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dicom_study_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dicom_study_patient_id'), ['patient_id'], unique=False)

    op.create_table('dicom_image_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('opens', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_dicom_image_link_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['user_account.id'], name=op.f('fk_dicom_image_link_revoked_by_id_user_account')),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dicom_image_link_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_image_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_dicom_image_link_token_hash'))
    )
    with op.batch_alter_table('dicom_image_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dicom_image_link_study_id'), ['study_id'], unique=False)

    op.create_table('dicom_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('modality', sa.String(length=16), nullable=False),
    sa.Column('series_number', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=64), nullable=False),
    sa.Column('body_part', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dicom_series_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_series')),
    sa.UniqueConstraint('series_instance_uid', name=op.f('uq_dicom_series_series_instance_uid'))
    )
    with op.batch_alter_table('dicom_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dicom_series_study_id'), ['study_id'], unique=False)

    op.create_table('dicom_instance',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sop_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('sop_class_uid', sa.String(length=64), nullable=False),
    sa.Column('transfer_syntax_uid', sa.String(length=64), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('instance_number', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('image', 'report', name='instancekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('frames', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=True),
    sa.Column('calling_ae', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['series_id'], ['dicom_series.id'], name=op.f('fk_dicom_instance_series_id_dicom_series')),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dicom_instance_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_instance')),
    sa.UniqueConstraint('sop_instance_uid', name=op.f('uq_dicom_instance_sop_instance_uid'))
    )
    with op.batch_alter_table('dicom_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dicom_instance_series_id'), ['series_id'], unique=False)
        batch_op.create_index('ix_dicom_instance_series_number', ['series_id', 'instance_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_dicom_instance_study_id'), ['study_id'], unique=False)

    op.create_table('dicom_forward',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sent', 'failed', name='forwardstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_token', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('resent', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['dicom_instance.id'], name=op.f('fk_dicom_forward_instance_id_dicom_instance')),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dicom_forward_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_forward')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_dicom_forward_instance_id'))
    )
    with op.batch_alter_table('dicom_forward', schema=None) as batch_op:
        batch_op.create_index('ix_dicom_forward_due', ['state', 'available_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dicom_forward_study_id'), ['study_id'], unique=False)

    op.create_table('dicom_study_consult',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=False),
    sa.Column('attached_by_id', sa.Integer(), nullable=True),
    sa.Column('attached_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attached_by_id'], ['user_account.id'], name=op.f('fk_dicom_study_consult_attached_by_id_user_account')),
    sa.ForeignKeyConstraint(['consult_id'], ['consult.id'], name=op.f('fk_dicom_study_consult_consult_id_consult')),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dicom_study_consult_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dicom_study_consult')),
    sa.UniqueConstraint('study_id', 'consult_id', name=op.f('uq_dicom_study_consult_study_id'))
    )
    with op.batch_alter_table('dicom_study_consult', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dicom_study_consult_consult_id'), ['consult_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dicom_study_consult_study_id'), ['study_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dicom_study_consult', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_study_consult_study_id'))
        batch_op.drop_index(batch_op.f('ix_dicom_study_consult_consult_id'))

    op.drop_table('dicom_study_consult')
    with op.batch_alter_table('dicom_forward', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_forward_study_id'))
        batch_op.drop_index('ix_dicom_forward_due')

    op.drop_table('dicom_forward')
    with op.batch_alter_table('dicom_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_instance_study_id'))
        batch_op.drop_index('ix_dicom_instance_series_number')
        batch_op.drop_index(batch_op.f('ix_dicom_instance_series_id'))

    op.drop_table('dicom_instance')
    with op.batch_alter_table('dicom_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_series_study_id'))

    op.drop_table('dicom_series')
    with op.batch_alter_table('dicom_image_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_image_link_study_id'))

    op.drop_table('dicom_image_link')
    with op.batch_alter_table('dicom_study', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_study_patient_id'))
        batch_op.drop_index(batch_op.f('ix_dicom_study_facility_id'))

    op.drop_table('dicom_study')
    with op.batch_alter_table('dicom_patient_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_patient_key_patient_id'))

    op.drop_table('dicom_patient_key')
    with op.batch_alter_table('dicom_calling_ae', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dicom_calling_ae_facility_id'))

    op.drop_table('dicom_calling_ae')
