"""The ASGI app of one node: HTTP API, WebSocket gateway and the web client on one origin."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hushroom.api import (
    admin,
    auth,
    consent,
    conversations,
    health,
    http_metrics,
    keys,
    problems,
    rooms,
    sign_in,
    users,
    web,
)
from hushroom.api.edges import RequestEdges
from hushroom.api.request_log import RequestLog
from hushroom.config import Settings
from hushroom.container import Container
from hushroom.gateway import routes as gateway_routes
from hushroom.gateway import wire
from hushroom.gateway.connection import ConnectionRegistry
from hushroom.gc_pauses import GcPauses
from hushroom.metrics import Metrics
from hushroom.security_headers import install as install_security_headers

log = logging.getLogger("hushroom.http")


def check_wire(metrics: Metrics) -> None:
    """The direct frame writes' start-up self-check (gateway/wire.py): a gauge, and one warning
    when they are off."""
    missing = wire.self_check()
    metrics.wire_direct_writes.set(0 if missing else 1)
    if missing:
        logging.getLogger("hushroom.gateway").warning(
            "direct frame writes are off, using plain ASGI sends: missing %s",
            ", ".join(missing),
        )


def create_app(
    settings: Settings | None = None,
    container: Container | None = None,
    *,
    freeze_startup_objects: bool = False,
) -> FastAPI:
    """`freeze_startup_objects`: for a serving process (`hushroom serve`); see gc_pauses.py."""
    container = container or Container(settings or Settings())
    gc_pauses = GcPauses(container.metrics.gc_pauses)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await container.start()
        check_wire(container.metrics)
        gc_pauses.start(freeze=freeze_startup_objects)
        try:
            yield
        finally:
            gc_pauses.stop()
            # Clients get 1012 and reconnect (elsewhere); give the closes a moment to flush.
            connections.shutdown_all()
            await asyncio.sleep(0.2)
            await container.stop()
            container.metrics.process_exiting()

    app = FastAPI(
        title="Hushroom",
        version="0.1.0",
        summary="Self-hostable, end-to-end encrypted web chat",
        lifespan=lifespan,
        # Operator-only (HUSHROOM_API_DOCS); `app.openapi()` works either way.
        openapi_url="/openapi.json" if container.settings.api_docs else None,
        docs_url=None,
        redoc_url=None,
    )
    connections = ConnectionRegistry(container)
    app.state.container = container
    app.state.connections = connections
    problems.install(app)
    # Body limit and request-target checks, inside the request log (which records the 413s).
    app.add_middleware(RequestEdges, max_body_bytes=container.settings.max_request_body_bytes)
    # Outermost, around ServerErrorMiddleware too: every response carries the headers.
    install_security_headers(app, container.settings)
    # Around that too: counts every response, errors by their problem code.
    http_metrics.install(app, container.metrics)

    # Outside the edges: the request log records their 413s and 414s.
    app.add_middleware(RequestLog)

    for router in (
        health.router,
        auth.router,
        auth.ticket_router,
        users.router,
        keys.router,
        sign_in.router,
        rooms.router,
        conversations.router,
        consent.router,
        admin.router,
    ):
        app.include_router(router)
    app.router.routes.append(gateway_routes.route)
    # Outermost of all: sockets skip the HTTP-only layers (idle memory, gateway/routes.py).
    app.add_middleware(gateway_routes.DirectGateway)

    # Last: the web client's catch-all must not shadow any API route.
    web.install(app, web.resolve_dist(container.settings.web_dist))

    return app
