"""Radiation dose: dose documents and their irradiation events, the studies' sending to the
national dose node, and diagnostic reference levels seeded with published values

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 19:20:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KANAL = (
    'Kanal KM et al., U.S. Diagnostic Reference Levels and Achievable Doses for 10 Adult CT '
    'Examinations, Radiology 2017;284(1):120-133 (ACR Dose Index Registry, 75th percentiles)'
)
MQSA = (
    'US FDA MQSA, 21 CFR 900.12(e)(5)(vi): at most 3.0 mGy average glandular dose per '
    'cranio-caudal view of the standard breast phantom'
)
UKHSA = 'UKHSA national diagnostic reference levels (2022): adult chest PA radiograph'
# (exam type, modality, quantity, value, source): the national levels until the Ministry sets its
# own (the hub proposes them from the rooms' medians, ICRP 135).
SEEDS = [
    ('ct_head', 'CT', 'ctdivol_mgy', 57.0, KANAL),
    ('ct_head', 'CT', 'dlp_mgycm', 1011.0, KANAL),
    ('ct_chest', 'CT', 'ctdivol_mgy', 12.0, KANAL),
    ('ct_chest', 'CT', 'dlp_mgycm', 443.0, KANAL),
    ('ct_abdomen_pelvis', 'CT', 'ctdivol_mgy', 16.0, KANAL),
    ('ct_abdomen_pelvis', 'CT', 'dlp_mgycm', 781.0, KANAL),
    ('mammography_view', 'MG', 'agd_mgy', 3.0, MQSA),
    ('chest_xray', 'DX', 'dap_gym2', 0.1e-4, UKHSA),
]


def upgrade() -> None:
    op.create_table('dose_reference_level',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_type', sa.String(length=64), nullable=False),
    sa.Column('modality', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_dose_reference_level_facility_id_facility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dose_reference_level')),
    sa.UniqueConstraint('exam_type', 'quantity', 'facility_id', name=op.f('uq_dose_reference_level_exam_type'))
    )
    op.create_index(op.f('ix_dose_reference_level_facility_id'), 'dose_reference_level', ['facility_id'], unique=False)
    op.create_table('dose_node_send',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('local', 'sent', 'accepted', 'refused', name='nodestate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('kos_sop_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('kos_series_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('delivered', sa.JSON(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dose_node_send_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dose_node_send')),
    sa.UniqueConstraint('kos_sop_instance_uid', name=op.f('uq_dose_node_send_kos_sop_instance_uid')),
    sa.UniqueConstraint('study_id', name=op.f('uq_dose_node_send_study_id'))
    )
    op.create_table('dose_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('sop_instance_uid', sa.String(length=64), nullable=False),
    sa.Column('state', sa.Enum('read', 'refused', name='reportstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('template', sa.String(length=8), nullable=False),
    sa.Column('modality', sa.String(length=8), nullable=False),
    sa.Column('manufacturer', sa.String(length=64), nullable=True),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('serial', sa.String(length=64), nullable=True),
    sa.Column('station', sa.String(length=64), nullable=True),
    sa.Column('events_declared', sa.Integer(), nullable=True),
    sa.Column('ct_dlp_mgycm', sa.Float(), nullable=True),
    sa.Column('dap_gym2', sa.Float(), nullable=True),
    sa.Column('agd_mgy', sa.Float(), nullable=True),
    sa.Column('dose_rp_gy', sa.Float(), nullable=True),
    sa.Column('fluoro_time_s', sa.Float(), nullable=True),
    sa.Column('counted_ct_dlp_mgycm', sa.Float(), nullable=True),
    sa.Column('counted_dap_gym2', sa.Float(), nullable=True),
    sa.Column('counted_agd_mgy', sa.Float(), nullable=True),
    sa.Column('counted_dose_rp_gy', sa.Float(), nullable=True),
    sa.Column('duplicate_events', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['dicom_instance.id'], name=op.f('fk_dose_report_instance_id_dicom_instance')),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dose_report_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dose_report')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_dose_report_instance_id')),
    sa.UniqueConstraint('sop_instance_uid', name=op.f('uq_dose_report_sop_instance_uid'))
    )
    op.create_index(op.f('ix_dose_report_study_id'), 'dose_report', ['study_id'], unique=False)
    op.create_table('dose_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('irradiation_event_uid', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('started', sa.String(length=32), nullable=True),
    sa.Column('protocol', sa.String(length=255), nullable=True),
    sa.Column('target_region', sa.String(length=128), nullable=True),
    sa.Column('target_region_code', sa.String(length=64), nullable=True),
    sa.Column('acquisition_type', sa.String(length=64), nullable=True),
    sa.Column('ctdivol_mgy', sa.Float(), nullable=True),
    sa.Column('dlp_mgycm', sa.Float(), nullable=True),
    sa.Column('phantom', sa.String(length=64), nullable=True),
    sa.Column('ssde_mgy', sa.Float(), nullable=True),
    sa.Column('dap_gym2', sa.Float(), nullable=True),
    sa.Column('dose_rp_gy', sa.Float(), nullable=True),
    sa.Column('agd_mgy', sa.Float(), nullable=True),
    sa.Column('exposure_time_s', sa.Float(), nullable=True),
    sa.Column('laterality', sa.String(length=8), nullable=True),
    sa.Column('fluoroscopy', sa.Boolean(), nullable=False),
    sa.Column('dose_check', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['dose_report.id'], name=op.f('fk_dose_event_report_id_dose_report')),
    sa.ForeignKeyConstraint(['study_id'], ['dicom_study.id'], name=op.f('fk_dose_event_study_id_dicom_study')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dose_event')),
    sa.UniqueConstraint('study_id', 'irradiation_event_uid', name=op.f('uq_dose_event_study_id'))
    )
    op.create_index(op.f('ix_dose_event_report_id'), 'dose_event', ['report_id'], unique=False)
    op.create_index(op.f('ix_dose_event_study_id'), 'dose_event', ['study_id'], unique=False)
    levels = sa.table(
        'dose_reference_level',
        sa.column('exam_type', sa.String),
        sa.column('modality', sa.String),
        sa.column('quantity', sa.String),
        sa.column('value', sa.Float),
        sa.column('facility_id', sa.Integer),
        sa.column('source', sa.Text),
        sa.column('updated_at', sa.DateTime(timezone=True)),
    )
    seeded = datetime(2026, 12, 3, tzinfo=UTC)
    op.bulk_insert(
        levels,
        [
            {
                'exam_type': exam,
                'modality': modality,
                'quantity': quantity,
                'value': value,
                'facility_id': None,
                'source': source,
                'updated_at': seeded,
            }
            for exam, modality, quantity, value, source in SEEDS
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_dose_event_study_id'), table_name='dose_event')
    op.drop_index(op.f('ix_dose_event_report_id'), table_name='dose_event')
    op.drop_table('dose_event')
    op.drop_index(op.f('ix_dose_report_study_id'), table_name='dose_report')
    op.drop_table('dose_report')
    op.drop_table('dose_node_send')
    op.drop_index(op.f('ix_dose_reference_level_facility_id'), table_name='dose_reference_level')
    op.drop_table('dose_reference_level')
