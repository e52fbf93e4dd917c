"""private conversations: key sets and their boxes, the group membership log, and each
conversation's key generation, stale flag and log head (docs/decisions/0005)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_generation", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("keys_stale", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        batch_op.add_column(
            sa.Column("log_index", sa.Integer(), nullable=False, server_default=sa.text("-1"))
        )
        batch_op.add_column(sa.Column("log_head", sa.LargeBinary(length=32), nullable=True))

    op.create_table(
        "key_sets",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("creator_user_id", sa.Uuid(), nullable=False),
        sa.Column("creator_device_id", sa.Uuid(), nullable=False),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("membership_index", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_key_sets_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "generation", name=op.f("pk_key_sets")),
    )
    op.create_table(
        "key_set_boxes",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("box", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_key_set_boxes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "conversation_id", "generation", "user_id", name=op.f("pk_key_set_boxes")
        ),
    )
    with op.batch_alter_table("key_set_boxes", schema=None) as batch_op:
        batch_op.create_index("ix_key_set_boxes_user", ["user_id"], unique=False)

    op.create_table(
        "membership_log",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_membership_log_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "idx", name=op.f("pk_membership_log")),
    )


def downgrade() -> None:
    op.drop_table("membership_log")
    with op.batch_alter_table("key_set_boxes", schema=None) as batch_op:
        batch_op.drop_index("ix_key_set_boxes_user")
    op.drop_table("key_set_boxes")
    op.drop_table("key_sets")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("log_head")
        batch_op.drop_column("log_index")
        batch_op.drop_column("keys_stale")
        batch_op.drop_column("key_generation")
