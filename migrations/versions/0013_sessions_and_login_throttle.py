"""Login sessions kept on the server (logout and idle expiry end them), failed logins by client
address for throttling, and the authorization code each OAuth2 token was redeemed for

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'user_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_reason', sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'],
            ['user_account.id'],
            name=op.f('fk_user_session_user_id_user_account'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
        sa.UniqueConstraint('key_hash', name=op.f('uq_user_session_key_hash')),
    )
    with op.batch_alter_table('user_session') as batch:
        batch.create_index(batch.f('ix_user_session_user_id'), ['user_id'], unique=False)

    op.create_table(
        'login_failure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'],
            ['user_account.id'],
            name=op.f('fk_login_failure_user_id_user_account'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure')),
    )
    with op.batch_alter_table('login_failure') as batch:
        batch.create_index(
            'ix_login_failure_address_occurred_at', ['address', 'occurred_at'], unique=False
        )
        batch.create_index(batch.f('ix_login_failure_user_id'), ['user_id'], unique=False)
        batch.create_index(batch.f('ix_login_failure_occurred_at'), ['occurred_at'], unique=False)

    with op.batch_alter_table('oauth_token') as batch:
        batch.add_column(sa.Column('authorization_code_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_oauth_token_authorization_code_id_oauth_authorization_code'),
            'oauth_authorization_code',
            ['authorization_code_id'],
            ['id'],
            ondelete='SET NULL',
        )
        batch.create_index(
            batch.f('ix_oauth_token_authorization_code_id'), ['authorization_code_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('oauth_token') as batch:
        batch.drop_index(batch.f('ix_oauth_token_authorization_code_id'))
        batch.drop_constraint(
            batch.f('fk_oauth_token_authorization_code_id_oauth_authorization_code'),
            type_='foreignkey',
        )
        batch.drop_column('authorization_code_id')
    with op.batch_alter_table('login_failure') as batch:
        batch.drop_index(batch.f('ix_login_failure_occurred_at'))
        batch.drop_index(batch.f('ix_login_failure_user_id'))
        batch.drop_index('ix_login_failure_address_occurred_at')
    op.drop_table('login_failure')
    with op.batch_alter_table('user_session') as batch:
        batch.drop_index(batch.f('ix_user_session_user_id'))
    op.drop_table('user_session')
