"""Command: assisting physicians and transfer threads

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The transfer's specialty: whose assisting physician the region consults.
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("specialty_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_transfer_specialty_id_specialty"), "specialty", ["specialty_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_transfer_specialty_id"), ["specialty_id"], unique=False)
    op.create_table(
        "assisting_physician",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("specialty_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("designated_by_id", sa.Integer(), nullable=True),
        sa.Column("designated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["macro_region.id"], name=op.f("fk_assisting_physician_region_id_macro_region")),
        sa.ForeignKeyConstraint(["specialty_id"], ["specialty.id"], name=op.f("fk_assisting_physician_specialty_id_specialty")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_assisting_physician_user_id_user_account")),
        sa.ForeignKeyConstraint(["designated_by_id"], ["user_account.id"], name=op.f("fk_assisting_physician_designated_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assisting_physician")),
        sa.UniqueConstraint("region_id", "specialty_id", name=op.f("uq_assisting_physician_region_id")),
    )
    op.create_index(op.f("ix_assisting_physician_user_id"), "assisting_physician", ["user_id"])
    op.create_table(
        "transfer_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfer.id"], name=op.f("fk_transfer_message_transfer_id_transfer")),
        sa.ForeignKeyConstraint(["author_id"], ["user_account.id"], name=op.f("fk_transfer_message_author_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_message")),
    )
    op.create_index(op.f("ix_transfer_message_transfer_id"), "transfer_message", ["transfer_id"])


def downgrade() -> None:
    op.drop_table("transfer_message")
    op.drop_table("assisting_physician")
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_specialty_id"))
        batch_op.drop_constraint(batch_op.f("fk_transfer_specialty_id_specialty"), type_="foreignkey")
        batch_op.drop_column("specialty_id")
