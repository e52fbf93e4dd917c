"""The WebSocket endpoint."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from hushroom.gateway.connection import handle

router = APIRouter()


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    await handle(websocket, state.container, state.connections)
