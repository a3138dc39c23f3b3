"""Signed documents and the PKI: clinicians' certificates, documents and their revisions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:13:50.107200
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('signing_certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('licence_number', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('key_store', sa.Enum('software', 'pkcs11', name='keystore', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('key_pem', sa.LargeBinary(), nullable=True),
    sa.Column('key_ref', sa.String(length=200), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_via', sa.String(length=32), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_signing_certificate_facility_id_facility')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_signing_certificate_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_certificate')),
    sa.UniqueConstraint('serial', name=op.f('uq_signing_certificate_serial'))
    )
    with op.batch_alter_table('signing_certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_certificate_user_id'), ['user_id'], unique=False)

    op.create_table('signed_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('certified', 'countersigned', name='documentstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('certified_by_id', sa.Integer(), nullable=False),
    sa.Column('certified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('countersigned_by_id', sa.Integer(), nullable=True),
    sa.Column('countersigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('countersign_certificate_id', sa.Integer(), nullable=True),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['signing_certificate.id'], name=op.f('fk_signed_document_certificate_id_signing_certificate')),
    sa.ForeignKeyConstraint(['certified_by_id'], ['user_account.id'], name=op.f('fk_signed_document_certified_by_id_user_account')),
    sa.ForeignKeyConstraint(['countersign_certificate_id'], ['signing_certificate.id'], name=op.f('fk_signed_document_countersign_certificate_id_signing_certificate')),
    sa.ForeignKeyConstraint(['countersigned_by_id'], ['user_account.id'], name=op.f('fk_signed_document_countersigned_by_id_user_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_signed_document_patient_id_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_document')),
    sa.UniqueConstraint('kind', 'subject_type', 'subject_id', name=op.f('uq_signed_document_kind')),
    sa.UniqueConstraint('public_id', name=op.f('uq_signed_document_public_id'))
    )
    with op.batch_alter_table('signed_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_document_patient_id'), ['patient_id'], unique=False)

    op.create_table('signed_document_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('field_name', sa.String(length=40), nullable=False),
    sa.Column('signer_id', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['signed_document.id'], name=op.f('fk_signed_document_revision_document_id_signed_document')),
    sa.ForeignKeyConstraint(['signer_id'], ['user_account.id'], name=op.f('fk_signed_document_revision_signer_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signed_document_revision')),
    sa.UniqueConstraint('document_id', 'seq', name=op.f('uq_signed_document_revision_document_id'))
    )
    with op.batch_alter_table('signed_document_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_document_revision_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signed_document_revision_sha256'), ['sha256'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signed_document_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_document_revision_sha256'))
        batch_op.drop_index(batch_op.f('ix_signed_document_revision_document_id'))

    op.drop_table('signed_document_revision')
    with op.batch_alter_table('signed_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_document_patient_id'))

    op.drop_table('signed_document')
    with op.batch_alter_table('signing_certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_certificate_user_id'))

    op.drop_table('signing_certificate')
