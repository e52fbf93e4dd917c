"""End-to-end encrypted messages for the SDK (docs/crypto.md §8, docs/decisions/0005).

`E2ee` (one per `HushroomClient`, as `client.e2ee`) does everything between "send this text" and
the server's envelope check, and back:

- **Key sets.** Before sending to a DM or private group it makes sure of a current conversation
  key: the server's current generation if it is not stale and this user has a box in it (the key
  set verified per §8.3 and the box opened), otherwise generation current+1 created for the
  current members — DM: the pair; group: the state at the head of the verified membership log —
  each sealed to the member's latest PUK certificate verified under their pinned identity key.
  A lost race (`key_generation_taken`) or an outdated view (`key_set_outdated`) refetches and
  tries again (bounded).
- **Envelopes.** Sealed with this device's key and a per-(device, conversation) counter. A send
  refused with `stale_key_generation` gets the next generation and is re-sealed with the same
  client message id and counter, transparently; a retry of the same client message id (a lost
  ack, a duplicated send) reuses the very same envelope bytes.
- **Receiving.** `decrypt(message)` opens an envelope (fetching the key set of its generation,
  cached per (conversation, generation)) and checks its counter (§8.5, fed in seq order per
  conversation). Nothing is dropped silently: a message that does not verify comes back as a
  `DecryptedMessage` whose `error` says why, and `undecryptable` counts them.
- **Restarts.** Everything is in memory; `device_state()` gives what a restart must keep to
  go on as the same device (its key and counters), `HushroomClient.restore_device` takes it back.
- **Membership.** Private groups are created and changed with entries signed by this device
  (`create_group`, `add_members`, `remove_member`, `leave`, `set_role`); the log is verified
  entry by entry against pinned identity keys before anyone is sealed a key.

The plaintext of a text message is the UTF-8 JSON ``{"type": "text", "body": "<text>"}``
(`hushroom.crypto.event`, docs/crypto.md §8.7).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from hushroom.client.directory import ContactKeys
from hushroom.client.errors import (
    ApiError,
    EncryptionError,
    IdentityKeyChanged,
    KeyDirectoryInvalid,
    RealtimeError,
)
from hushroom.client.events import MessageEvent, RealtimeEvent
from hushroom.client.keys import UnlockedKeys
from hushroom.client.models import (
    Conversation,
    Id,
    Message,
    SendAck,
    b64url_decode,
    b64url_encode,
    id_str,
    new_client_msg_id,
)
from hushroom.crypto.conversation_key import (
    ConversationKey,
    KeySetStatement,
    create_key_set,
    open_key_set,
    verify_key_set,
)
from hushroom.crypto.device import DeviceCertificate, DeviceKey
from hushroom.crypto.envelope import (
    CounterResult,
    CounterTracker,
    open_envelope,
    peek_header,
    seal_envelope,
)
from hushroom.crypto.errors import CryptoError, Malformed, ReplayDetected, WrongGeneration
from hushroom.crypto.event import MessageEvent as Event
from hushroom.crypto.event import decode_event, encode_text_event
from hushroom.crypto.membership import (
    ADD,
    ADMIN,
    CREATE,
    LEAVE,
    MEMBER,
    REMOVE,
    REMOVED,
    ROLE,
    MembershipChange,
    MembershipState,
    decode_membership_entry,
    sign_membership_entry,
)
from hushroom.crypto.puk import PukKeyPair

if TYPE_CHECKING:
    from hushroom.client.session import HushroomClient

API: Final = "/api/v1"
# Attempts at getting a key set / appending a membership entry / re-sealing a stale send.
MAX_ATTEMPTS: Final = 6
KEY_SET_PAGE: Final = 100
# Sealed envelopes kept by client message id after their ack (duplicate sends reuse them).
SENT_KEPT: Final = 4096
# Decryption results kept by (conversation, seq): a message seen live and again in history is
# checked (and its counter fed) once.
RESULTS_KEPT: Final = 200_000
# Failures that are not remembered: the next decrypt of that message tries again.
RETRIED_ERRORS: Final = frozenset(
    {"no_key", "unknown_device", "identity_key_changed", "key_directory_invalid", "locked"}
)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class DecryptedMessage:
    """A message as the user sees it. ``error`` is None when it was opened and verified;
    otherwise it names what failed (a crypto error name such as ``InvalidSignature``,
    ``ReplayDetected``, ``WrongGeneration``; or ``no_key`` — no box for this user in that
    generation —, ``unknown_device``, ``identity_key_changed``, ``metadata_mismatch``,
    ``bad_event``, ``membership_log_invalid``) and ``text`` is None. Failures that may heal
    (``no_key`` while not a member, ``unknown_device``, ``identity_key_changed``) are tried
    again on the next `E2ee.decrypt` of the message; the others are final."""

    message: Message
    text: str | None
    error: str | None = None
    # True for an envelope (DM / private group), False for a public room's plain body.
    encrypted: bool = True
    # The sender device's certificate verified under the sender's pinned identity key and the
    # envelope's signature under it.
    verified_device: bool = False
    generation: int | None = None
    counter: int | None = None
    # §8.5 verdict: "in_order", "gap", "late"; None when not checked (a public room, a failure,
    # or a message older than one already checked in this conversation).
    counter_verdict: str | None = None
    missing: range = range(0)
    event: Event | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def conversation_id(self) -> uuid.UUID:
        return self.message.conversation_id

    @property
    def seq(self) -> int:
        return self.message.seq

    @property
    def sender_id(self) -> uuid.UUID:
        return self.message.sender_id

    @property
    def sender_device_id(self) -> uuid.UUID:
        return self.message.sender_device_id

    @property
    def client_msg_id(self) -> str:
        return self.message.client_msg_id

    def __repr__(self) -> str:
        text = None if self.text is None else f"<{len(self.text)} chars>"
        return (
            f"DecryptedMessage(conversation_id={self.conversation_id}, seq={self.seq}, "
            f"sender_id={self.sender_id}, text={text}, error={self.error!r}, "
            f"generation={self.generation}, counter={self.counter}, "
            f"verdict={self.counter_verdict!r})"
        )


@dataclass(frozen=True, slots=True)
class KeySetInfo:
    """A verified key set of one (conversation, generation) and its opened conversation key."""

    key: ConversationKey = field(repr=False)
    statement: KeySetStatement = field(repr=False)
    membership_index: int | None

    @property
    def generation(self) -> int:
        return self.key.generation

    @property
    def member_ids(self) -> frozenset[str]:
        return self.statement.member_ids


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What a restart must keep to go on as the same device (a browser keeps it in IndexedDB):
    the device key and the last counter used per conversation (docs/decisions/0005 §6).
    Secret: whoever holds it can sign as this device."""

    user_id: str
    device_id: str
    device_key: DeviceKey = field(repr=False)
    counters: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class SealedEnvelope:
    """A message sealed for sending, kept by client message id until long after its ack."""

    conversation_id: str
    counter: int
    timestamp: int
    generation: int
    envelope: bytes = field(repr=False)
    plaintext: bytes = field(repr=False)


