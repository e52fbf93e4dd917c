"""data at rest: sealed columns for the free text the server can read, and the data key table

Adds `messages.body_sealed`, `conversations.name_sealed` / `topic_sealed` / `name_hash` (the
blind index that keeps room names unique ignoring case), `users.display_name_sealed`,
`audit_log.detail_sealed` and `at_rest_keys` (docs/decisions/0008).

The migration holds no key, so it moves no data: on its next start the server seals every row
still in clear, in batches, before it serves (storage/sql/reseal.py), and empties the
plaintext columns; until then readers fall back to the plaintext column of such a row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN / CREATE INDEX: a batch copy of `users` or `conversations` would have to
    # drop a table that other tables reference.
    op.create_table(
        "at_rest_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("active_from", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_at_rest_keys")),
    )
    op.add_column("messages", sa.Column("body_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("conversations", sa.Column("name_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("conversations", sa.Column("topic_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("conversations", sa.Column("name_hash", sa.LargeBinary(32), nullable=True))
    op.add_column("users", sa.Column("display_name_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("audit_log", sa.Column("detail_sealed", sa.LargeBinary(), nullable=True))
    # Uniqueness moves to the blind index; the plaintext indexes go with the plaintext.
    op.drop_index("uq_conversations_room_name", table_name="conversations")
    op.drop_index("ix_conversations_name_lower", table_name="conversations")
    op.drop_index("ix_users_display_name_lower", table_name="users")
    op.create_index(
        "uq_conversations_room_name_hash",
        "conversations",
        ["name_hash"],
        unique=True,
        sqlite_where=sa.text("kind = 'room'"),
        postgresql_where=sa.text("kind = 'room'"),
    )


def downgrade() -> None:
    # Schema only: values sealed since are dropped with their columns (the plaintext columns
    # were emptied), so a downgrade of a database in use loses those names and bodies.
    op.drop_index("uq_conversations_room_name_hash", table_name="conversations")
    op.create_index("ix_users_display_name_lower", "users", ["display_name_lower"])
    op.create_index("ix_conversations_name_lower", "conversations", ["name_lower"])
    op.create_index(
        "uq_conversations_room_name",
        "conversations",
        ["name_lower"],
        unique=True,
        sqlite_where=sa.text("kind = 'room'"),
        postgresql_where=sa.text("kind = 'room'"),
    )
    # SQLite ≥ 3.35 drops columns in place (no batch copy of referenced tables).
    op.drop_column("audit_log", "detail_sealed")
    op.drop_column("users", "display_name_sealed")
    op.drop_column("conversations", "name_hash")
    op.drop_column("conversations", "topic_sealed")
    op.drop_column("conversations", "name_sealed")
    op.drop_column("messages", "body_sealed")
    op.drop_table("at_rest_keys")
