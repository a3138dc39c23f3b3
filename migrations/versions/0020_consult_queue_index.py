"""The queue board's index: a region's open consults among all its closed ones

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 20:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_consult_region_status", "consult", ["region_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_consult_region_status", table_name="consult")
