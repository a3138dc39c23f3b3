"""Teleradiology: a sending facility's contact list for critical results

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 22:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reading_critical_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["user_account.id"],
            name=op.f("fk_reading_critical_contact_added_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facility.id"],
            name=op.f("fk_reading_critical_contact_facility_id_facility"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_critical_contact")),
        sa.UniqueConstraint(
            "facility_id", "email", name=op.f("uq_reading_critical_contact_facility_id")
        ),
    )
    with op.batch_alter_table("reading_critical_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reading_critical_contact_facility_id"), ["facility_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reading_critical_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reading_critical_contact_facility_id"))
    op.drop_table("reading_critical_contact")
