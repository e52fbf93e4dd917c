"""The backup file format, before encryption: a tar holding `manifest.json` and one database
dump, written as a stream so a large dump is never copied on disk or held in memory.

    manifest.json       what the dump is and how to check it (Manifest)
    database.sqlite3    SQLite: a page-for-page copy made with the online backup API, or
    database.pgdump     PostgreSQL: pg_dump --format=custom
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hushroom.ops.errors import BackupError, Progress

FORMAT = "hushroom-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
PAYLOAD_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class Manifest:
    hushroom_version: str
    database: str  # "sqlite" or "postgresql"
    alembic_revision: str
    created_at: str  # ISO 8601, UTC
    tables: dict[str, int]  # row count per table, as dumped
    files: dict[str, str]  # payload name -> SHA-256 (hex)
    format_version: int = FORMAT_VERSION
    format: str = field(default=FORMAT)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupError("not a Hushroom backup (the manifest names another format)")
            if data.get("format_version") != FORMAT_VERSION:
                raise BackupError(
                    f"backup format version {data.get('format_version')!r} is not one this "
                    f"version of Hushroom reads ({FORMAT_VERSION}); use a newer Hushroom"
                )
            manifest = cls(
                hushroom_version=str(data["hushroom_version"]),
                database=str(data["database"]),
                alembic_revision=str(data["alembic_revision"]),
                created_at=str(data["created_at"]),
                tables={str(k): int(v) for k, v in data["tables"].items()},
                files={str(k): str(v) for k, v in data["files"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"the backup's manifest is malformed: {exc}") from exc
        if manifest.database not in PAYLOAD_NAMES:
            raise BackupError(f"the backup is of an unknown database kind {manifest.database!r}")
        if set(manifest.files) != {PAYLOAD_NAMES[manifest.database]}:
            raise BackupError("the backup's manifest lists unexpected files")
        return manifest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class TarStream(io.RawIOBase):
    """A tar archive of (name, bytes or file) members, produced as it is read.

    `tarfile` can only write to a file object; this turns it around so the encrypter can pull
    from it, and the dump goes from its temp file into the encrypted output in one pass."""

    def __init__(self, members: list[tuple[str, bytes | Path]], mtime: int) -> None:
        super().__init__()
        self._plan = [(name, content, self._size(content)) for name, content in members]
        self._mtime = mtime
        self._chunks = self._generate()
        self._pending = b""
        self.total = sum(len(self._header(n, s)) + s + (-s % 512) for n, _, s in self._plan) + 1024

    @staticmethod
    def _size(content: bytes | Path) -> int:
        return len(content) if isinstance(content, bytes) else content.stat().st_size

    def _header(self, name: str, size: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, self._mtime, 0o600
        return info.tobuf(format=tarfile.PAX_FORMAT)

    def _generate(self) -> Iterator[bytes]:
        for name, content, size in self._plan:
            yield self._header(name, size)
            if isinstance(content, bytes):
                yield content
            else:
                sent = 0
                with content.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        sent += len(chunk)
                        yield chunk
                if sent != size:
                    raise BackupError(f"{name} changed size while it was being archived")
            yield b"\0" * (-size % 512)
        yield b"\0" * 1024  # the end-of-archive marker: two zero blocks

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class ProgressReader(io.RawIOBase):
    """Passes reads through, telling `progress` about each MiB (not each 8 KiB read)."""

    def __init__(self, inner: Any, phase: str, total: int, progress: Progress) -> None:
        super().__init__()
        self._inner, self._phase, self._total, self._progress = inner, phase, total, progress
        self._done = self._reported = 0
        progress(phase, 0, total)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n: int = self._inner.readinto(buffer)
        self._done += n
        if n == 0 or self._done - self._reported >= CHUNK:
            self._reported = self._done
            self._progress(self._phase, self._done, max(self._total, self._done))
        return n


def read_archive(tar_path: Path, workdir: Path) -> tuple[Manifest, Path]:
    """Open a decrypted backup: the manifest, and the payload extracted into `workdir` after
    its SHA-256 matched the manifest's. Anything else in the tar is refused."""
    try:
        with tarfile.open(tar_path, mode="r:") as tar:
            members = {m.name: m for m in tar.getmembers()}
            manifest_member = members.get(MANIFEST_NAME)
            if manifest_member is None or not manifest_member.isfile():
                raise BackupError("the backup has no manifest.json")
            manifest = Manifest.from_json(_read_member(tar, manifest_member))
            (payload_name,) = manifest.files
            if set(members) != {MANIFEST_NAME, payload_name} or not members[payload_name].isfile():
                raise BackupError("the backup holds other files than its manifest lists")
            # Extracted by hand under a fixed name: a member name never becomes a path.
            target = workdir / payload_name
            digest = hashlib.sha256()
            source = tar.extractfile(members[payload_name])
            if source is None:
                raise BackupError(f"{payload_name} in the backup is not a regular file")
            with source, target.open("wb") as out:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"the decrypted backup is not a valid archive: {exc}") from exc
    if digest.hexdigest() != manifest.files[payload_name]:
        raise BackupError(f"checksum mismatch: {payload_name} is not what the manifest lists")
    return manifest, target


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if member.size > 16 << 20:
        raise BackupError("the backup's manifest is implausibly large")
    source: IO[bytes] | None = tar.extractfile(member)
    if source is None:
        raise BackupError(f"{member.name} in the backup is not a regular file")
    with source:
        return source.read()
