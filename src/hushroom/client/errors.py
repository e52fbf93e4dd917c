"""Errors the SDK raises: HTTP problems (`ApiError`), WebSocket error frames (`RealtimeError`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hushroom.client.keys import KeyDirectory


class HushroomClientError(Exception):
    """Base of every error raised by `hushroom.client`."""


class ApiError(HushroomClientError):
    """An HTTP error answer (application/problem+json), or a non-JSON error body."""

    def __init__(self, status: int, code: str, detail: str | None, field: str | None) -> None:
        super().__init__(f"{status} {code}: {detail}" if detail else f"{status} {code}")
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field


class RealtimeError(HushroomClientError):
    """An `error` frame that answered one of our frames (matched by `ref`)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field


class ConnectionFailed(HushroomClientError):
    """The realtime connection cannot be (re)established: refused, or closed for good."""

    def __init__(
        self, message: str, *, close_code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        # The WebSocket close code, when the server closed the socket for good.
        self.close_code = close_code
        # The HTTP status, when the handshake or the ticket request was refused.
        self.http_status = http_status


class ClientClosed(HushroomClientError):
    """The client (or its realtime connection) was closed while an operation was waiting."""


class KeyDirectoryInvalid(HushroomClientError):
    """A key directory that does not verify: a certificate not signed by the identity key, for
    another user or device, or a malformed key (``__cause__`` is the crypto core's typed error)."""

    def __init__(self, user_id: str, message: str) -> None:
        super().__init__(f"key directory of {user_id}: {message}")
        self.user_id = user_id


class IdentityKeyChanged(HushroomClientError):
    """The server presented an identity key for a user other than the one pinned (first seen).

    Either the user reset their account or the server is lying: show it to the user and compare
    safety numbers before trusting the new key (`HushroomClient.key_directory(...,
    accept_change=True)` re-pins it). ``directory`` is the new, verified directory.
    """

    def __init__(
        self, user_id: str, pinned: bytes, presented: bytes, directory: KeyDirectory
    ) -> None:
        super().__init__(
            f"identity key of {user_id} changed: pinned {pinned.hex()[:16]}…, "
            f"presented {presented.hex()[:16]}…"
        )
        self.user_id = user_id
        self.pinned = pinned
        self.presented = presented
        self.directory = directory


class EncryptionError(HushroomClientError):
    """End-to-end encryption could not be done: no usable conversation key, a key set or a
    membership log that does not verify, or a device key this client does not hold.
    ``reason`` is a short machine-readable code (e.g. ``no_key``, ``membership_log_invalid``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
