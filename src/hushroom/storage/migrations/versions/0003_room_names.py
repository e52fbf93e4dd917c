"""room names: public room names are unique, ignoring case

Rooms created before this revision may share a name. The oldest keeps it; each later one is
renamed by appending " (2)", " (3)", … (the first suffix no room uses yet, shortening the name
if the result would exceed 80 characters), then a unique partial index on `name_lower` for
`kind = 'room'` refuses new duplicates (409 `room_name_taken`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEX = "uq_conversations_room_name"
MAX_NAME = 80

_conversations = sa.table(
    "conversations",
    sa.column("id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("name", sa.String()),
    sa.column("name_lower", sa.String()),
    sa.column("created_at", sa.BigInteger()),
)


def _renamed(name: str, taken: set[str]) -> str:
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = name[: MAX_NAME - len(suffix)].rstrip() + suffix
        if candidate.lower() not in taken:
            return candidate
        n += 1


def upgrade() -> None:
    bind = op.get_bind()
    c = _conversations.c
    rows = bind.execute(
        sa.select(c.id, c.name)
        .where(c.kind == "room", c.name.is_not(None))
        .order_by(c.created_at, c.id)
    ).all()
    taken = {row.name.lower() for row in rows}
    seen: set[str] = set()
    for row in rows:
        lower = row.name.lower()
        if lower not in seen:
            seen.add(lower)
            continue
        new_name = _renamed(row.name, taken)
        taken.add(new_name.lower())
        seen.add(new_name.lower())
        bind.execute(
            sa.update(_conversations)
            .where(c.id == row.id)
            .values(name=new_name, name_lower=new_name.lower())
        )
    op.create_index(
        INDEX,
        "conversations",
        ["name_lower"],
        unique=True,
        sqlite_where=sa.text("kind = 'room'"),
        postgresql_where=sa.text("kind = 'room'"),
    )


def downgrade() -> None:
    # Renamed rooms keep their new names.
    op.drop_index(INDEX, table_name="conversations")
