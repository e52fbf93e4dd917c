"""End-to-end encryption for API tests: key sets and real envelopes, built by the Python core.

Accounts come from tests/support/accounts.py (real identity, PUK and device keys). A test that
sends to a private conversation logs in on the device it registered with (the certified one),
uploads a key set for the conversation's current members and seals envelopes under it, exactly
as a client does (docs/crypto.md §8, docs/decisions/0005).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from typing import Any

import httpx

from hushroom.client import HushroomClient
from hushroom.client.models import Id
from hushroom.crypto.account import rekey_account
from hushroom.crypto.conversation_key import ConversationKey, create_key_set
from hushroom.crypto.device import DeviceCertificate, DeviceKey, verify_device_certificate
from hushroom.crypto.encoding import encode, encode_signed
from hushroom.crypto.envelope import seal_envelope
from hushroom.crypto.identity import IdentityPublicKey
from hushroom.crypto.membership import (
    ADD,
    ADMIN,
    CREATE,
    LEAVE,
    MEMBER,
    MEMBERSHIP_LABEL,
    REMOVE,
    REMOVED,
    MembershipChange,
    MembershipState,
    decode_membership_entry,
    sign_membership_entry,
    verify_membership_log,
)
from hushroom.crypto.puk import PukCertificate, verify_puk_certificate
from tests.support.accounts import Account, b64, login, register, unb64, vault_json

API = "/api/v1"


async def keyed_login(client: httpx.AsyncClient, name: str, email: str | None = None) -> Account:
    """Register and log in on the registering device, whose certificate the server holds, so
    the account can upload key sets and send envelopes."""
    account = await register(client, name, email)
    return await login(client, account, device_id=account.registered_device_id)


def device_key(account: Account) -> DeviceKey:
    assert account.device_key is not None, "log in with keyed_login"
    return account.device_key


def device_certificate(account: Account) -> DeviceCertificate:
    """The certificate of the account's registering device (the one keyed_login uses)."""
    assert account.keys is not None and account.keys.device_certificate is not None
    assert account.device_id == account.registered_device_id, "log in with keyed_login"
    return verify_device_certificate(
        account.keys.device_certificate,
        IdentityPublicKey(account.keys.identity_public),
        account.user_id,
        account.device_id,
    )


async def latest_puk(client: httpx.AsyncClient, viewer: Account, user_id: str) -> PukCertificate:
    """A user's latest PUK certificate from the key directory, verified under their identity
    key (a test trusts the directory's identity key; clients pin it)."""
    r = await client.get(f"{API}/users/{user_id}/keys", headers=viewer.headers)
    assert r.status_code == 200, r.text
    directory = r.json()
    identity = IdentityPublicKey(unb64(directory["identity_key"]))
    latest = max(directory["puks"], key=lambda p: p["generation"])
    return verify_puk_certificate(unb64(latest["certificate"]), identity, user_id)


async def member_ids(client: httpx.AsyncClient, viewer: Account, conversation_id: str) -> list[str]:
    r = await client.get(
        f"{API}/conversations/{conversation_id}/members",
        params={"limit": 1000},
        headers=viewer.headers,
    )
    assert r.status_code == 200, r.text
    return [m["user_id"] for m in r.json()["members"]]


