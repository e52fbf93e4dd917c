"""Settings defaults that the README promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from hushroom.config import Settings


def test_data_dir_moves_the_embedded_database_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HUSHROOM_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUSHROOM_DATA_DIR", str(tmp_path / "elsewhere"))
    settings = Settings()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'elsewhere' / 'hushroom.db'}"


def test_an_explicit_database_url_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUSHROOM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HUSHROOM_DATABASE_URL", "postgresql+asyncpg://db/chat")
    assert Settings().database_url == "postgresql+asyncpg://db/chat"


def test_default_database_is_in_the_default_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUSHROOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("HUSHROOM_DATA_DIR", raising=False)
    assert Settings().database_url == "sqlite+aiosqlite:///data/hushroom.db"
