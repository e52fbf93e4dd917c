"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from hushroom.api.deps import ContainerDep
from hushroom.api.problems import problem
from hushroom.storage import migrate

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready"}})
async def readyz(c: ContainerDep) -> Response:
    """The database is reachable and not behind this code's migrations (a newer release's
    schema is fine: old nodes keep serving while a rolling upgrade proceeds)."""
    try:
        current = await migrate.current_revision(c.db)
    except Exception:
        return problem(
            503, "database_unreachable", "The database is unreachable", headers={"Retry-After": "5"}
        )
    head = migrate.head_revision()
    if migrate.schema_behind(current):
        return problem(
            503,
            "migration_pending",
            "The database schema is not at the head revision",
            f"current={current} head={head}",
            headers={"Retry-After": "5"},
        )
    return Response(b'{"status":"ready"}', media_type="application/json")


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, c: ContainerDep) -> Response:
    """Operator-only: `Authorization: Bearer <HUSHROOM_METRICS_TOKEN>`; without the setting,
    there is no /metrics (404)."""
    token = c.settings.metrics_token
    if token is None or not token.get_secret_value():
        return problem(404, "not_found", "Not Found")
    expected = f"Bearer {token.get_secret_value()}".encode()
    given = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(given, expected):
        return problem(
            401,
            "unauthenticated",
            "The metrics token is missing or wrong",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # With several workers, every worker's values (metrics.py).
    return Response(c.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
