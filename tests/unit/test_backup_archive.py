"""The backup format without a database: the streamed tar is a plain tar of the declared size,
manifests round-trip and odd ones are refused, and the PostgreSQL URL reaches libpq tools with
its password kept off the command line."""

from __future__ import annotations

import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from hushroom.ops.archive import Manifest, TarStream, read_archive, sha256_file
from hushroom.ops.errors import BackupError
from hushroom.ops.postgres_db import libpq_target


def manifest_for(payload: Path) -> Manifest:
    return Manifest(
        hushroom_version="0.1.0",
        database="sqlite",
        alembic_revision="0009",
        created_at="2026-12-04T14:00:00+00:00",
        tables={"users": 2},
        files={"database.sqlite3": sha256_file(payload)},
    )


def archive(tmp_path: Path, manifest: Manifest, payload: Path) -> Path:
    stream = TarStream([("manifest.json", manifest.to_json()), ("database.sqlite3", payload)], 0)
    data = stream.read()
    assert len(data) == stream.total
    path = tmp_path / "backup.tar"
    path.write_bytes(data)
    return path


def test_streamed_tar_reads_back_with_checksums(tmp_path: Path) -> None:
    payload = tmp_path / "dump"
    payload.write_bytes(bytes(range(256)) * 1000 + b"tail")
    manifest = manifest_for(payload)
    tar = archive(tmp_path, manifest, payload)
    with tarfile.open(tar) as t:
        assert t.getnames() == ["manifest.json", "database.sqlite3"]
    workdir = tmp_path / "out"
    workdir.mkdir()
    read, extracted = read_archive(tar, workdir)
    assert read == manifest
    assert extracted.read_bytes() == payload.read_bytes()


def test_archive_whose_payload_differs_from_its_manifest_is_refused(tmp_path: Path) -> None:
    payload = tmp_path / "dump"
    payload.write_bytes(b"original")
    manifest = manifest_for(payload)
    payload.write_bytes(b"modified")
    tar = archive(tmp_path, manifest, payload)
    with pytest.raises(BackupError, match="checksum mismatch"):
        read_archive(tar, tmp_path)


def test_archive_with_an_unlisted_member_is_refused(tmp_path: Path) -> None:
    payload = tmp_path / "dump"
    payload.write_bytes(b"db")
    manifest = manifest_for(payload)
    stream = TarStream(
        [
            ("manifest.json", manifest.to_json()),
            ("database.sqlite3", payload),
            ("../escape", b"x"),
        ],
        0,
    )
    tar = tmp_path / "backup.tar"
    tar.write_bytes(stream.read())
    with pytest.raises(BackupError, match="other files"):
        read_archive(tar, tmp_path)
    assert not (tmp_path.parent / "escape").exists()


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"not json", "malformed"),
        (b'{"format": "something-else"}', "not a Hushroom backup"),
        (b'{"format": "hushroom-backup", "format_version": 2}', "format version 2"),
    ],
)
def test_odd_manifests_are_refused(raw: bytes, match: str) -> None:
    with pytest.raises(BackupError, match=match):
        Manifest.from_json(raw)


def test_manifest_naming_other_files_is_refused(tmp_path: Path) -> None:
    payload = tmp_path / "dump"
    payload.write_bytes(b"db")
    odd = replace(manifest_for(payload), files={"database.pgdump": "00"})
    with pytest.raises(BackupError, match="unexpected files"):
        Manifest.from_json(odd.to_json())


def test_postgres_url_becomes_libpq_with_password_in_the_environment() -> None:
    dsn, env = libpq_target(
        "postgresql+asyncpg://hush:s3cr%40t@db.example:5433/hushroom?ssl=require"
    )
    assert dsn == "postgresql://hush@db.example:5433/hushroom?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"
    assert "s3cr" not in dsn


def test_tar_stream_serves_small_reads() -> None:
    stream = TarStream([("manifest.json", b"{}")], 0)
    buffered = io.BufferedReader(stream, buffer_size=7)
    assert len(buffered.read()) == stream.total
