"""account reset: an operator-issued, single-use reset code (its hash and expiry)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reset_code_hash", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("reset_expires_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("reset_expires_at")
        batch_op.drop_column("reset_code_hash")
