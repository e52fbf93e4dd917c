"""Errors the SDK raises: HTTP problems (`ApiError`), WebSocket error frames (`RealtimeError`)."""

from __future__ import annotations


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
