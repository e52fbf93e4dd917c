"""The server never sees private plaintext, passwords or unwrapped keys.

Canary strings go into a password and into an end-to-end encrypted DM; every secret of the
accounts (password key, identity and PUK seeds, vault key, recovery code and its keys) is a canary
too (sealed with the real
crypto core, as a browser would); afterwards the database contents and the server's logs are
searched for them, in every encoding a leak could take.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from hushroom.crypto.account import AccountKeys, create_account_keys
from hushroom.crypto.conversation_key import ConversationKey
from hushroom.crypto.device import DeviceKey
from hushroom.crypto.envelope import peek_header, seal_envelope
from hushroom.crypto.password import KdfParams, PasswordKeys, derive_password_keys
from hushroom.storage.engine import Database
from hushroom.storage.sql.tables import metadata
from tests.support.accounts import b64, keyed_register_body, keys_json
from tests.support.redis_server import RedisProcess
from tests.support.server import ServerProcess


def _forms(secret: bytes) -> list[bytes]:
    """The ways a leaked value could be written down."""
    return [
        secret,
        secret.hex().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


async def _dump_database(url: str) -> bytes:
    """Every value of every table, as bytes (columns of all types)."""
    db = Database(url)
    chunks: list[bytes] = []
    try:
        async with db.read() as conn:
            for table in metadata.sorted_tables:
                for row in await conn.execute(sa.select(table)):
                    for value in row:
                        chunks.append(value if isinstance(value, bytes) else str(value).encode())
    finally:
        await db.dispose()
    return b"\n".join(chunks)


def _key_secrets(keys: AccountKeys, password: PasswordKeys) -> list[bytes]:
    """Every secret behind an account: none may reach the server in any form."""
    code = keys.recovery_code
    return [
        password.password_key.reveal(),
        password.auth_secret.reveal(),
        keys.identity.seed.reveal(),
        *(seed.reveal() for _, seed in keys.contents.puk_seeds),
        keys.vault_key.reveal(),
        code.reveal(),
        code.formatted().encode(),
        code.recovery_key().reveal(),
        code.recovery_auth(),
        keys.contents.encode(),
    ]


async def _register(c: httpx.AsyncClient, name: str, password: str) -> dict[str, Any]:
    params = KdfParams.generate()
    pw = derive_password_keys(password, params)
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.test"
    auth_secret = pw.auth_secret.reveal()
    keyed = keyed_register_body(name, email, auth_secret, kdf_salt=b64(params.salt))
    keys = create_account_keys(
        keyed.body["user_id"],
        pw.password_key,
        1,
        device=(keyed.body["device"]["device_id"], keyed.device_key.public_key),
    )
    assert keys.device_certificate is not None
    keyed.body.update(keys_json(keys))
    keyed.body["device"]["certificate"] = b64(keys.device_certificate)
    r = await c.post("/api/v1/auth/register", json=keyed.body)
    assert r.status_code == 201, r.text
    r = await c.post("/api/v1/auth/login", json={"email": email, "auth_secret": b64(auth_secret)})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    # Exercise the paths that carry key material: the vault fetch and a recovery round trip.
    assert (await c.get("/api/v1/keys/vault", headers=headers)).status_code == 200
    recovery = {"email": email, "recovery_auth": b64(keys.recovery_auth)}
    assert (await c.post("/api/v1/auth/recovery/vault", json=recovery)).status_code == 200
    return {
        **r.json(),
        "auth_secret": auth_secret,
        "key_secrets": _key_secrets(keys, pw),
        "refresh": r.cookies.get("__Host-hushroom_refresh"),
    }


async def _scenario(
    base_url: str, canary_text: bytes, canary_password: str, conversation_key: bytes
) -> tuple[bytes, list[bytes]]:
    """Two accounts with every secret a canary, and a DM envelope sealed around `canary_text`."""
    async with httpx.AsyncClient(base_url=base_url) as c:
        ana = await _register(c, "Ana", canary_password)
        ben = await _register(c, "Ben", canary_password + "-ben")
        auth = {"Authorization": f"Bearer {ana['access_token']}"}
        dm = (await c.post("/api/v1/dms", json={"user_id": ben["user_id"]}, headers=auth)).json()
        ck = ConversationKey(dm["id"], 1, conversation_key)
        device = DeviceKey.generate()
        msg_id = uuid.uuid4().hex
        envelope = seal_envelope(
            ck,
            device,
            sender_user_id=ana["user_id"],
            sender_device_id=ana["device_id"],
            client_message_id=msg_id,
            timestamp=1,
            counter=1,
            plaintext=canary_text,
        )
        r = await c.post(
            f"/api/v1/conversations/{dm['id']}/messages",
            json={
                "client_msg_id": msg_id,
                "envelope": {"generation": 1, "ciphertext": b64(envelope)},
            },
            headers=auth,
        )
        assert r.status_code == 201, r.text
        # Ben gets back exactly what was sealed; the canary really was inside it.
        ben_auth = {"Authorization": f"Bearer {ben['access_token']}"}
        hist = (await c.get(f"/api/v1/conversations/{dm['id']}/messages", headers=ben_auth)).json()
        stored = base64.urlsafe_b64decode(hist["messages"][0]["ciphertext"] + "==")
        assert stored == envelope
        assert peek_header(stored).client_message_id == msg_id
        assert canary_text not in stored
        secrets = [
            ana["auth_secret"],
            ben["auth_secret"],
            ana["access_token"].encode(),
            ben["access_token"].encode(),
            *ana["key_secrets"],
            *ben["key_secrets"],
        ]
        return stored, secrets


def _canaries() -> tuple[bytes, str, bytes]:
    return (
        f"CANARY-PLAINTEXT-{uuid.uuid4().hex}".encode(),
        f"CANARY-PASSWORD-{uuid.uuid4().hex}",
        os.urandom(32),
    )


def _forbidden(
    canary_text: bytes, canary_password: str, conversation_key: bytes, secrets: list[bytes]
) -> list[bytes]:
    return [
        *_forms(canary_text),
        *_forms(canary_password.encode()),
        *_forms(conversation_key),
        *(form for s in secrets for form in _forms(s)),
    ]


def test_canaries_never_reach_database_or_logs(server: ServerProcess) -> None:
    canary_text, canary_password, conversation_key = _canaries()
    stored, secrets = asyncio.run(
        _scenario(server.base_url, canary_text, canary_password, conversation_key)
    )
    dump = asyncio.run(_dump_database(server.database_url))
    logs = server.log_path.read_bytes()
    assert stored in dump  # the dump really covers message contents
    assert b'"path": "/api/v1/auth/login"' in logs  # the log is real and was written
    for needle in _forbidden(canary_text, canary_password, conversation_key, secrets):
        assert needle not in dump, "a canary reached the database"
        assert needle not in logs, "a canary reached the server log"
    assert b"CANARY" not in dump
    assert b"CANARY" not in logs


def test_canaries_never_reach_redis(database_url: str, tmp_path: Path) -> None:
    """With Redis as the fan-out, a MONITOR capture of every command the server sends holds
    the envelope (the capture is real) and none of the canaries."""
    redis_server = RedisProcess(tmp_path / "redis")
    redis_server.start()
    capture_path = tmp_path / "monitor.log"
    server = ServerProcess(database_url, tmp_path / "server", HUSHROOM_REDIS_URL=redis_server.url)
    with capture_path.open("wb") as capture:
        monitor = subprocess.Popen(
            ["redis-cli", "-p", str(redis_server.port), "monitor"], stdout=capture
        )
        try:
            server.start()
            canary_text, canary_password, conversation_key = _canaries()
            stored, secrets = asyncio.run(
                _scenario(server.base_url, canary_text, canary_password, conversation_key)
            )
            time.sleep(0.5)  # let MONITOR flush the last commands
        finally:
            server.stop()
            monitor.terminate()
            monitor.wait(timeout=10)
            redis_server.stop()
    commands = capture_path.read_bytes()
    assert b'"PUBLISH"' in commands  # the capture is real: the DM went through Redis
    assert base64.urlsafe_b64encode(stored).rstrip(b"=")[:64] in commands
    for needle in _forbidden(canary_text, canary_password, conversation_key, secrets):
        if len(needle) >= 16:  # MONITOR escapes raw bytes; the text forms are verbatim
            assert needle not in commands, "a canary reached Redis"
    assert b"CANARY" not in commands
