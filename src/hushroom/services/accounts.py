"""Accounts and sessions. Placeholder: filled in by the accounts work."""

from __future__ import annotations

from hushroom.clock import Clock
from hushroom.config import Settings
from hushroom.events.publisher import EventPublisher
from hushroom.services.tokens import TokenService
from hushroom.storage.unit import Storage


class AccountService:
    def __init__(
        self,
        storage: Storage,
        tokens: TokenService,
        events: EventPublisher,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._storage = storage
        self._tokens = tokens
        self._events = events
        self._clock = clock
        self._settings = settings
