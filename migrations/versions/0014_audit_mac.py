"""Audit chain keyed: each event and the chain head carry an HMAC under a key kept outside the
database (HUB_AUDIT_KEY), so whoever can write the database cannot rewrite history unseen

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite): the table keeps its no-update triggers.
    # Events written before the key existed keep a null MAC; verification accepts them only
    # before the first keyed event.
    op.add_column("audit_event", sa.Column("mac", sa.String(64), nullable=True))
    op.add_column("audit_head", sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_head", "mac")
    op.drop_column("audit_event", "mac")
