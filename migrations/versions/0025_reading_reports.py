"""Teleradiology: quality control

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Quality control (SEEDS 004): reviewers, follow-up, image quality, peer review, quarters.
    op.create_table(
        "reading_review_week",
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("share_percent", sa.Integer(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("week", name=op.f("pk_reading_review_week")),
    )
    op.create_table(
        "reading_qc_quarter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_reading_qc_quarter_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["macro_region.id"],
            name=op.f("fk_reading_qc_quarter_region_id_macro_region"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_qc_quarter")),
        sa.UniqueConstraint("quarter", "region_id", name=op.f("uq_reading_qc_quarter_quarter")),
    )
    op.create_table(
        "reading_reviewer",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("years_of_experience", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_reading_reviewer_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_reading_reviewer")),
    )
    op.create_table(
        "reading_follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "pathology",
                "surgery",
                "discharge",
                name="followupsource",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("final_diagnosis", sa.Text(), nullable=False),
        sa.Column(
            "agreement",
            sa.Enum(
                "concordant",
                "missed",
                "misdiagnosed",
                name="agreement",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_reading_follow_up_recorded_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["reading_request.id"],
            name=op.f("fk_reading_follow_up_request_id_reading_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_follow_up")),
        sa.UniqueConstraint("request_id", name=op.f("uq_reading_follow_up_request_id")),
    )
    with op.batch_alter_table("reading_follow_up", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_follow_up_agreement"), ["agreement"], unique=False
        )

    op.create_table(
        "reading_image_quality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "grade",
            sa.Enum(
                "excellent",
                "acceptable",
                "poor",
                name="grade",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("defect", sa.Text(), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("graded_by_id", sa.Integer(), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["graded_by_id"],
            ["user_account.id"],
            name=op.f("fk_reading_image_quality_graded_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["reading_request.id"],
            name=op.f("fk_reading_image_quality_request_id_reading_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_image_quality")),
        sa.UniqueConstraint("request_id", name=op.f("uq_reading_image_quality_request_id")),
    )
    with op.batch_alter_table("reading_image_quality", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reading_image_quality_grade"), ["grade"], unique=False)

    op.create_table(
        "reading_peer_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.String(length=2), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_reading_peer_review_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["imaging_report.id"],
            name=op.f("fk_reading_peer_review_report_id_imaging_report"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["user_account.id"],
            name=op.f("fk_reading_peer_review_reviewer_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["week"],
            ["reading_review_week.week"],
            name=op.f("fk_reading_peer_review_week_reading_review_week"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_peer_review")),
        sa.UniqueConstraint("report_id", name=op.f("uq_reading_peer_review_report_id")),
    )
    with op.batch_alter_table("reading_peer_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_peer_review_author_id"), ["author_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reading_peer_review_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reading_peer_review_reviewer_id"), ["reviewer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reading_peer_review_week"), ["week"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reading_peer_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_peer_review_week"))
        batch_op.drop_index(batch_op.f("ix_reading_peer_review_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_reading_peer_review_due_at"))
        batch_op.drop_index(batch_op.f("ix_reading_peer_review_author_id"))

    op.drop_table("reading_peer_review")
    with op.batch_alter_table("reading_image_quality", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_image_quality_grade"))

    op.drop_table("reading_image_quality")
    with op.batch_alter_table("reading_follow_up", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_follow_up_agreement"))

    op.drop_table("reading_follow_up")
    op.drop_table("reading_reviewer")
    op.drop_table("reading_qc_quarter")
    op.drop_table("reading_review_week")
