"""Insurance: tariffs, coverage, memberships, claims, exports, reconciliation

Tariff schedules (versioned by effective date) and their component prices; insurer contracts and
coverage per component; claims (billing records) with their basic / supplementary / patient
shares in integer minor units; the per-insurer export queue, pulls and reconciliations.
Patient memberships of insurers already exist (0001, ``membership``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('insurance_contract',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_insurance_contract_facility_id_facility')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurer.id'], name=op.f('fk_insurance_contract_insurer_id_insurer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_contract')),
    sa.UniqueConstraint('code', name=op.f('uq_insurance_contract_code'))
    )
    op.create_index(op.f('ix_insurance_contract_facility_id'), 'insurance_contract', ['facility_id'], unique=False)
    op.create_index(op.f('ix_insurance_contract_insurer_id'), 'insurance_contract', ['insurer_id'], unique=False)
    op.create_table('insurance_coverage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('component', sa.String(length=80), nullable=False),
    sa.Column('coverage_bp', sa.Integer(), nullable=False),
    sa.Column('copay_minor', sa.BigInteger(), nullable=False),
    sa.Column('cap_minor', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('cap_minor IS NULL OR cap_minor >= 0', name=op.f('ck_insurance_coverage_cap_not_negative')),
    sa.CheckConstraint('copay_minor >= 0', name=op.f('ck_insurance_coverage_copay_not_negative')),
    sa.CheckConstraint('coverage_bp BETWEEN 0 AND 10000', name=op.f('ck_insurance_coverage_coverage_range')),
    sa.ForeignKeyConstraint(['contract_id'], ['insurance_contract.id'], name=op.f('fk_insurance_coverage_contract_id_insurance_contract')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_coverage')),
    sa.UniqueConstraint('contract_id', 'component', name=op.f('uq_insurance_coverage_contract_id'))
    )
    op.create_index(op.f('ix_insurance_coverage_contract_id'), 'insurance_coverage', ['contract_id'], unique=False)
    op.create_table('insurance_pull',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('cursor', sa.String(length=64), nullable=False),
    sa.Column('after_release_id', sa.BigInteger(), nullable=False),
    sa.Column('upto_release_id', sa.BigInteger(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('pulled_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurer.id'], name=op.f('fk_insurance_pull_insurer_id_insurer')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_insurance_pull_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_pull')),
    sa.UniqueConstraint('cursor', name=op.f('uq_insurance_pull_cursor'))
    )
    op.create_index(op.f('ix_insurance_pull_insurer_id'), 'insurance_pull', ['insurer_id'], unique=False)
    op.create_table('tariff_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('minor_unit', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('minor_unit BETWEEN 0 AND 4', name=op.f('ck_tariff_schedule_minor_unit_range')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_tariff_schedule_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariff_schedule')),
    sa.UniqueConstraint('effective_from', name=op.f('uq_tariff_schedule_effective_from'))
    )
    op.create_table('tariff_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('component', sa.String(length=80), nullable=False),
    sa.Column('unit', sa.Enum('service', 'minute', name='tariffunit', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_tariff_item_amount_not_negative')),
    sa.ForeignKeyConstraint(['schedule_id'], ['tariff_schedule.id'], name=op.f('fk_tariff_item_schedule_id_tariff_schedule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariff_item')),
    sa.UniqueConstraint('schedule_id', 'component', name=op.f('uq_tariff_item_schedule_id'))
    )
    op.create_index(op.f('ix_tariff_item_schedule_id'), 'tariff_item', ['schedule_id'], unique=False)
    op.create_table('insurance_claim',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_type', sa.String(length=32), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=True),
    sa.Column('document_public_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.Enum('original', 'credit', 'rebill', name='claimkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('original_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('held', 'ready', name='claimstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('hold_reason', sa.String(length=64), nullable=True),
    sa.Column('hold_details', sa.JSON(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('service_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tariff_schedule_id', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('basic_insurer_id', sa.Integer(), nullable=True),
    sa.Column('basic_member_id', sa.String(length=64), nullable=True),
    sa.Column('basic_minor', sa.BigInteger(), nullable=False),
    sa.Column('supplementary_insurer_id', sa.Integer(), nullable=True),
    sa.Column('supplementary_member_id', sa.String(length=64), nullable=True),
    sa.Column('supplementary_minor', sa.BigInteger(), nullable=False),
    sa.Column('patient_minor', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('components_text', sa.Text(), nullable=False),
    sa.Column('correction_reason', sa.Text(), nullable=True),
    sa.Column('corrected_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(kind = 'original') = (original_id IS NULL)", name=op.f('ck_insurance_claim_original_link')),
    sa.CheckConstraint('total_minor = basic_minor + supplementary_minor + patient_minor', name=op.f('ck_insurance_claim_shares_add_up')),
    sa.ForeignKeyConstraint(['basic_insurer_id'], ['insurer.id'], name=op.f('fk_insurance_claim_basic_insurer_id_insurer')),
    sa.ForeignKeyConstraint(['consult_id'], ['consult.id'], name=op.f('fk_insurance_claim_consult_id_consult')),
    sa.ForeignKeyConstraint(['corrected_by_id'], ['user_account.id'], name=op.f('fk_insurance_claim_corrected_by_id_user_account')),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_insurance_claim_facility_id_facility')),
    sa.ForeignKeyConstraint(['original_id'], ['insurance_claim.id'], name=op.f('fk_insurance_claim_original_id_insurance_claim')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_insurance_claim_patient_id_patient')),
    sa.ForeignKeyConstraint(['supplementary_insurer_id'], ['insurer.id'], name=op.f('fk_insurance_claim_supplementary_insurer_id_insurer')),
    sa.ForeignKeyConstraint(['tariff_schedule_id'], ['tariff_schedule.id'], name=op.f('fk_insurance_claim_tariff_schedule_id_tariff_schedule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_claim')),
    sa.UniqueConstraint('service_type', 'service_id', 'kind', 'revision', name='uq_insurance_claim_service')
    )
    op.create_index(op.f('ix_insurance_claim_basic_insurer_id'), 'insurance_claim', ['basic_insurer_id'], unique=False)
    op.create_index(op.f('ix_insurance_claim_consult_id'), 'insurance_claim', ['consult_id'], unique=False)
    op.create_index('ix_insurance_claim_facility_service_at', 'insurance_claim', ['facility_id', 'service_at'], unique=False)
    op.create_index(op.f('ix_insurance_claim_original_id'), 'insurance_claim', ['original_id'], unique=False)
    op.create_index(op.f('ix_insurance_claim_patient_id'), 'insurance_claim', ['patient_id'], unique=False)
    op.create_index(op.f('ix_insurance_claim_supplementary_insurer_id'), 'insurance_claim', ['supplementary_insurer_id'], unique=False)
    op.create_table('insurance_claim_release',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('claim_id', sa.BigInteger(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['insurance_claim.id'], name=op.f('fk_insurance_claim_release_claim_id_insurance_claim')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurer.id'], name=op.f('fk_insurance_claim_release_insurer_id_insurer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_claim_release')),
    sa.UniqueConstraint('claim_id', 'insurer_id', name=op.f('uq_insurance_claim_release_claim_id'))
    )
    op.create_index('ix_insurance_claim_release_insurer_seq', 'insurance_claim_release', ['insurer_id', 'id'], unique=False)
    op.create_table('insurance_reconciliation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.BigInteger(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Enum('accepted', 'rejected', name='decision', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason_code', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['claim_id'], ['insurance_claim.id'], name=op.f('fk_insurance_reconciliation_claim_id_insurance_claim')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurer.id'], name=op.f('fk_insurance_reconciliation_insurer_id_insurer')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_insurance_reconciliation_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_reconciliation')),
    sa.UniqueConstraint('claim_id', 'insurer_id', name=op.f('uq_insurance_reconciliation_claim_id'))
    )
    op.create_index(op.f('ix_insurance_reconciliation_claim_id'), 'insurance_reconciliation', ['claim_id'], unique=False)
    op.create_index(op.f('ix_insurance_reconciliation_insurer_id'), 'insurance_reconciliation', ['insurer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_insurance_reconciliation_insurer_id'), table_name='insurance_reconciliation')
    op.drop_index(op.f('ix_insurance_reconciliation_claim_id'), table_name='insurance_reconciliation')
    op.drop_table('insurance_reconciliation')
    op.drop_index('ix_insurance_claim_release_insurer_seq', table_name='insurance_claim_release')
    op.drop_table('insurance_claim_release')
    op.drop_index(op.f('ix_insurance_claim_supplementary_insurer_id'), table_name='insurance_claim')
    op.drop_index(op.f('ix_insurance_claim_patient_id'), table_name='insurance_claim')
    op.drop_index(op.f('ix_insurance_claim_original_id'), table_name='insurance_claim')
    op.drop_index('ix_insurance_claim_facility_service_at', table_name='insurance_claim')
    op.drop_index(op.f('ix_insurance_claim_consult_id'), table_name='insurance_claim')
    op.drop_index(op.f('ix_insurance_claim_basic_insurer_id'), table_name='insurance_claim')
    op.drop_table('insurance_claim')
    op.drop_index(op.f('ix_tariff_item_schedule_id'), table_name='tariff_item')
    op.drop_table('tariff_item')
    op.drop_table('tariff_schedule')
    op.drop_index(op.f('ix_insurance_pull_insurer_id'), table_name='insurance_pull')
    op.drop_table('insurance_pull')
    op.drop_index(op.f('ix_insurance_coverage_contract_id'), table_name='insurance_coverage')
    op.drop_table('insurance_coverage')
    op.drop_index(op.f('ix_insurance_contract_insurer_id'), table_name='insurance_contract')
    op.drop_index(op.f('ix_insurance_contract_facility_id'), table_name='insurance_contract')
    op.drop_table('insurance_contract')
