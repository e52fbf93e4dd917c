"""The asyncio Python SDK (tests, bots, the benchmark): HTTP API and realtime WebSocket.

Start with `HushroomClient`; its `realtime` connection yields `RealtimeEvent`s. Nothing here does
I/O at import time or keeps module state.
"""

from hushroom.client.errors import (
    ApiError,
    ClientClosed,
    ConnectionFailed,
    HushroomClientError,
    RealtimeError,
)
from hushroom.client.events import (
    Connected,
    Disconnected,
    MessageEvent,
    RealtimeEvent,
    ServerEvent,
)
from hushroom.client.handshake import fetch_ticket, open_socket
from hushroom.client.http import HttpClient
from hushroom.client.models import (
    Conversation,
    HistoryPage,
    Login,
    Message,
    SendAck,
    UserProfile,
    new_client_msg_id,
)
from hushroom.client.pacing import Backoff, RateLimit
from hushroom.client.realtime import Realtime
from hushroom.client.sequencer import Hole, Sequencer
from hushroom.client.session import HushroomClient, derive_auth_secret

__all__ = [
    "ApiError",
    "Backoff",
    "ClientClosed",
    "Connected",
    "ConnectionFailed",
    "Conversation",
    "Disconnected",
    "HistoryPage",
    "Hole",
    "HttpClient",
    "HushroomClient",
    "HushroomClientError",
    "Login",
    "Message",
    "MessageEvent",
    "RateLimit",
    "Realtime",
    "RealtimeError",
    "RealtimeEvent",
    "SendAck",
    "Sequencer",
    "ServerEvent",
    "UserProfile",
    "derive_auth_secret",
    "fetch_ticket",
    "new_client_msg_id",
    "open_socket",
]
