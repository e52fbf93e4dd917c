"""account keys: identity key, vault wrappings, PUK certificates, device certificates

Accounts created before this revision held placeholder blobs instead of keys; they are dropped
and the account sets up real keys at its next login (docs/decisions/0003).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("key_bundle")
        batch_op.drop_column("key_bundle_version")
        batch_op.alter_column("vault", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.add_column(sa.Column("identity_key", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("password_wrapping", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("recovery_wrapping", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("recovery_auth_hash", sa.LargeBinary(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("keys_version", sa.Integer(), nullable=False, server_default="0")
        )
    # The placeholder "vaults" held no keys: nothing to keep.
    op.execute(sa.text("UPDATE users SET vault = NULL"))

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_active_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("certificate", sa.LargeBinary(), nullable=True))

    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("successor_sealed", sa.LargeBinary(), nullable=True))

    op.create_table(
        "puk_certificates",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_puk_certificates_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "generation", name=op.f("pk_puk_certificates")),
    )


def downgrade() -> None:
    op.drop_table("puk_certificates")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("successor_sealed")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("certificate")
        batch_op.drop_column("last_active_at")
    users = sa.table("users", sa.column("vault", sa.LargeBinary()))
    op.execute(users.update().where(users.c.vault.is_(None)).values(vault=b""))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("keys_version")
        batch_op.drop_column("recovery_auth_hash")
        batch_op.drop_column("recovery_wrapping")
        batch_op.drop_column("password_wrapping")
        batch_op.drop_column("identity_key")
        batch_op.alter_column("vault", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.add_column(
            sa.Column("key_bundle_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("key_bundle", sa.LargeBinary(), nullable=False, server_default="")
        )
