"""Video consultations: sessions, participants, timeline, recordings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consult_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "instant",
                "scheduled",
                name="sessionkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "ended",
                name="sessionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record", sa.Boolean(), nullable=False),
        sa.Column("recorder_worker", sa.String(length=64), nullable=True),
        sa.Column("recorder_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["consult_id"], ["consult.id"], name=op.f("fk_video_session_consult_id_consult")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_video_session_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_session")),
    )
    with op.batch_alter_table("video_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_session_consult_id"), ["consult_id"], unique=False
        )

    op.create_table(
        "video_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "requester",
                "specialist",
                "second_specialist",
                "interpreter",
                "patient",
                "recorder",
                name="participantrole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("guest_token_hash", sa.String(length=64), nullable=True),
        sa.Column("guest_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recording_consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_session.id"],
            name=op.f("fk_video_participant_session_id_video_session"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_video_participant_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_participant")),
        sa.UniqueConstraint("guest_token_hash", name=op.f("uq_video_participant_guest_token_hash")),
        sa.UniqueConstraint("session_id", "user_id", name=op.f("uq_video_participant_session_id")),
    )
    with op.batch_alter_table("video_participant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_participant_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_video_participant_user_id"), ["user_id"], unique=False)

    op.create_table(
        "video_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["video_participant.id"],
            name=op.f("fk_video_event_participant_id_video_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_session.id"],
            name=op.f("fk_video_event_session_id_video_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_event")),
    )
    with op.batch_alter_table("video_event", schema=None) as batch_op:
        batch_op.create_index("ix_video_event_session_at", ["session_id", "at"], unique=False)

    op.create_table(
        "video_recording",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("consult_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "recording",
                "valid",
                "invalid",
                name="recordingstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("video_frames", sa.Integer(), nullable=False),
        sa.Column("audio_frames", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Double(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["consult_id"], ["consult.id"], name=op.f("fk_video_recording_consult_id_consult")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["video_participant.id"],
            name=op.f("fk_video_recording_participant_id_video_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_session.id"],
            name=op.f("fk_video_recording_session_id_video_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_recording")),
    )
    with op.batch_alter_table("video_recording", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_recording_consult_id"), ["consult_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_video_recording_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("video_recording", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_recording_session_id"))
        batch_op.drop_index(batch_op.f("ix_video_recording_consult_id"))

    op.drop_table("video_recording")
    with op.batch_alter_table("video_event", schema=None) as batch_op:
        batch_op.drop_index("ix_video_event_session_at")

    op.drop_table("video_event")
    with op.batch_alter_table("video_participant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_participant_user_id"))
        batch_op.drop_index(batch_op.f("ix_video_participant_session_id"))

    op.drop_table("video_participant")
    with op.batch_alter_table("video_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_session_consult_id"))

    op.drop_table("video_session")
