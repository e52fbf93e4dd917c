"""/readyz during a rolling upgrade: a node is not ready when the database is behind its code,
and stays ready on a newer release's schema (migrations are backward compatible for one
release)."""

from __future__ import annotations

from hushroom.storage import migrate


def test_a_database_at_head_is_not_behind() -> None:
    assert not migrate.schema_behind(migrate.head_revision())


def test_an_empty_or_older_database_is_behind() -> None:
    assert migrate.schema_behind(None)
    assert migrate.schema_behind("0009")


def test_a_newer_releases_revision_is_not_behind() -> None:
    assert not migrate.schema_behind("9999_from_a_newer_release")
