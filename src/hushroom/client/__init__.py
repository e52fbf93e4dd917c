"""The asyncio Python SDK (tests, bots, the benchmark): HTTP API and realtime WebSocket.

Start with `HushroomClient`; its `realtime` connection yields `RealtimeEvent`s. Nothing here does
I/O at import time or keeps module state.
"""

from hushroom.client.directory import ContactKeys, FileKeyPins
from hushroom.client.e2ee import (
    DecryptedMessage,
    DeviceState,
    E2ee,
    KeySetInfo,
)
from hushroom.client.errors import (
    ApiError,
    ClientClosed,
    ConnectionFailed,
    EncryptionError,
    HushroomClientError,
    IdentityKeyChanged,
    KeyDirectoryInvalid,
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
from hushroom.client.keys import (
    DirectoryDevice,
    KeyDirectory,
    KeyPinStore,
    MemoryKeyPins,
    UnlockedKeys,
    VaultRecord,
    verify_key_directory,
)
from hushroom.client.models import (
    Conversation,
    Device,
    HistoryPage,
    Login,
    Message,
    Registration,
    SendAck,
    UserProfile,
    new_client_msg_id,
)
from hushroom.client.pacing import Backoff, RateLimit
from hushroom.client.realtime import Realtime
from hushroom.client.sequencer import Hole, Sequencer
from hushroom.client.session import HushroomClient, derive_auth_secret, derive_keys

__all__ = [
    "ApiError",
    "Backoff",
    "ClientClosed",
    "Connected",
    "ConnectionFailed",
    "ContactKeys",
    "Conversation",
    "DecryptedMessage",
    "Device",
    "DeviceState",
    "DirectoryDevice",
    "Disconnected",
    "E2ee",
    "EncryptionError",
    "FileKeyPins",
    "HistoryPage",
    "Hole",
    "HttpClient",
    "HushroomClient",
    "HushroomClientError",
    "IdentityKeyChanged",
    "KeyDirectory",
    "KeyDirectoryInvalid",
    "KeyPinStore",
    "KeySetInfo",
    "Login",
    "MemoryKeyPins",
    "Message",
    "MessageEvent",
    "RateLimit",
    "Realtime",
    "RealtimeError",
    "RealtimeEvent",
    "Registration",
    "SendAck",
    "Sequencer",
    "ServerEvent",
    "UnlockedKeys",
    "UserProfile",
    "VaultRecord",
    "derive_auth_secret",
    "derive_keys",
    "fetch_ticket",
    "new_client_msg_id",
    "open_socket",
    "verify_key_directory",
]
