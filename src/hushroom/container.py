"""Builds every long-lived object once from Settings (like Synapse's HomeServer); no singletons."""

from __future__ import annotations

from hushroom.clock import Clock, SystemClock
from hushroom.config import Settings
from hushroom.events.publisher import EventPublisher
from hushroom.fanout.base import FanoutBackend
from hushroom.fanout.memory import MemoryFanout
from hushroom.metrics import Metrics
from hushroom.presence.base import PresenceBackend
from hushroom.presence.memory import MemoryPresence
from hushroom.services.accounts import AccountService
from hushroom.services.conversations import ConversationService
from hushroom.services.messages import MessageLimits, MessageService
from hushroom.services.presence import PresenceService
from hushroom.services.rooms import RoomService
from hushroom.services.tokens import TokenService
from hushroom.storage.engine import Database
from hushroom.storage.unit import Storage


class Container:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        self.db = Database(settings.database_url)
        self.storage = Storage(self.db)
        self.fanout: FanoutBackend = MemoryFanout()
        self.presence_backend: PresenceBackend = MemoryPresence()
        self.events = EventPublisher(self.fanout)
        self.tokens = TokenService(
            settings.resolved_jwt_secret(), self.clock, settings.access_token_ttl_s
        )
        self.accounts = AccountService(self.storage, self.tokens, self.events, self.clock, settings)
        self.rooms = RoomService(self.storage, self.events, self.clock)
        self.conversations = ConversationService(self.storage, self.events, self.clock)
        self.messages = MessageService(
            self.storage,
            self.events,
            self.clock,
            MessageLimits(settings.max_text_chars, settings.max_ciphertext_bytes),
            self.metrics,
        )
        self.presence = PresenceService(
            self.storage, self.presence_backend, self.events, self.clock
        )

    async def start(self) -> None:
        await self.fanout.start()

    async def stop(self) -> None:
        await self.fanout.stop()
        await self.db.dispose()