class E2ee:
    """A client's end-to-end encryption state (see the module docstring). In memory: a new
    client (a "reload") starts over, with a new device."""

    def __init__(self, client: HushroomClient) -> None:
        self._client = client
        self.contacts = ContactKeys(client.key_directory)
        self.tracker = CounterTracker()
        # Messages that did not open and verify (each counted once).
        self.undecryptable = 0
        self.replays = 0
        # Key sets this client created, and the ones it opened.
        self.key_sets_created = 0
        self.stale_resends = 0
        self._kinds: dict[str, str] = {}
        self._kinds_listed = False
        self._dm_pairs: dict[str, frozenset[str]] = {}
        self._key_sets: dict[str, dict[int, KeySetInfo]] = {}
        self._no_box: set[tuple[str, int]] = set()
        self._listed: dict[str, int] = {}
        self._sending: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._logs: dict[str, list[MembershipState]] = {}
        self._counters: dict[tuple[str, str], int] = {}
        self._outbox: OrderedDict[str, SealedEnvelope] = OrderedDict()
        self._results: OrderedDict[tuple[str, int], DecryptedMessage] = OrderedDict()
        self._observed: dict[str, int] = {}
        self._failed: set[tuple[str, int]] = set()

    def __repr__(self) -> str:
        return (
            f"E2ee(conversations={len(self._key_sets)}, undecryptable={self.undecryptable}, "
            f"key_sets_created={self.key_sets_created})"
        )

    # --- plumbing ----------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        return await self._client.http.request(method, API + path, json=json, params=params)

    def _keys(self) -> UnlockedKeys:
        keys = self._client.keys
        if keys is None:
            raise EncryptionError("locked", "log in with the password first (the vault is locked)")
        return keys

    def _me(self) -> str:
        return self._keys().user_id

    def _device(self) -> tuple[str, DeviceKey]:
        keys = self._keys()
        if keys.device_id is None or keys.device_key is None:
            raise EncryptionError(
                "no_device_key", "this client does not hold the key of its session's device"
            )
        return keys.device_id, keys.device_key

    async def own_certificate(self) -> DeviceCertificate:
        device_id, device_key = self._device()
        cert = await self.contacts.device_certificate(self._me(), device_id)
        if cert is None or cert.public_key != device_key.public_key:
            raise EncryptionError("device_not_certified", "this device has no valid certificate")
        return cert

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    def remember(self, conversation: Conversation) -> None:
        """Note a conversation's kind (saves a request on its first send or decrypt)."""
        self._kinds[str(conversation.id)] = conversation.kind

    async def kind(self, conversation_id: Id) -> str:
        conv = id_str(conversation_id)
        kind = self._kinds.get(conv)
        if kind is None and not self._kinds_listed:
            # One request learns the kind of every conversation this user is in.
            self._kinds_listed = True
            for conversation in await self._client.list_conversations():
                self.remember(conversation)
            kind = self._kinds.get(conv)
        if kind is None:
            data = await self._call("GET", f"/conversations/{conv}")
            kind = self._kinds[conv] = str(data["kind"])
        return kind

    # --- membership --------------------------------------------------------------------------

    async def _dm_pair(self, conv: str) -> frozenset[str]:
        pair = self._dm_pairs.get(conv)
        if pair is None:
            members = await self._client.members(conv)
            pair = frozenset(id_str(m["user_id"]) for m in members)
            if not 1 <= len(pair) <= 2:
                raise EncryptionError("bad_dm", "a direct conversation has one or two users")
            self._dm_pairs[conv] = pair
        return pair

    async def group_state(self, conversation_id: Id, *, at: int | None = None) -> MembershipState:
        """The verified membership state after entry `at` (the head when None: always fetched
        then). Raises `EncryptionError("membership_log_invalid")` when the log does not verify
        or is shorter than what this client verified before."""
        conv = id_str(conversation_id)
        states = self._logs.setdefault(conv, [])
        if at is None or at >= len(states):
            await self._sync_log(conv, states)
        target = len(states) - 1 if at is None else at
        if not 0 <= target < len(states):
            raise EncryptionError(
                "membership_log_invalid", f"the membership log has no entry {target}"
            )
        return states[target]

    async def _sync_log(self, conv: str, states: list[MembershipState]) -> None:
        while True:
            params: dict[str, str | int] = {}
            if states:
                params["after"] = states[-1].index
            data = await self._call("GET", f"/conversations/{conv}/membership", params=params)
            head = int(data["head_index"])
            if head < len(states) - 1:
                raise EncryptionError(
                    "membership_log_invalid",
                    "the server's membership log is shorter than the one verified before",
                )
            entries = sorted(data["entries"], key=lambda e: int(e["index"]))
            if not entries:
                if head != len(states) - 1:
                    raise EncryptionError("membership_log_invalid", "membership entries missing")
                return
            raws = [b64url_decode(str(e["entry"])) for e in entries]
            await self._prefetch_signers(raws)
            state = states[-1] if states else MembershipState.empty(conv)
            for raw in raws:
                try:
                    state, _ = state.apply(raw, self.contacts.cached_certificate)
                except CryptoError as exc:
                    raise EncryptionError(
                        "membership_log_invalid", f"{type(exc).__name__}: {exc}"
                    ) from exc
                states.append(state)
            if state.index >= head:
                return

    async def _prefetch_signers(self, raws: Iterable[bytes]) -> None:
        signers: set[tuple[str, str]] = set()
        for raw in raws:
            try:
                entry = decode_membership_entry(raw)
            except CryptoError:
                continue  # apply() reports it
            signers.add((entry.signer_user_id, entry.signer_device_id))
        for user_id, device_id in sorted(signers):
            if self.contacts.cached_certificate(user_id, device_id) is None:
                await self.contacts.device_certificate(user_id, device_id)

    async def _expected_members(self, conv: str, membership_index: int | None) -> frozenset[str]:
        kind = await self.kind(conv)
        if kind == "dm":
            return await self._dm_pair(conv)
        if kind == "group":
            if membership_index is None:
                raise EncryptionError("membership_log_invalid", "key set without a log index")
            return (await self.group_state(conv, at=membership_index)).member_ids()
        raise EncryptionError("not_private", "public rooms have no conversation keys")

    async def create_group(self, name: str, member_ids: Iterable[Id]) -> Conversation:
        """A new private group: this user its admin, the others members (signed `create`)."""
        me = self._me()
        device_id, device_key = self._device()
        conv = str(uuid.uuid4())
        others = sorted({id_str(m) for m in member_ids} - {me})
        for other in others:  # pin every member's identity key before the group exists
            await self.contacts.directory(other)
        changes = [MembershipChange(me, ADMIN), *(MembershipChange(u, MEMBER) for u in others)]
        cert = await self.own_certificate()
        empty = MembershipState.empty(conv)
        entry = sign_membership_entry(empty, CREATE, changes, device_key, cert, _now_ms())
        body = {"conversation_id": conv, "name": name, "entry": b64url_encode(entry)}
        data = await self._call("POST", "/groups", json=body)
        state, _ = empty.apply(entry, lambda u, d: cert if (u, d) == (me, device_id) else None)
        self._logs[conv] = [state]
        self._kinds[conv] = "group"
        if isinstance(data, dict) and "kind" in data:
            return Conversation.from_json(data)
        return await self._client.get_conversation(conv)

    async def _append(
        self,
        conversation_id: Id,
        build: Callable[[MembershipState], tuple[str, list[MembershipChange]]],
        *,
        still_member: bool = True,
    ) -> MembershipState | None:
        """Sign the entry `build(state)` = (action, changes) on the verified head and append it,
        rebuilding on the new head after a `membership_conflict`."""
        conv = id_str(conversation_id)
        _, device_key = self._device()
        cert = await self.own_certificate()
        for attempt in range(MAX_ATTEMPTS):
            state = await self.group_state(conv)
            action, changes = build(state)
            for change in changes:
                if change.role != REMOVED:
                    await self.contacts.directory(change.user_id)
            entry = sign_membership_entry(state, action, changes, device_key, cert, _now_ms())
            try:
                await self._call(
                    "POST", f"/groups/{conv}/membership", json={"entry": b64url_encode(entry)}
                )
            except ApiError as exc:
                if exc.code == "membership_conflict" and attempt + 1 < MAX_ATTEMPTS:
                    continue
                raise
            # The server has it; the next refresh verifies it like any other entry.
            self._sending.pop(conv, None)
            return await self.group_state(conv) if still_member else None
        raise AssertionError("unreachable")

    async def _change(
        self,
        conversation_id: Id,
        build: Callable[[MembershipState], tuple[str, list[MembershipChange]]],
    ) -> MembershipState:
        state = await self._append(conversation_id, build)
        assert state is not None
        return state

    async def add_members(
        self, conversation_id: Id, user_ids: Iterable[Id], *, role: str = MEMBER
    ) -> MembershipState:
        new = sorted({id_str(u) for u in user_ids})

        def build(state: MembershipState) -> tuple[str, list[MembershipChange]]:
            return ADD, [MembershipChange(u, role) for u in new if u not in state.members]

        return await self._change(conversation_id, build)

    async def remove_member(self, conversation_id: Id, user_id: Id) -> MembershipState:
        uid = id_str(user_id)
        return await self._change(
            conversation_id, lambda s: (REMOVE, [MembershipChange(uid, REMOVED)])
        )

    async def set_role(self, conversation_id: Id, user_id: Id, role: str) -> MembershipState:
        uid = id_str(user_id)
        return await self._change(conversation_id, lambda s: (ROLE, [MembershipChange(uid, role)]))

    async def leave(self, conversation_id: Id, *, successor: Id | None = None) -> None:
        """Leave a private group; the last admin names a `successor` (or one is picked)."""
        me = self._me()

        def build(state: MembershipState) -> tuple[str, list[MembershipChange]]:
            changes = [MembershipChange(me, REMOVED)]
            others = sorted(set(state.members) - {me})
            is_last_admin = state.members.get(me) == ADMIN and not (state.admins() - {me})
            heir = id_str(successor) if successor is not None else None
            if heir is None and is_last_admin and others:
                heir = next((u for u in others if state.members[u] == MEMBER), None)
            if heir is not None and state.members.get(heir) == MEMBER:
                changes.append(MembershipChange(heir, ADMIN))
            return LEAVE, changes

        await self._append(conversation_id, build, still_member=False)

    # --- key sets ----------------------------------------------------------------------------

    def _puks(self) -> dict[int, PukKeyPair]:
        keys = self._keys()
        return {g: keys.puk(g) for g in keys.puk_generations}

    async def _open_item(self, conv: str, item: Mapping[str, Any]) -> KeySetInfo:
        generation = int(item["generation"])
        creator = id_str(str(item["creator_user_id"]))
        creator_device = id_str(str(item["creator_device_id"]))
        index = item.get("membership_index")
        membership_index = None if index is None else int(index)
        cert = await self.contacts.device_certificate(creator, creator_device)
        if cert is None:
            raise EncryptionError("unknown_device", "the key set's creator device is unknown")
        expected = await self._expected_members(conv, membership_index)
        statement = verify_key_set(
            b64url_decode(str(item["statement"])), cert, conv, generation, expected
        )
        box = b64url_decode(str(item["box"]))
        me = self._me()
        try:
            key = open_key_set(statement, box, me, self._puks())
        except WrongGeneration:
            # Sealed to a PUK generation this session does not hold yet (another device
            # revoked one meanwhile): unlock the vault again and retry once.
            if not await self._client.reload_keys():
                raise
            key = open_key_set(statement, box, me, self._puks())
        info = KeySetInfo(key, statement, membership_index)
        self._key_sets.setdefault(conv, {})[generation] = info
        return info

    async def sync_key_sets(self, conversation_id: Id) -> tuple[int, bool]:
        """Fetch and open every key set after the last one listed; returns the server's
        (current_generation, stale)."""
        conv = id_str(conversation_id)
        current, stale = 0, False
        while True:
            after = self._listed.get(conv, 0)
            params: dict[str, str | int] = {"after": after, "limit": KEY_SET_PAGE}
            data = await self._call("GET", f"/conversations/{conv}/key-sets", params=params)
            current, stale = int(data["current_generation"]), bool(data["stale"])
            items = data["key_sets"]
            known = self._key_sets.setdefault(conv, {})
            for item in items:
                generation = int(item["generation"])
                if generation not in known:
                    await self._open_item(conv, item)
                self._listed[conv] = max(self._listed.get(conv, 0), generation)
            if len(items) < KEY_SET_PAGE:
                return current, stale

    async def key_set(self, conversation_id: Id, generation: int) -> KeySetInfo:
        """The verified key set and opened key of one generation (cached). Raises
        `EncryptionError("no_key")` when this user has no box in it."""
        conv = id_str(conversation_id)
        info = self._key_sets.get(conv, {}).get(generation)
        if info is not None:
            return info
        if (conv, generation) in self._no_box:
            raise EncryptionError("no_key", "no box for this user in that generation")
        try:
            if generation > self._listed.get(conv, 0):
                await self.sync_key_sets(conv)
                info = self._key_sets.get(conv, {}).get(generation)
                if info is not None:
                    return info
            item = await self._call("GET", f"/conversations/{conv}/key-sets/{generation}")
        except ApiError as exc:
            if exc.status in (403, 404):
                if exc.status == 404:  # no box, ever: a key set never changes
                    self._no_box.add((conv, generation))
                raise EncryptionError(
                    "no_key", f"no box for this user in that generation ({exc.code})"
                ) from exc
            raise
        return await self._open_item(conv, item)

    async def current_key(self, conversation_id: Id) -> KeySetInfo:
        """The key to seal with now: the server's current generation when it is not stale and
        this user has it, otherwise a new generation for the current members."""
        conv = id_str(conversation_id)
        async with self._lock(conv):
            generation = self._sending.get(conv)
            if generation is not None:
                return self._key_sets[conv][generation]
            for attempt in range(MAX_ATTEMPTS):
                current, stale = await self.sync_key_sets(conv)
                info = self._key_sets.get(conv, {}).get(current)
                if current >= 1 and not stale and info is not None:
                    self._sending[conv] = current
                    return info
                try:
                    info = await self._create_key_set(conv, current + 1, refresh=attempt > 0)
                except ApiError as exc:
                    retry = exc.code in (
                        "key_generation_taken",
                        "key_set_outdated",
                        "stale_key_generation",
                        "membership_conflict",
                    )
                    if retry and attempt + 1 < MAX_ATTEMPTS:
                        continue
                    raise
                self._sending[conv] = info.generation
                return info
        raise EncryptionError("no_key", "could not agree on a conversation key")

    async def _create_key_set(self, conv: str, generation: int, *, refresh: bool) -> KeySetInfo:
        kind = await self.kind(conv)
        membership_index: int | None = None
        if kind == "group":
            state = await self.group_state(conv)
            members = state.member_ids()
            membership_index = state.index
        elif kind == "dm":
            members = await self._dm_pair(conv)
        else:
            raise EncryptionError("not_private", "public rooms have no conversation keys")
        _, device_key = self._device()
        cert = await self.own_certificate()
        puks = await asyncio.gather(
            *(self.contacts.latest_puk(m, refresh=refresh or m == self._me()) for m in members)
        )
        key, upload = create_key_set(conv, generation, device_key, cert, puks, _now_ms())
        body = {"generation": generation, "upload": b64url_encode(upload.encode())}
        try:
            await self._call("POST", f"/conversations/{conv}/key-sets", json=body)
        except ApiError as exc:
            if exc.code == "key_set_outdated":
                for m in members:
                    self.contacts.forget(m)
                self._dm_pairs.pop(conv, None)
            raise
        statement = verify_key_set(upload.statement, cert, conv, generation, members)
        info = KeySetInfo(key, statement, membership_index)
        self._key_sets.setdefault(conv, {})[generation] = info
        self.key_sets_created += 1
        return info

    # --- sending -----------------------------------------------------------------------------

    def device_state(self) -> DeviceState:
        """This device's key and send counters, to restore after a restart
        (`HushroomClient.restore_device`)."""
        device_id, device_key = self._device()
        counters = {conv: n for (dev, conv), n in self._counters.items() if dev == device_id}
        return DeviceState(self._me(), device_id, device_key, counters)

    def restore_counters(self, state: DeviceState) -> None:
        for conv, counter in state.counters.items():
            slot = (state.device_id, conv)
            self._counters[slot] = max(self._counters.get(slot, 0), counter)

    def _next_counter(self, conv: str) -> int:
        device_id, _ = self._device()
        slot = (device_id, conv)
        counter = self._counters.get(slot, 0) + 1
        self._counters[slot] = counter
        return counter

    def _seal(self, info: KeySetInfo, cmid: str, sealed: SealedEnvelope) -> bytes:
        device_id, device_key = self._device()
        return seal_envelope(
            info.key,
            device_key,
            sender_user_id=self._me(),
            sender_device_id=device_id,
            client_message_id=cmid,
            timestamp=sealed.timestamp,
            counter=sealed.counter,
            plaintext=sealed.plaintext,
        )

    async def seal(
        self, conversation_id: Id, plaintext: bytes, client_msg_id: str
    ) -> SealedEnvelope:
        """The envelope of `client_msg_id` (sealed once; the same bytes on every retry)."""
        conv = id_str(conversation_id)
        sealed = self._outbox.get(client_msg_id)
        if sealed is not None:
            if sealed.conversation_id != conv:
                raise ValueError("client_msg_id already used in another conversation")
            return sealed
        info = await self.current_key(conv)
        sealed = SealedEnvelope(
            conv, self._next_counter(conv), _now_ms(), info.generation, b"", plaintext
        )
        sealed.envelope = self._seal(info, client_msg_id, sealed)
        self._outbox[client_msg_id] = sealed
        while len(self._outbox) > SENT_KEPT:
            self._outbox.popitem(last=False)
        return sealed

    async def send(
        self,
        conversation_id: Id,
        plaintext: bytes,
        *,
        client_msg_id: str | None = None,
        http: bool = False,
    ) -> SendAck:
        """Seal and send; re-seal on `stale_key_generation` (same id, same counter)."""
        conv = id_str(conversation_id)
        cmid = client_msg_id or new_client_msg_id()
        sealed = await self.seal(conv, plaintext, cmid)
        for attempt in range(MAX_ATTEMPTS):
            envelope = (sealed.generation, sealed.envelope)
            try:
                if http:
                    return await self._client.send_http(conv, envelope=envelope, client_msg_id=cmid)
                return await self._client.send(conv, envelope=envelope, client_msg_id=cmid)
            except (ApiError, RealtimeError) as exc:
                if exc.code != "stale_key_generation" or attempt + 1 >= MAX_ATTEMPTS:
                    raise
            self.stale_resends += 1
            if self._sending.get(conv) == sealed.generation:
                self._sending.pop(conv, None)
            info = await self.current_key(conv)
            if info.generation == sealed.generation:
                # Our view was current a moment ago: ask the server again.
                self._sending.pop(conv, None)
                info = await self.current_key(conv)
            sealed.generation = info.generation
            sealed.envelope = self._seal(info, cmid, sealed)
        raise AssertionError("unreachable")

    async def send_text(
        self,
        conversation_id: Id,
        text: str,
        *,
        client_msg_id: str | None = None,
        http: bool = False,
    ) -> SendAck:
        """A text message: the plain body in a public room, an envelope anywhere else."""
        conv = id_str(conversation_id)
        if await self.kind(conv) == "room":
            if http:
                return await self._client.send_http(conv, body=text, client_msg_id=client_msg_id)
            return await self._client.send(conv, body=text, client_msg_id=client_msg_id)
        return await self.send(
            conv, encode_text_event(text), client_msg_id=client_msg_id, http=http
        )

    # --- receiving ---------------------------------------------------------------------------

    def _keep(self, slot: tuple[str, int], result: DecryptedMessage) -> DecryptedMessage:
        if result.error is not None and slot not in self._failed:
            self._failed.add(slot)
            self.undecryptable += 1
        if result.error in RETRIED_ERRORS:
            return result  # may open later (access regained, key change accepted, …)
        self._failed.discard(slot)
        self._results[slot] = result
        while len(self._results) > RESULTS_KEPT:
            self._results.popitem(last=False)
        return result

    async def decrypt(self, message: Message) -> DecryptedMessage:
        """Open and verify one message (each (conversation, seq) once; later calls return the
        same result). Raises only for transport problems (`ApiError`, …), never for a message
        that does not verify."""
        conv = str(message.conversation_id)
        slot = (conv, message.seq)
        cached = self._results.get(slot)
        if cached is not None:
            return cached
        if message.body is not None:
            result = DecryptedMessage(message, message.body, encrypted=False)
            self._results[slot] = result
            return result
        if message.ciphertext is None:
            return self._keep(slot, DecryptedMessage(message, None, "no_content"))
        try:
            result = await self._open(conv, message)
        except EncryptionError as exc:
            result = DecryptedMessage(message, None, exc.reason, generation=message.generation)
        except IdentityKeyChanged:
            result = DecryptedMessage(message, None, "identity_key_changed")
        except KeyDirectoryInvalid:
            result = DecryptedMessage(message, None, "key_directory_invalid")
        except CryptoError as exc:
            result = DecryptedMessage(message, None, type(exc).__name__)
        return self._keep(slot, result)

    async def _open(self, conv: str, message: Message) -> DecryptedMessage:
        ciphertext = message.ciphertext
        assert ciphertext is not None
        header = peek_header(ciphertext)
        if (
            header.sender_user_id != str(message.sender_id)
            or header.sender_device_id != str(message.sender_device_id)
            or header.client_message_id != message.client_msg_id
            or (message.generation is not None and header.generation != message.generation)
        ):
            return DecryptedMessage(message, None, "metadata_mismatch")
        info = await self.key_set(conv, header.generation)
        cert = await self.contacts.device_certificate(
            header.sender_user_id, header.sender_device_id
        )
        if cert is None:
            return DecryptedMessage(message, None, "unknown_device", generation=header.generation)
        opened = open_envelope(
            ciphertext,
            conversation_id=conv,
            keys={info.generation: info.key},
            key_sets={info.generation: info.statement},
            sender_certificate=cert,
        )
        common: dict[str, Any] = {
            "verified_device": True,
            "generation": header.generation,
            "counter": header.counter,
        }
        try:
            event = decode_event(opened.plaintext)
        except Malformed:
            return DecryptedMessage(message, None, "bad_event", **common)
        verdict: CounterResult | None = None
        if message.seq > self._observed.get(conv, 0):
            self._observed[conv] = message.seq
            try:
                verdict = self.tracker.observe_header(opened.header)
            except ReplayDetected:
                self.replays += 1
                return DecryptedMessage(message, None, "ReplayDetected", **common)
        text = event.body
        return DecryptedMessage(
            message,
            text,
            counter_verdict=None if verdict is None else verdict.verdict.value,
            missing=range(0) if verdict is None else verdict.missing,
            event=event,
            **common,
        )

    async def history(
        self, conversation_id: Id, *, after: int = 0, page_size: int = 200
    ) -> list[DecryptedMessage]:
        """Every message after `after`, oldest first, decrypted."""
        out: list[DecryptedMessage] = []
        async for message in self._client.iter_history(
            conversation_id, after=after, page_size=page_size
        ):
            out.append(await self.decrypt(message))
        return out

    async def next_event(self) -> DecryptedMessage | RealtimeEvent:
        """The next realtime event, a message decrypted (connect first)."""
        event = await self._client.realtime.next_event()
        if isinstance(event, MessageEvent):
            return await self.decrypt(event.message)
        return event

    async def events(self) -> AsyncIterator[DecryptedMessage | RealtimeEvent]:
        while True:
            yield await self.next_event()