async def current_generation(
    client: httpx.AsyncClient, viewer: Account, conversation_id: str
) -> tuple[int, bool]:
    r = await client.get(
        f"{API}/conversations/{conversation_id}/key-sets",
        params={"after": 1_000_000},
        headers=viewer.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()["current_generation"], r.json()["stale"]


async def build_key_set(
    client: httpx.AsyncClient,
    creator: Account,
    conversation_id: str,
    generation: int,
    members: list[str] | None = None,
    puks: list[PukCertificate] | None = None,
) -> tuple[ConversationKey, bytes]:
    """A key set for `generation` sealed to `members` (default: the current members) at their
    latest PUK generations (or to `puks` as given); not uploaded."""
    if puks is None:
        ids = members if members is not None else await member_ids(client, creator, conversation_id)
        puks = [await latest_puk(client, creator, uid) for uid in ids]
    key, upload = create_key_set(
        conversation_id,
        generation,
        device_key(creator),
        device_certificate(creator),
        puks,
        created_at=1,
    )
    return key, upload.encode()


async def post_key_set(
    client: httpx.AsyncClient,
    creator: Account,
    conversation_id: str,
    generation: int,
    upload: bytes,
) -> httpx.Response:
    return await client.post(
        f"{API}/conversations/{conversation_id}/key-sets",
        json={"generation": generation, "upload": b64(upload)},
        headers=creator.headers,
    )


async def new_key(
    client: httpx.AsyncClient, creator: Account, conversation_id: str
) -> ConversationKey:
    """Upload the next generation for the current members and return its key."""
    generation, _stale = await current_generation(client, creator, conversation_id)
    key, upload = await build_key_set(client, creator, conversation_id, generation + 1)
    r = await post_key_set(client, creator, conversation_id, generation + 1, upload)
    assert r.status_code == 201, r.text
    return key


def seal(
    sender: Account,
    key: ConversationKey,
    client_msg_id: str,
    plaintext: bytes = b"hello",
    *,
    counter: int | None = None,
    **header: Any,
) -> bytes:
    """A real envelope from `sender`'s device; `header` overrides header fields (to build
    envelopes that disagree with their send)."""
    fields: dict[str, Any] = {
        "sender_user_id": sender.user_id,
        "sender_device_id": sender.device_id,
        "client_message_id": client_msg_id,
        "timestamp": 1,
        # Increasing per device without keeping state here: a receiver sees gaps, never a
        # replay (the server does not look at counters).
        "counter": counter if counter is not None else time.monotonic_ns(),
        "plaintext": plaintext,
    }
    fields.update(header)
    return seal_envelope(key, device_key(sender), **fields)


def envelope_body(
    sender: Account, key: ConversationKey, plaintext: bytes = b"hello", **header: Any
) -> dict[str, Any]:
    """A send's JSON (HTTP body, or the WebSocket frame's fields) with a fresh client id."""
    cmid = uuid.uuid4().hex
    return {
        "client_msg_id": cmid,
        "envelope": {
            "generation": key.generation,
            "ciphertext": b64(seal(sender, key, cmid, plaintext, **header)),
        },
    }


async def send_sealed(
    client: httpx.AsyncClient,
    sender: Account,
    conversation_id: str,
    key: ConversationKey,
    plaintext: bytes | None = None,
) -> httpx.Response:
    return await client.post(
        f"{API}/conversations/{conversation_id}/messages",
        json=envelope_body(sender, key, plaintext if plaintext is not None else os.urandom(16)),
        headers=sender.headers,
    )


async def open_dm(client: httpx.AsyncClient, a: Account, b: Account) -> str:
    r = await client.post(f"{API}/dms", json={"user_id": b.user_id}, headers=a.headers)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


def conversation_key_for(conversation_id: str, generation: int) -> ConversationKey:
    """A key the server never saw (for envelopes under a generation nobody uploaded)."""
    return ConversationKey(conversation_id, generation, os.urandom(32))


async def rotate_puk(client: httpx.AsyncClient, account: Account) -> None:
    """Revoke a second device of `account`: the vault is re-keyed and the next PUK generation
    certified (the PUK rotation every private conversation of the account must follow)."""
    assert account.keys is not None and account.password_key is not None
    other = await login(client, Account(**{**account.__dict__}), device_id=None)
    r = await client.get(f"{API}/keys/vault", headers=account.headers)
    assert r.status_code == 200, r.text
    rekeyed = rekey_account(account.user_id, account.keys.contents, account.password_key, 10)
    body = {
        "auth_secret": b64(account.auth_secret),
        "vault_version": r.json()["vault_version"],
        "vault": vault_json(rekeyed),
        "recovery_auth": b64(rekeyed.recovery_auth),
        "puk_certificate": b64(rekeyed.puk_certificate),
    }
    r = await client.post(
        f"{API}/devices/{other.device_id}/revoke", json=body, headers=account.headers
    )
    assert r.status_code == 200, r.text
    account.keys = dataclasses.replace(account.keys, contents=rekeyed.contents)


# -- groups: the signed membership log (docs/crypto.md §8.6) --


async def certificate_lookup(
    client: httpx.AsyncClient, viewer: Account, user_ids: set[str]
) -> dict[tuple[str, str], DeviceCertificate]:
    """Every certified device of these users, verified under their identity keys."""
    found: dict[tuple[str, str], DeviceCertificate] = {}
    for user_id in sorted(user_ids):
        r = await client.get(f"{API}/users/{user_id}/keys", headers=viewer.headers)
        assert r.status_code == 200, r.text
        identity = IdentityPublicKey(unb64(r.json()["identity_key"]))
        for device in r.json()["devices"]:
            cert = verify_device_certificate(unb64(device["certificate"]), identity, user_id)
            found[(user_id, cert.device_id)] = cert
    return found


async def group_state(client: httpx.AsyncClient, viewer: Account, group: str) -> MembershipState:
    """The group's membership state, the whole log fetched and verified entry by entry."""
    r = await client.get(f"{API}/conversations/{group}/membership", headers=viewer.headers)
    assert r.status_code == 200, r.text
    raws = [unb64(e["entry"]) for e in r.json()["entries"]]
    signers = {decode_membership_entry(raw).signer_user_id for raw in raws}
    certificates = await certificate_lookup(client, viewer, signers)
    states = verify_membership_log(group, raws, lambda u, d: certificates.get((u, d)))
    assert len(states) == r.json()["head_index"] + 1
    return states[-1] if states else MembershipState.empty(group)


def sign_entry(
    actor: Account, state: MembershipState, action: str, changes: list[MembershipChange]
) -> bytes:
    """The next entry after `state`, signed by the actor's device (checked locally first)."""
    return sign_membership_entry(
        state, action, changes, device_key(actor), device_certificate(actor), 1
    )


def forge_entry(
    actor: Account,
    state: MembershipState,
    action: str,
    changes: list[MembershipChange],
    *,
    index: int | None = None,
    previous: bytes | None = None,
    signing_key: DeviceKey | None = None,
) -> bytes:
    """An entry signed without the local checks: one the server must refuse (no rights, a
    broken chain, a signature by another key)."""
    ordered = sorted(changes, key=lambda c: c.user_id.encode("utf-8"))
    tbs = encode(
        MEMBERSHIP_LABEL,
        1,
        [
            state.conversation_id,
            state.index + 1 if index is None else index,
            state.head if previous is None else previous,
            action,
            actor.user_id,
            actor.device_id,
            1,
            [c.encode() for c in ordered],
        ],
    )
    return encode_signed(tbs, (signing_key or device_key(actor)).sign(tbs))


async def post_entry(
    client: httpx.AsyncClient, actor: Account, group: str, entry: bytes
) -> httpx.Response:
    return await client.post(
        f"{API}/groups/{group}/membership", json={"entry": b64(entry)}, headers=actor.headers
    )


async def create_group(
    client: httpx.AsyncClient, admin: Account, name: str, members: list[Account]
) -> str:
    """A group with `admin` as its admin and `members`, from a signed `create` entry."""
    group = str(uuid.uuid4())
    changes = [MembershipChange(admin.user_id, ADMIN)]
    changes += [MembershipChange(m.user_id, MEMBER) for m in members if m.user_id != admin.user_id]
    entry = sign_entry(admin, MembershipState.empty(group), CREATE, changes)
    r = await client.post(
        f"{API}/groups",
        json={"conversation_id": group, "name": name, "entry": b64(entry)},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return group


async def add_member(
    client: httpx.AsyncClient, admin: Account, group: str, member: Account
) -> httpx.Response:
    """A signed `add` by `admin` (forged without the local rights check, so a non-admin's
    attempt reaches the server)."""
    state = await group_state(client, admin, group)
    entry = forge_entry(admin, state, ADD, [MembershipChange(member.user_id, MEMBER)])
    return await post_entry(client, admin, group, entry)


async def remove_member(
    client: httpx.AsyncClient, actor: Account, group: str, member: Account
) -> httpx.Response:
    """An admin's signed `remove`, or `member` (= actor) leaving; the last admin names the
    longest-standing other member (first by user id) as successor."""
    state = await group_state(client, actor, group)
    if actor.user_id != member.user_id:
        changes = [MembershipChange(member.user_id, REMOVED)]
        return await post_entry(client, actor, group, forge_entry(actor, state, REMOVE, changes))
    changes = [MembershipChange(actor.user_id, REMOVED)]
    others = sorted(set(state.members) - {actor.user_id})
    last_admin = state.members.get(actor.user_id) == ADMIN and not (
        state.admins() - {actor.user_id}
    )
    if last_admin and others:
        changes.append(MembershipChange(others[0], ADMIN))
    return await post_entry(client, actor, group, sign_entry(actor, state, LEAVE, changes))


# -- SDK clients (live-server tests) --


async def sdk_envelope(
    client: HushroomClient, conversation_id: Id, plaintext: bytes, client_msg_id: str
) -> tuple[int, bytes]:
    """(generation, envelope) sealed by an SDK client's own keys (the conversation's key set is
    made or fetched as needed), for tests that send the raw envelope themselves."""
    sealed = await client.e2ee.seal(conversation_id, plaintext, client_msg_id)
    return sealed.generation, sealed.envelope
