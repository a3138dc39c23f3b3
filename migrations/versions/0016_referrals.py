"""Referrals: clinics with members, weekly availability and slots; referrals (BSeR status, one
live per patient and specialty), back-referrals with follow-up tasks, appointments (one live per
slot), the regions' waiting-time targets

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 19:06:41.271913
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('referral_wait_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('wait_days', sa.Integer(), nullable=False),
    sa.Column('back_referral_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['macro_region.id'], name=op.f('fk_referral_wait_target_region_id_macro_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_wait_target')),
    sa.UniqueConstraint('region_id', name=op.f('uq_referral_wait_target_region_id'))
    )
    op.create_table('clinic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('specialty_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_clinic_facility_id_facility')),
    sa.ForeignKeyConstraint(['specialty_id'], ['specialty.id'], name=op.f('fk_clinic_specialty_id_specialty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic')),
    sa.UniqueConstraint('code', name=op.f('uq_clinic_code'))
    )
    with op.batch_alter_table('clinic', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinic_specialty_id'), ['specialty_id'], unique=False)

    op.create_table('clinic_availability',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('mode', sa.Enum('in_person', 'virtual', name='visitmode', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint('slot_minutes BETWEEN 5 AND 480', name=op.f('ck_clinic_availability_slot_minutes_range')),
    sa.CheckConstraint('start_time < end_time', name=op.f('ck_clinic_availability_start_before_end')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_clinic_availability_weekday_range')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_clinic_availability_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['provider_id'], ['user_account.id'], name=op.f('fk_clinic_availability_provider_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_availability'))
    )
    with op.batch_alter_table('clinic_availability', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_availability_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('clinic_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('contracted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_clinic_member_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_clinic_member_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_member')),
    sa.UniqueConstraint('clinic_id', 'user_id', name=op.f('uq_clinic_member_clinic_id'))
    )
    with op.batch_alter_table('clinic_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_member_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinic_member_user_id'), ['user_id'], unique=False)

    op.create_table('clinic_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mode', sa.Enum('in_person', 'virtual', name='visitmode', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinic.id'], name=op.f('fk_clinic_slot_clinic_id_clinic')),
    sa.ForeignKeyConstraint(['provider_id'], ['user_account.id'], name=op.f('fk_clinic_slot_provider_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_slot')),
    sa.UniqueConstraint('clinic_id', 'starts_at', 'mode', name=op.f('uq_clinic_slot_clinic_id'))
    )
    with op.batch_alter_table('clinic_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinic_slot_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clinic_slot_starts_at'), ['starts_at'], unique=False)

    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('specialty_id', sa.Integer(), nullable=False),
    sa.Column('from_facility_id', sa.Integer(), nullable=False),
    sa.Column('to_facility_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=True),
    sa.Column('letter_document_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('created', 'accepted', 'declined', 'scheduled', 'no_show', 'event_cancelled', 'event_completed', 'cancellation_requested', 'cancelled', 'completed', name='referralstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('live_key', sa.String(length=40), nullable=True),
    sa.Column('receiving_clinician_id', sa.Integer(), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_visit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['from_facility_id'], ['facility.id'], name=op.f('fk_referral_from_facility_id_facility')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_referral_patient_id_patient')),
    sa.ForeignKeyConstraint(['receiving_clinician_id'], ['user_account.id'], name=op.f('fk_referral_receiving_clinician_id_user_account')),
    sa.ForeignKeyConstraint(['requester_id'], ['user_account.id'], name=op.f('fk_referral_requester_id_user_account')),
    sa.ForeignKeyConstraint(['specialty_id'], ['specialty.id'], name=op.f('fk_referral_specialty_id_specialty')),
    sa.ForeignKeyConstraint(['to_facility_id'], ['facility.id'], name=op.f('fk_referral_to_facility_id_facility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral')),
    sa.UniqueConstraint('live_key', name=op.f('uq_referral_live_key'))
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_consult_id'), ['consult_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_from_facility_id'), ['from_facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_to_facility_id'), ['to_facility_id'], unique=False)

    op.create_table('appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('live_slot_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('booked', 'checked_in', 'no_show', 'cancelled', name='appointmentstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('rescheduled_to_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['booked_by_id'], ['user_account.id'], name=op.f('fk_appointment_booked_by_id_user_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_appointment_patient_id_patient')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_appointment_referral_id_referral')),
    sa.ForeignKeyConstraint(['rescheduled_to_id'], ['appointment.id'], name=op.f('fk_appointment_rescheduled_to_id_appointment')),
    sa.ForeignKeyConstraint(['slot_id'], ['clinic_slot.id'], name=op.f('fk_appointment_slot_id_clinic_slot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment')),
    sa.UniqueConstraint('live_slot_id', name=op.f('uq_appointment_live_slot_id'))
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index('ix_appointment_patient_status', ['patient_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_referral_id'), ['referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_slot_id'), ['slot_id'], unique=False)

    op.create_table('back_referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('treatment', sa.Text(), nullable=True),
    sa.Column('medication', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user_account.id'], name=op.f('fk_back_referral_acknowledged_by_id_user_account')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_back_referral_author_id_user_account')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_back_referral_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_back_referral')),
    sa.UniqueConstraint('referral_id', name=op.f('uq_back_referral_referral_id'))
    )
    op.create_table('back_referral_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('back_referral_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('due', sa.Date(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['back_referral_id'], ['back_referral.id'], name=op.f('fk_back_referral_task_back_referral_id_back_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_back_referral_task'))
    )
    with op.batch_alter_table('back_referral_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_back_referral_task_back_referral_id'), ['back_referral_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_back_referral_task_due'), ['due'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('back_referral_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_back_referral_task_due'))
        batch_op.drop_index(batch_op.f('ix_back_referral_task_back_referral_id'))

    op.drop_table('back_referral_task')
    op.drop_table('back_referral')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_slot_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_referral_id'))
        batch_op.drop_index('ix_appointment_patient_status')

    op.drop_table('appointment')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_to_facility_id'))
        batch_op.drop_index(batch_op.f('ix_referral_status'))
        batch_op.drop_index(batch_op.f('ix_referral_patient_id'))
        batch_op.drop_index(batch_op.f('ix_referral_from_facility_id'))
        batch_op.drop_index(batch_op.f('ix_referral_consult_id'))

    op.drop_table('referral')
    with op.batch_alter_table('clinic_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinic_slot_starts_at'))
        batch_op.drop_index(batch_op.f('ix_clinic_slot_clinic_id'))

    op.drop_table('clinic_slot')
    with op.batch_alter_table('clinic_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinic_member_user_id'))
        batch_op.drop_index(batch_op.f('ix_clinic_member_clinic_id'))

    op.drop_table('clinic_member')
    with op.batch_alter_table('clinic_availability', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinic_availability_clinic_id'))

    op.drop_table('clinic_availability')
    with op.batch_alter_table('clinic', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinic_specialty_id'))
        batch_op.drop_index(batch_op.f('ix_clinic_facility_id'))

    op.drop_table('clinic')
    op.drop_table('referral_wait_target')
