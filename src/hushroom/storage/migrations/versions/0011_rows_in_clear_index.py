"""partial indexes on rows still in clear, so the start-up reseal does not read whole tables

Every start runs the reseal of rows written before 0010 (storage/sql/reseal.py), which asked
`messages` and `audit_log` for rows with a NULL sealed value and a plaintext one: a full scan,
seconds on a table of millions of messages (end-to-end encrypted messages have neither). Partial
indexes on exactly those rows are empty once everything is sealed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BODY_IN_CLEAR = "body_sealed IS NULL AND body IS NOT NULL"
_DETAIL_IN_CLEAR = "detail_sealed IS NULL AND detail IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_messages_body_in_clear",
        "messages",
        ["id"],
        sqlite_where=sa.text(_BODY_IN_CLEAR),
        postgresql_where=sa.text(_BODY_IN_CLEAR),
    )
    op.create_index(
        "ix_audit_log_detail_in_clear",
        "audit_log",
        ["id"],
        sqlite_where=sa.text(_DETAIL_IN_CLEAR),
        postgresql_where=sa.text(_DETAIL_IN_CLEAR),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_detail_in_clear", table_name="audit_log")
    op.drop_index("ix_messages_body_in_clear", table_name="messages")
