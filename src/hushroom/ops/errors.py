"""The one error operators see from backup and restore, and the progress callback type."""

from __future__ import annotations

from typing import Protocol


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why and what to do. Raised
    before anything is changed unless the message says otherwise."""


class Progress(Protocol):
    """Told how far a long step got: `phase` names the step, `done` of `total` bytes."""

    def __call__(self, phase: str, done: int, total: int) -> None: ...


def no_progress(phase: str, done: int, total: int) -> None:
    """A Progress that reports nothing (tests, scripts)."""
