"""Consultations: requests, offers, timeline, conversation, outcome, rosters, SLA

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:47:20.271752
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('sla_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('urgency', sa.Enum('emergency', 'urgent', 'routine', name='urgency', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('accept_minutes', sa.Integer(), nullable=False),
    sa.Column('answer_minutes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['macro_region.id'], name=op.f('fk_sla_policy_region_id_macro_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policy')),
    sa.UniqueConstraint('region_id', 'urgency', name=op.f('uq_sla_policy_region_id'))
    )
    op.create_table('roster_shift',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('specialty_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_roster_shift_facility_id_facility')),
    sa.ForeignKeyConstraint(['specialist_id'], ['user_account.id'], name=op.f('fk_roster_shift_specialist_id_user_account')),
    sa.ForeignKeyConstraint(['specialty_id'], ['specialty.id'], name=op.f('fk_roster_shift_specialty_id_specialty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_shift'))
    )
    with op.batch_alter_table('roster_shift', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_shift_specialist_id'), ['specialist_id'], unique=False)
        batch_op.create_index('ix_roster_shift_window', ['specialty_id', 'starts_at', 'ends_at'], unique=False)

    op.create_table('specialist_status',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('available', 'busy', 'on_break', 'off_shift', name='specialiststate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_concurrent', sa.Integer(), nullable=False),
    sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_specialist_status_user_id_user_account')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_specialist_status'))
    )
    op.create_table('consult',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('requester_facility_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('specialty_id', sa.Integer(), nullable=False),
    sa.Column('urgency', sa.Enum('emergency', 'urgent', 'routine', name='urgency', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('mode', sa.Enum('async', 'video', 'phone', name='mode', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('tech_level', sa.Enum('basic', 'standard', 'advanced', name='techlevel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('history', sa.Text(), nullable=True),
    sa.Column('vitals', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'offered', 'accepted', 'answered', 'signed', 'closed', 'declined', 'escalated', 'cancelled', 'expired', name='consultstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('registered_after', sa.Boolean(), nullable=False),
    sa.Column('escalation_stage', sa.Integer(), nullable=False),
    sa.Column('routing_trace', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('request_digest', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accept_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer_alerted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['user_account.id'], name=op.f('fk_consult_assigned_to_id_user_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_consult_patient_id_patient')),
    sa.ForeignKeyConstraint(['region_id'], ['macro_region.id'], name=op.f('fk_consult_region_id_macro_region')),
    sa.ForeignKeyConstraint(['requester_facility_id'], ['facility.id'], name=op.f('fk_consult_requester_facility_id_facility')),
    sa.ForeignKeyConstraint(['requester_id'], ['user_account.id'], name=op.f('fk_consult_requester_id_user_account')),
    sa.ForeignKeyConstraint(['specialty_id'], ['specialty.id'], name=op.f('fk_consult_specialty_id_specialty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consult')),
    sa.UniqueConstraint('requester_id', 'idempotency_key', name=op.f('uq_consult_requester_id'))
    )
    with op.batch_alter_table('consult', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consult_assigned_to_id'), ['assigned_to_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_region_id'), ['region_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_requester_facility_id'), ['requester_facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_status'), ['status'], unique=False)
        batch_op.create_index('ix_consult_status_accept_due', ['status', 'accept_due_at'], unique=False)

    op.create_table('consult_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('photo', 'pdf', 'ecg', 'audio', 'paper_form', name='attachmentkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consult_id'], ['consult.id'], name=op.f('fk_consult_attachment_consult_id_consult')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_consult_attachment_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consult_attachment'))
    )
    with op.batch_alter_table('consult_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consult_attachment_consult_id'), ['consult_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_attachment_sha256'), ['sha256'], unique=False)

    op.create_table('consult_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_consult_event_actor_id_user_account')),
    sa.ForeignKeyConstraint(['consult_id'], ['consult.id'], name=op.f('fk_consult_event_consult_id_consult')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consult_event'))
    )
    with op.batch_alter_table('consult_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consult_event_consult_id'), ['consult_id'], unique=False)

    op.create_table('consult_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('open', 'claimed', 'declined', 'withdrawn', name='offerstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('stage', sa.Integer(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['consult_id'], ['consult.id'], name=op.f('fk_consult_offer_consult_id_consult')),
    sa.ForeignKeyConstraint(['specialist_id'], ['user_account.id'], name=op.f('fk_consult_offer_specialist_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consult_offer')),
    sa.UniqueConstraint('consult_id', 'specialist_id', name=op.f('uq_consult_offer_consult_id'))
    )
    with op.batch_alter_table('consult_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consult_offer_consult_id'), ['consult_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_offer_specialist_id'), ['specialist_id'], unique=False)

    op.create_table('consult_outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('assessment', sa.Text(), nullable=False),
    sa.Column('recommendation', sa.Text(), nullable=False),
    sa.Column('disposition', sa.Enum('manage_locally', 'refer', 'transfer_urgently', 'follow_up', name='disposition', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('prescription', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending_signature', 'signed', name='outcomestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_consult_outcome_author_id_user_account')),
    sa.ForeignKeyConstraint(['consult_id'], ['consult.id'], name=op.f('fk_consult_outcome_consult_id_consult')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consult_outcome')),
    sa.UniqueConstraint('consult_id', name=op.f('uq_consult_outcome_consult_id'))
    )
    op.create_table('consult_follow_up_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_consult_follow_up_task_facility_id_facility')),
    sa.ForeignKeyConstraint(['outcome_id'], ['consult_outcome.id'], name=op.f('fk_consult_follow_up_task_outcome_id_consult_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consult_follow_up_task'))
    )
    with op.batch_alter_table('consult_follow_up_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consult_follow_up_task_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consult_follow_up_task_outcome_id'), ['outcome_id'], unique=False)

    op.create_table('consult_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consult_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['consult_attachment.id'], name=op.f('fk_consult_message_attachment_id_consult_attachment')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_consult_message_author_id_user_account')),
    sa.ForeignKeyConstraint(['consult_id'], ['consult.id'], name=op.f('fk_consult_message_consult_id_consult')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consult_message'))
    )
    with op.batch_alter_table('consult_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consult_message_consult_id'), ['consult_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('consult_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consult_message_consult_id'))

    op.drop_table('consult_message')
    with op.batch_alter_table('consult_follow_up_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consult_follow_up_task_outcome_id'))
        batch_op.drop_index(batch_op.f('ix_consult_follow_up_task_facility_id'))

    op.drop_table('consult_follow_up_task')
    op.drop_table('consult_outcome')
    with op.batch_alter_table('consult_offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consult_offer_specialist_id'))
        batch_op.drop_index(batch_op.f('ix_consult_offer_consult_id'))

    op.drop_table('consult_offer')
    with op.batch_alter_table('consult_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consult_event_consult_id'))

    op.drop_table('consult_event')
    with op.batch_alter_table('consult_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consult_attachment_sha256'))
        batch_op.drop_index(batch_op.f('ix_consult_attachment_consult_id'))

    op.drop_table('consult_attachment')
    with op.batch_alter_table('consult', schema=None) as batch_op:
        batch_op.drop_index('ix_consult_status_accept_due')
        batch_op.drop_index(batch_op.f('ix_consult_status'))
        batch_op.drop_index(batch_op.f('ix_consult_requester_id'))
        batch_op.drop_index(batch_op.f('ix_consult_requester_facility_id'))
        batch_op.drop_index(batch_op.f('ix_consult_region_id'))
        batch_op.drop_index(batch_op.f('ix_consult_patient_id'))
        batch_op.drop_index(batch_op.f('ix_consult_assigned_to_id'))

    op.drop_table('consult')
    op.drop_table('specialist_status')
    with op.batch_alter_table('roster_shift', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_shift_window')
        batch_op.drop_index(batch_op.f('ix_roster_shift_specialist_id'))

    op.drop_table('roster_shift')
    op.drop_table('sla_policy')

