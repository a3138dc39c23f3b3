"""The roster's revision: replaced by triggers on every change to shifts or facilities, so
routing can keep who is on call where in memory and still see every change at once

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A random 63-bit value: never one already seen, even after a rollback or in another database.
PG_RANDOM = "floor(random() * 9223372036854775807)::bigint"
PG_FUNCTION = f"""
CREATE FUNCTION roster_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE roster_revision SET revision = {PG_RANDOM};
    RETURN NULL;
END
$$
"""
# Once per statement on PostgreSQL (a bulk load bumps it once); SQLite has row triggers only.
PG_TRIGGERS = {
    'roster_shift_revision': 'AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roster_shift',
    'facility_revision': 'AFTER UPDATE OR DELETE ON facility',
}
SQLITE_TRIGGERS = {
    'roster_shift_inserted_revision': 'AFTER INSERT ON roster_shift',
    'roster_shift_updated_revision': 'AFTER UPDATE ON roster_shift',
    'roster_shift_deleted_revision': 'AFTER DELETE ON roster_shift',
    'facility_updated_revision': 'AFTER UPDATE ON facility',
    'facility_deleted_revision': 'AFTER DELETE ON facility',
}


def upgrade() -> None:
    op.create_table(
        'roster_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_revision')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"INSERT INTO roster_revision (id, revision) VALUES (1, {PG_RANDOM})")
        op.execute(PG_FUNCTION)
        for name, when in PG_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
                "EXECUTE FUNCTION roster_revision_bump()"
            )
    else:
        op.execute("INSERT INTO roster_revision (id, revision) VALUES (1, random())")
        for name, when in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {when} FOR EACH ROW "
                "BEGIN UPDATE roster_revision SET revision = random(); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, when in PG_TRIGGERS.items():
            table = when.rsplit(' ', 1)[1]
            op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute("DROP FUNCTION roster_revision_bump()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('roster_revision')
