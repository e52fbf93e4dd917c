"""age encryption (https://age-encryption.org) through pyrage, behind typed functions.

Backups are encrypted to X25519 recipients (`age1…`), so the host that makes and stores them
never holds the key that opens them; the standard `age` CLI decrypts them too. pyrage streams
in both directions (64 KiB age chunks), so memory stays flat whatever the backup's size.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

import pyrage  # type: ignore[import-untyped]  # ships no type information

from hushroom.ops.errors import BackupError


def recipients(keys: list[str]) -> list[Any]:
    """Parse `age1…` public keys; refuses anything else (secret keys, SSH keys, typos)."""
    parsed = []
    for key in keys:
        key = key.strip()
        if key.startswith("AGE-SECRET-KEY-"):
            raise BackupError(
                "that is an age identity (secret key): pass its public key (age1…), which "
                "age-keygen -y prints, and keep the secret key off the backup host"
            )
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(key))
        except pyrage.RecipientError as exc:
            raise BackupError(f"not an age X25519 public key (age1…): {key!r}") from exc
    if not parsed:
        raise BackupError("no recipient: pass --recipient age1… or --recipient-file")
    return parsed


def recipients_from_file(path: Path) -> list[str]:
    """The `age1…` lines of a recipients file (as `age -R` reads it: # comments, blanks)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise BackupError(f"cannot read the recipients file {path}: {exc}") from exc
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def identities_from_file(path: Path) -> list[Any]:
    """The `AGE-SECRET-KEY-…` lines of an identity file as age-keygen writes it."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise BackupError(f"cannot read the identity file {path}: {exc}") from exc
    identities = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(pyrage.x25519.Identity.from_str(line))
        except pyrage.IdentityError as exc:
            # Not echoed: the line may be a secret key with a typo.
            raise BackupError(f"{path} holds a line that is not an age X25519 identity") from exc
    if not identities:
        raise BackupError(f"{path} holds no age identity (AGE-SECRET-KEY-…)")
    return identities


def generate_identity() -> tuple[str, str]:
    """A new key pair: (identity `AGE-SECRET-KEY-…`, recipient `age1…`)."""
    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def encrypt(reader: BinaryIO | io.RawIOBase, writer: BinaryIO, to: list[Any]) -> None:
    try:
        pyrage.encrypt_io(reader, writer, to)
    except pyrage.EncryptError as exc:
        raise BackupError(f"encryption failed: {exc}") from exc


def decrypt(reader: BinaryIO | io.RawIOBase, writer: BinaryIO, identities: list[Any]) -> None:
    """Decrypt; age authenticates every chunk and the end, so a changed byte, a truncated file
    or a key that is not a recipient all end here as BackupError. Part of the plaintext may
    already be written by then: the caller must throw `writer`'s output away on error."""
    try:
        pyrage.decrypt_io(reader, writer, identities)
    except (pyrage.DecryptError, OSError) as exc:
        # A chunk that fails authentication mid-stream surfaces as an OSError without errno
        # ("decryption error"); one with errno is real I/O trouble (disk full) and passes on.
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise BackupError(
            "cannot decrypt the backup: the identity is not one it was encrypted to, or the "
            f"file is damaged or was tampered with ({exc})"
        ) from exc
