"""Every HTTP error is application/problem+json (RFC 9457) with a stable `code`; no stack traces."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from hushroom.errors import HushroomError, RateLimited, ServiceUnavailable

log = logging.getLogger("hushroom.api")

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"https://hushroom.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    # Drop the "body"/"query"/"path" prefix: clients want the field name.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(HushroomError)
    async def _domain(_request: Request, exc: HushroomError) -> Response:
        headers = None
        if isinstance(exc, RateLimited | ServiceUnavailable):
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
        extra: dict[str, Any] = {"field": exc.field} if exc.field else {}
        if exc.extra:
            extra.update(exc.extra)
        return problem(
            exc.status, exc.code, exc.title, exc.detail, extra=extra or None, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field_path(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0]["field"] if errors else None
        return problem(
            422,
            "validation_failed",
            "The request is not valid",
            f"{first}: {errors[0]['message']}" if errors else None,
            extra={"field": first, "errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return problem(
            exc.status_code,
            code,
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        # Logged with its type only: exception text from drivers can carry user data.
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        return problem(500, "internal_error", "Something went wrong on our side")
