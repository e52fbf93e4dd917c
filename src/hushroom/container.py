"""Builds every long-lived object once from Settings (like Synapse's HomeServer); no singletons."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

from hushroom.clock import Clock, SystemClock
from hushroom.config import Settings
from hushroom.errors import ServiceUnavailable
from hushroom.events.publisher import EventPublisher
from hushroom.fanout.base import FanoutBackend
from hushroom.fanout.memory import MemoryFanout
from hushroom.fanout.redis import RedisFanout
from hushroom.metrics import Metrics
from hushroom.presence.base import PresenceBackend
from hushroom.presence.memory import MemoryPresence
from hushroom.presence.redis import RedisPresence
from hushroom.services.accounts import AccountService
from hushroom.services.auth_hash import AuthHasher
from hushroom.services.consent import ConsentService
from hushroom.services.conversations import ConversationService
from hushroom.services.key_sets import KeySetService
from hushroom.services.keys import KeyService
from hushroom.services.membership import MembershipService
from hushroom.services.messages import MessageLimits, MessageService
from hushroom.services.moderation import ModerationService
from hushroom.services.presence import PresenceService
from hushroom.services.rate_limits import RateLimits
from hushroom.services.revocations import Revocations
from hushroom.services.rooms import RoomService
from hushroom.services.sessions import SessionService
from hushroom.services.sign_in_providers import SignInProviders
from hushroom.services.social_login import SocialLoginService
from hushroom.services.tokens import TokenService
from hushroom.services.user_stores import UserStoreService
from hushroom.storage.at_rest import AtRestCipher
from hushroom.storage.engine import Database
from hushroom.storage.sql.at_rest_keys import AtRestKeys
from hushroom.storage.sql.reseal import reseal
from hushroom.storage.unit import Storage

log = logging.getLogger("hushroom.at_rest")


class Container:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        # PostgreSQL send batches have their own asyncpg connections, one per batch worker.
        self.db = Database(settings.database_url, driver_pool_size=settings.send_batch_workers)
        # Free text the server can read is sealed at rest (docs/decisions/0008).
        self.at_rest_keys = AtRestKeys(AtRestCipher(settings.resolved_at_rest_key()), self.clock)
        self.storage = Storage(self.db, self.at_rest_keys)
        # Redis when configured (needed for more than one node or worker), memory otherwise.
        self._redis_fanout: RedisFanout | None = None
        self._redis_presence: RedisPresence | None = None
        self.fanout: FanoutBackend
        self.presence_backend: PresenceBackend
        if settings.redis_url:
            self._redis_fanout = RedisFanout(
                settings.redis_url, prefix=settings.redis_prefix, registry=self.metrics.registry
            )
            self._redis_presence = RedisPresence(settings.redis_url, prefix=settings.redis_prefix)
            self.fanout, self.presence_backend = self._redis_fanout, self._redis_presence
        else:
            self.fanout, self.presence_backend = MemoryFanout(), MemoryPresence()
        self.events = EventPublisher(self.fanout)
        secret = settings.resolved_jwt_secret()
        self.tokens = TokenService(secret, self.clock, settings.access_token_ttl_s)
        # Abuse limits: in Redis when configured (shared by every node), memory otherwise.
        self.limits = RateLimits(settings)
        # Ended sessions, refused on every route at once (services/revocations.py).
        self.revocations = Revocations(
            self.storage,
            self.fanout,
            self.clock,
            token_ttl_s=settings.access_token_ttl_s,
            secret=secret,
        )
        hasher = AuthHasher(settings)
        self.accounts = AccountService(self.storage, hasher, self.clock, settings)
        self.sessions = SessionService(
            self.storage,
            self.tokens,
            hasher,
            self.events,
            self.clock,
            settings,
            limits=self.limits,
            revocations=self.revocations,
        )
        self.keys = KeyService(self.storage, hasher, self.sessions, self.clock, settings)
        self.key_sets = KeySetService(self.storage, self.clock)
        self.user_stores = UserStoreService(self.storage, self.clock)
        self.messages = MessageService(
            self.storage,
            self.events,
            self.clock,
            MessageLimits(
                settings.max_text_chars,
                settings.max_ciphertext_bytes,
                send_batch_max=settings.send_batch_max,
                send_batch_workers=settings.send_batch_workers,
                send_batch_spill=settings.send_batch_spill,
            ),
            self.metrics,
        )
        self.presence = PresenceService(
            self.storage, self.presence_backend, self.events, self.clock
        )
        self.rooms = RoomService(self.storage, self.events, self.clock, self.presence)
        self.conversations = ConversationService(
            self.storage, self.events, self.clock, self.presence
        )
        self.membership = MembershipService(self.storage, self.events, self.clock, self.presence)
        self.consent = ConsentService(self.storage, self.events, self.clock, self.presence)
        self.moderation = ModerationService(self.storage, self.events, self.sessions, self.clock)
        self.social_login = SocialLoginService(
            self.storage,
            SignInProviders(settings.sign_in_providers, timeout_s=settings.provider_timeout_s),
            self.accounts,
            self.sessions,
            self.keys,
            self.clock,
            secret=settings.resolved_jwt_secret(),
            flow_ttl_s=settings.sign_in_flow_ttl_s,
            signup_ttl_s=settings.provider_signup_ttl_s,
        )

    async def start(self) -> None:
        # Rows written in clear before migration 0010 are sealed before anything is served
        # (a no-op query per table once done; safe to run in several workers at once). A
        # database down at start (it was up for the migration) must not stop the node: such
        # rows are then read from their plaintext column until the next start seals them.
        try:
            await reseal(self.storage, self.at_rest_keys, only_plaintext=True)
        except (ServiceUnavailable, DBAPIError, OSError):
            log.warning("database unreachable: rows in clear are sealed at the next start")
        await self.fanout.start()
        if self._redis_presence is not None:
            await self._redis_presence.start()
        await self.revocations.start()

    async def stop(self) -> None:
        await self.revocations.stop()
        if self._redis_presence is not None:
            await self._redis_presence.stop()
        await self.fanout.stop()
        await self.limits.stop()
        await self.db.dispose()
