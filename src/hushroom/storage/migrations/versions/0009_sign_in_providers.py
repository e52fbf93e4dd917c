"""sign-in providers: linked identities, sign-in flows in progress, pending provider sign-ups

`users.password_login` is false for an account created through a provider: its Argon2id
parameters and auth hash belong to the chat passphrase, which unlocks the vault but does not sign
in. `sessions.provider` names the provider a session signed in with (NULL: the password).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (a constant default is enough for SQLite): a batch copy of `users` would
    # have to drop a table that other tables reference.
    op.add_column(
        "users",
        sa.Column("password_login", sa.Boolean(), nullable=False, server_default=sa.text("true")),
    )
    op.add_column("sessions", sa.Column("provider", sa.String(length=32), nullable=True))
    op.create_table(
        "identity_links",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_identity_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider", "subject", name=op.f("pk_identity_links")),
    )
    op.create_index("ix_identity_links_user", "identity_links", ["user_id"])
    op.create_table(
        "sign_in_flows",
        sa.Column("state_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=False),
        sa.Column("binding_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("device_name", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sign_in_flows_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_sign_in_flows")),
    )
    op.create_table(
        "pending_signups",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_pending_signups")),
    )


def downgrade() -> None:
    op.drop_table("pending_signups")
    op.drop_table("sign_in_flows")
    op.drop_index("ix_identity_links_user", table_name="identity_links")
    op.drop_table("identity_links")
    # SQLite ≥ 3.35 drops columns in place (no batch copy of referenced tables).
    op.drop_column("sessions", "provider")
    op.drop_column("users", "password_login")
