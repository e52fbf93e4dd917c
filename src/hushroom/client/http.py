"""The SDK's HTTP layer: one `httpx.AsyncClient`, bearer tokens, silent refresh, typed errors.

Every non-2xx answer becomes an `ApiError` built from the problem+json body (RFC 9457). A 401 with
code `token_invalid` (the access token expired) is answered once by refreshing the tokens with the
refresh token from the login body and repeating the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

import httpx

from hushroom.client.errors import ApiError

REFRESH_PATH: Final = "/api/v1/auth/refresh"
_MAX_DETAIL: Final = 300


def error_from_response(response: httpx.Response) -> ApiError:
    """An `ApiError` for a non-2xx answer, from its problem+json body when there is one."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = data.get("code")
        detail = data.get("detail") or data.get("title")
        field = data.get("field")
        return ApiError(
            response.status_code,
            code if isinstance(code, str) else "http_error",
            detail if isinstance(detail, str) else None,
            field if isinstance(field, str) else None,
        )
    return ApiError(response.status_code, "http_error", response.text[:_MAX_DETAIL] or None, None)


class HttpClient:
    """JSON over HTTP with the session's tokens. Not thread-safe; one event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, trust_env=False
        )
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self._refresh_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"HttpClient({str(self._http.base_url)!r})"

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    async def aclose(self) -> None:
        await self._http.aclose()

    def set_tokens(self, data: Mapping[str, Any]) -> None:
        """Keep the tokens of a login or refresh answer."""
        self.access_token = str(data["access_token"])
        refresh = data.get("refresh_token")
        if isinstance(refresh, str):
            self.refresh_token = refresh

    def clear_tokens(self) -> None:
        self.access_token = None
        self.refresh_token = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        auth: bool = True,
    ) -> Any:
        """Send one request; return the decoded JSON body (None for an empty one)."""
        token = self.access_token if auth else None
        response = await self._send(method, path, json, params, token)
        if (
            response.status_code == 401
            and auth
            and self.refresh_token is not None
            and error_from_response(response).code == "token_invalid"
        ):
            await self._refresh_after(token)
            response = await self._send(method, path, json, params, self.access_token)
        if response.status_code == 503 and method == "GET":
            # A read the server could not serve yet (a data key another node has just made, a
            # database hiccup): safe to ask once more after the Retry-After it gave (bounded).
            await asyncio.sleep(_retry_after_s(response))
            response = await self._send(method, path, json, params, self.access_token)
        if response.is_error:
            raise error_from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def refresh(self) -> None:
        """Trade the refresh token for new tokens (the server rotates the refresh token)."""
        if self.refresh_token is None:
            raise ApiError(401, "unauthenticated", "no refresh token: log in first", None)
        response = await self._http.post(REFRESH_PATH, json={"refresh_token": self.refresh_token})
        if response.is_error:
            raise error_from_response(response)
        self.set_tokens(response.json())

    async def _refresh_after(self, failed_token: str | None) -> None:
        # Many requests may fail at once when the access token expires: refresh only once.
        async with self._refresh_lock:
            if self.access_token == failed_token:
                await self.refresh()

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, str | int] | None,
        token: str | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        return await self._http.request(method, path, json=json, params=params, headers=headers)


def _retry_after_s(response: httpx.Response, most: float = 2.0) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.0), most)
    except ValueError:
        return 1.0
