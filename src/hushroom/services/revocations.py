"""Sessions that ended: their access tokens are refused at once, on every route of every node.

An access token is a JWT that stays valid until it expires (15 minutes); logout, logout
everywhere, a password change, a device revocation, a disabled account and a reused refresh
token end sessions before then. Every such path calls `SessionService.publish_revoked` after
its commit, which lands here:

- this node remembers the session ids at once (a dict lookup per authenticated request);
- the other nodes hear of it through the fan-out (memory: this process only; Redis: pub/sub),
  on a channel of their own (`listener_id`, derived from the JWT secret so no account can
  hold that id and receive these events);
- a node that starts, or whose Redis subscriber reconnects (the fan-out then announces
  `sync.stale`), reloads the sessions revoked within one access-token lifetime from the
  database, which is the truth; sockets of sessions found that way are closed.

While the Redis subscriber is down or a reload is pending, `check` reads the session row
instead (one primary-key read per request), so an outage never lets a revoked token through.
Entries are forgotten once every token of the session has expired (`access_token_ttl_s`).

Live sockets of a revoked session close through the `session.revoked` event published to the
user (gateway/protocol.py); `on_reloaded` callbacks cover sessions found by a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable

from hushroom.clock import Clock
from hushroom.errors import TokenInvalid
from hushroom.events.event import Event
from hushroom.fanout.base import SYNC_STALE, FanoutBackend
from hushroom.principal import Principal
from hushroom.storage.unit import Storage
from hushroom.tasks import cancel_and_wait

log = logging.getLogger("hushroom.sessions")

SESSION_REVOKED = "session.revoked"
_LISTENER_LABEL = b"hushroom/v1/revocation-listener"


def listener_id(secret: str) -> uuid.UUID:
    digest = hmac.new(secret.encode("utf-8"), _LISTENER_LABEL, hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


class Revocations:
    """Revoked session ids of the last access-token lifetime; see the module docstring."""

    def __init__(
        self,
        storage: Storage,
        fanout: FanoutBackend,
        clock: Clock,
        *,
        token_ttl_s: float,
        secret: str,
    ) -> None:
        self._storage = storage
        self._fanout = fanout
        self._clock = clock
        self._ttl_s = token_ttl_s
        self._listener = listener_id(secret)
        # session id -> monotonic time after which no token of it is valid (insertion order ≈
        # expiry order, so pruning pops from the front).
        self._revoked: OrderedDict[uuid.UUID, float] = OrderedDict()
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_pending = False
        self._on_reloaded: list[Callable[[set[uuid.UUID]], None]] = []
        self._started = False

    def __repr__(self) -> str:
        return f"Revocations(known={len(self._revoked)})"

    # Subscriber (fan-out) -----------------------------------------------------------------------
    @property
    def user_id(self) -> uuid.UUID:
        return self._listener

    def deliver(self, event: Event) -> None:
        if event.type == SESSION_REVOKED:
            self._remember(_ids(event.payload.get("session_ids")), self._clock.monotonic())
        elif event.type == SYNC_STALE:
            self._schedule_reload()

    # Lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self._fanout.subscribe(self)
        self._started = True
        # Subscribed first: whatever is revoked after the read below arrives as an event.
        self._reload_pending = True
        try:
            await self._reload()
        except Exception:  # the database may be down at start; checks read it meanwhile
            log.warning("could not load revoked sessions; will retry", exc_info=False)
            self._schedule_reload()

    async def stop(self) -> None:
        if self._started:
            self._fanout.unsubscribe(self)
            self._started = False
        await cancel_and_wait([self._reload_task])
        self._reload_task = None

    def on_reloaded(self, callback: Callable[[set[uuid.UUID]], None]) -> None:
        """Called with the session ids a reload found that this node did not know of."""
        self._on_reloaded.append(callback)

    # The check and the announcement --------------------------------------------------------------
    async def check(self, principal: Principal) -> None:
        """TokenInvalid (401) when the principal's session has ended."""
        sid = principal.session_id
        expires = self._revoked.get(sid)
        if expires is not None and expires > self._clock.monotonic():
            raise TokenInvalid()
        if self.degraded:
            async with self._storage.read() as tx:
                session = await tx.sessions.get(sid)
            if session is None or session.revoked_at is not None:
                raise TokenInvalid()

    @property
    def degraded(self) -> bool:
        """True while events from other nodes may be missed (checks then read the database)."""
        return self._reload_pending or not getattr(self._fanout, "connected", True)

    def is_revoked(self, session_id: uuid.UUID) -> bool:
        expires = self._revoked.get(session_id)
        return expires is not None and expires > self._clock.monotonic()

    async def revoked(self, user_id: uuid.UUID, session_ids: Iterable[uuid.UUID]) -> None:
        """After the commit that revoked them: refused here at once, then on every node."""
        ids = sorted(set(session_ids), key=str)
        if not ids:
            return
        self._remember(ids, self._clock.monotonic())
        event = Event(
            type=SESSION_REVOKED,
            payload={"user_id": str(user_id), "session_ids": [str(s) for s in ids]},
            recipients=frozenset({self._listener}),
        )
        # Never raises for Redis trouble; a dropped publish is announced as sync.stale later.
        await self._fanout.publish(event)

    def __len__(self) -> int:
        return len(self._revoked)

    # Internals ----------------------------------------------------------------------------------
    def _remember(self, ids: Iterable[uuid.UUID], since_mono: float) -> list[uuid.UUID]:
        now = self._clock.monotonic()
        self._prune(now)
        expires = since_mono + self._ttl_s
        new: list[uuid.UUID] = []
        for sid in ids:
            if expires <= now:
                continue
            if sid not in self._revoked:
                new.append(sid)
            self._revoked[sid] = max(expires, self._revoked.get(sid, 0.0))
            self._revoked.move_to_end(sid)
        return new

    def _prune(self, now: float) -> None:
        revoked = self._revoked
        while revoked:
            sid, expires = next(iter(revoked.items()))
            if expires > now:
                break
            del revoked[sid]

    def _schedule_reload(self) -> None:
        self._reload_pending = True
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.create_task(
                self._reload_until_done(), name="revocations-reload"
            )

    async def _reload_until_done(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._reload()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # retried: the database may be down for a while
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _reload(self) -> None:
        self._reload_pending = True
        now_ms = self._clock.now_ms()
        mono = self._clock.monotonic()
        async with self._storage.read() as tx:
            rows = await tx.sessions.revoked_since(now_ms - int(self._ttl_s * 1000))
        found: list[uuid.UUID] = []
        for sid, revoked_at in rows:
            # Expressed on the monotonic clock: revoked `age` seconds ago.
            age = max(0.0, (now_ms - revoked_at) / 1000)
            found.extend(self._remember((sid,), mono - age))
        self._reload_pending = False
        if found:
            for callback in self._on_reloaded:
                with contextlib.suppress(Exception):
                    callback(set(found))


def _ids(value: object) -> list[uuid.UUID]:
    if not isinstance(value, list | tuple):
        return []
    ids: list[uuid.UUID] = []
    for item in value:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            ids.append(uuid.UUID(str(item)))
    return ids
