from __future__ import annotations

from alembic import context

from hushroom.storage.sql.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always driven by hushroom.storage.migrate
    raise RuntimeError("run migrations with `hushroom db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
