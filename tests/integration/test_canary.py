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
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from hushroom.crypto.account import AccountKeys, create_account_keys
from hushroom.crypto.conversation_key import create_key_set
from hushroom.crypto.device import verify_device_certificate
from hushroom.crypto.envelope import peek_header, seal_envelope
from hushroom.crypto.identity import IdentityPublicKey
from hushroom.crypto.password import KdfParams, PasswordKeys, derive_password_keys
from hushroom.crypto.puk import verify_puk_certificate
from hushroom.storage.engine import Database
from hushroom.storage.sql.tables import metadata
from tests.support.accounts import b64, keyed_register_body, keys_json
from tests.support.fake_idp import FakeFacebook, FakeOidcProvider, User
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
    keyed = keyed_register_body(name, email, auth_secret, kdf=params.to_json())
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
    # On the registering device: its certificate lets it upload key sets and send envelopes.
    login = {
        "email": email,
        "auth_secret": b64(auth_secret),
        "device_id": keyed.body["device"]["device_id"],
    }
    r = await c.post("/api/v1/auth/login", json=login)
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
        "keys": keys,
        "device_key": keyed.device_key,
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
        # A real key set whose conversation key is the canary (the server stores its boxes).
        identity = IdentityPublicKey(ana["keys"].identity_public)
        certificate = verify_device_certificate(
            ana["keys"].device_certificate, identity, ana["user_id"], ana["device_id"]
        )
        puks = [
            verify_puk_certificate(
                a["keys"].puk_certificate,
                IdentityPublicKey(a["keys"].identity_public),
                a["user_id"],
            )
            for a in (ana, ben)
        ]
        ck, upload = create_key_set(
            dm["id"], 1, ana["device_key"], certificate, puks, 1, random=lambda n: conversation_key
        )
        r = await c.post(
            f"/api/v1/conversations/{dm['id']}/key-sets",
            json={"generation": 1, "upload": b64(upload.encode())},
            headers=auth,
        )
        assert r.status_code == 201, r.text
        msg_id = uuid.uuid4().hex
        envelope = seal_envelope(
            ck,
            ana["device_key"],
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


# --- many messages through the SDK's real encryption --------------------------------------------

SDK_CANARY_MESSAGES = int(os.environ.get("HUSHROOM_CANARY_MESSAGES", "1000"))
SDK_MARKER = b"CANARY-SDK-"


def _b64_variants(marker: bytes) -> list[bytes]:
    """What `marker` looks like inside any base64 / base64url text, at each of the 3 alignments
    (only the characters that depend on the marker alone)."""
    out: list[bytes] = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + marker)
        start = 4 if offset else 0  # the group mixing padding and marker varies
        whole = (len(bytes(offset) + marker) // 3) * 4  # drop the last, partial group
        chunk = encoded[start:whole]
        out += [chunk, chunk.replace(b"+", b"-").replace(b"/", b"_")]
    return out


def _sdk_needles(texts: list[str], conversation_keys: list[bytes]) -> list[bytes]:
    """Every text appears raw, as hex or as base64 only if its marker does; the conversation
    keys in every form; a sample of whole texts in every form."""
    needles = [SDK_MARKER, SDK_MARKER.hex().encode(), *_b64_variants(SDK_MARKER)]
    needles += [form for key in conversation_keys for form in _forms(key)]
    needles += [
        form for text in texts[:: max(1, len(texts) // 50)] for form in _forms(text.encode())
    ]
    return needles


async def _sdk_canaries(base_url: str, count: int) -> tuple[list[str], list[bytes]]:
    """`count` messages with unique canary texts, half in a DM, half in a private group of three,
    sealed by the SDK (key sets, envelopes, a rotation after a removal midway); every member
    decrypts every one. Returns the texts and the conversation keys used."""
    from hushroom.client import HushroomClient

    password = "correct horse battery staple"

    async def user(name: str) -> HushroomClient:
        client = HushroomClient(base_url)
        email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.test"
        await client.register_and_login(name, email, password)
        return client

    ada, bo, cy = await asyncio.gather(user("Ada"), user("Bo"), user("Cy"))
    try:
        dm = await ada.open_private_dm(bo.user_id)  # type: ignore[arg-type]
        group = await ada.create_private_group("canaries", [bo.user_id, cy.user_id])  # type: ignore[list-item]
        texts = [f"{SDK_MARKER.decode()}{i}-{uuid.uuid4().hex} ünïcode ✓" for i in range(count)]
        senders = [ada, bo]

        async def send(i: int) -> None:
            conv = dm.id if i % 2 == 0 else group.id
            await senders[i % 4 // 2].send_text(conv, texts[i], http=i % 3 == 0)

        batch = 25  # pipelined sends (the socket keeps their order, HTTP ones race)
        for start in range(0, count, batch):
            if start == (count // 2) // batch * batch:
                await ada.remove_group_member(group.id, cy.user_id)  # type: ignore[arg-type]
            await asyncio.gather(*(send(i) for i in range(start, min(count, start + batch))))
        keys: list[bytes] = []
        for conv, readers in ((dm.id, (ada, bo)), (group.id, (ada, bo))):
            expected = [t for i, t in enumerate(texts) if (i % 2 == 0) == (conv == dm.id)]
            for reader in readers:
                got = await reader.history_decrypted(conv)
                assert sorted(m.text or "" for m in got) == sorted(expected)
                assert reader.undecryptable == 0
            for generation in sorted({m.generation for m in got if m.generation is not None}):
                keys.append((await ada.e2ee.key_set(conv, generation)).key.reveal())
        assert len(keys) >= 3  # the group rotated after the removal
        return texts, keys
    finally:
        for client in (ada, bo, cy):
            await client.aclose()


def _sqlite_files(database_url: str) -> bytes:
    if not database_url.startswith("sqlite"):
        return b""
    path = Path(database_url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


@pytest.mark.timeout(900)
def test_sdk_canaries_never_reach_database_or_logs(server: ServerProcess) -> None:
    texts, keys = asyncio.run(_sdk_canaries(server.base_url, SDK_CANARY_MESSAGES))
    dump = asyncio.run(_dump_database(server.database_url))
    files = _sqlite_files(server.database_url)  # the raw file, free pages and WAL included
    logs = server.log_path.read_bytes()
    assert b'"path": "/api/v1/conversations/' in logs  # the log is real and was written
    for needle in _sdk_needles(texts, keys):
        assert needle not in dump, "an SDK canary reached the database"
        assert needle not in files, "an SDK canary reached the SQLite file"
        assert needle not in logs, "an SDK canary reached the server log"


@pytest.mark.timeout(900)
def test_sdk_canaries_never_reach_redis(database_url: str, tmp_path: Path) -> None:
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
            texts, keys = asyncio.run(_sdk_canaries(server.base_url, SDK_CANARY_MESSAGES))
            time.sleep(0.5)  # let MONITOR flush the last commands
        finally:
            server.stop()
            monitor.terminate()
            monitor.wait(timeout=10)
            redis_server.stop()
    commands = capture_path.read_bytes()
    assert commands.count(b'"PUBLISH"') >= SDK_CANARY_MESSAGES  # every message went through Redis
    for needle in _sdk_needles(texts, keys):
        if len(needle) >= 8:  # MONITOR escapes raw bytes; the text forms are verbatim
            assert needle not in commands, "an SDK canary reached Redis"


# --- sign-in through a provider: the passphrase and the provider's tokens -----------------------


def _providers_config(oidc: FakeOidcProvider, facebook: FakeFacebook) -> str:
    return json.dumps(
        [
            {
                "id": "test-oidc",
                "kind": "oidc",
                "name": "Test ID",
                "issuer": oidc.issuer,
                "client_id": "canary",
                "client_secret": "canary-secret",
            },
            {
                "id": "facebook",
                "kind": "facebook",
                "name": "Facebook",
                "client_id": "fb-canary",
                "client_secret": "fb-canary-secret",
                "dialog_url": facebook.dialog_url,
                "graph_url": facebook.graph_url,
            },
        ]
    )


async def _through(c: httpx.AsyncClient, provider: str, **start: Any) -> dict[str, str]:
    """Start, the provider's redirect, the callback; the `__Host-` cookies are Secure, so they
    are sent by hand over this plain-HTTP loopback."""
    headers = start.pop("headers", {})
    r = await c.post(
        f"/api/v1/auth/providers/{provider}/start",
        json={"intent": "sign_in", **start},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    binding = r.cookies.get("__Host-hushroom_signin")
    assert binding, "no binding cookie"
    at_provider = await c.get(r.json()["authorization_url"], follow_redirects=False)
    back = urlsplit(at_provider.headers["location"])
    r = await c.get(
        f"{back.path}?{back.query}", headers={"Cookie": f"__Host-hushroom_signin={binding}"}
    )
    assert r.status_code == 303, r.text
    outcome = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    return {**outcome, "binding": binding, **dict(r.cookies)}


async def _provider_scenario(
    base_url: str, passphrase: str, oidc: FakeOidcProvider, facebook: FakeFacebook
) -> list[bytes]:
    """A first sign-in through a loopback OpenID Connect provider creates an account whose vault
    a canary passphrase wraps; a fresh browser signs in again and unlocks it; a Facebook link
    follows. Returns every secret of the flows: none may be stored, logged or published."""
    oidc.next_user(User(sub="canary-sub", email="canary-ana@example.test", name="Ana"))
    async with httpx.AsyncClient(base_url=base_url) as c:
        first = await _through(c, "test-oidc")
        assert first["outcome"] == "signup", first
        signup = first["__Host-hushroom_signup"]
        jar = {"Cookie": f"__Host-hushroom_signup={signup}"}
        assert (await c.get("/api/v1/auth/signup", headers=jar)).status_code == 200
        params = KdfParams.generate()
        pw = derive_password_keys(passphrase, params)
        keyed = keyed_register_body("Ana", None, pw.auth_secret.reveal())
        keys = create_account_keys(
            keyed.body["user_id"],
            pw.password_key,
            1,
            device=(keyed.body["device"]["device_id"], keyed.device_key.public_key),
        )
        assert keys.device_certificate is not None
        body = {**keyed.body, **keys_json(keys), "kdf": params.to_json()}
        body["device"]["certificate"] = b64(keys.device_certificate)
        del body["email"]
        r = await c.post("/api/v1/auth/signup", json=body, headers=jar)
        assert r.status_code == 201, r.text
        refresh = [r.cookies["__Host-hushroom_refresh"]]

        # A fresh browser: the provider signs in, the passphrase unlocks the vault.
        oidc.next_user(User(sub="canary-sub", email="canary-ana@example.test", name="Ana"))
        again = await _through(c, "test-oidc")
        assert again["outcome"] == "signed_in", again
        refresh.append(again["__Host-hushroom_refresh"])
        r = await c.post("/api/v1/auth/refresh", json={"refresh_token": refresh[-1]})
        assert r.status_code == 200, r.text
        refresh.append(r.cookies["__Host-hushroom_refresh"])
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        unlock = {"auth_secret": b64(pw.auth_secret.reveal())}
        r = await c.post("/api/v1/keys/vault/unlock", json=unlock, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["password_wrapping"]

        # And a Facebook link from the account, confirmed with the passphrase.
        facebook.next_user(User(sub="4242", name="Ana", email="canary-ana@example.test"))
        linked = await _through(c, "facebook", intent="link", **unlock, headers=auth)
        assert linked["outcome"] == "linked", linked

    flow_values = [
        value
        for req in [*oidc.requests, *facebook.requests]
        for key, value in {**req.query, **req.form}.items()
        if key in ("code", "code_verifier", "state", "nonce", "code_challenge")
    ]
    tokens = [
        str(value)
        for issued in [*oidc.issued_tokens, *facebook.issued_tokens]
        for key, value in issued.items()
        if key in ("access_token", "id_token")
    ]
    assert len(flow_values) >= 10 and len(tokens) >= 5  # two OIDC sign-ins and one Facebook
    return [
        passphrase.encode(),
        *_key_secrets(keys, pw),
        *(v.encode() for v in flow_values),
        *(t.encode() for t in tokens),
        # An ID token's signature alone, too.
        *(t.rsplit(".", 1)[-1].encode() for t in tokens if t.count(".") == 2),
        first["binding"].encode(),
        signup.encode(),
        *(t.encode() for t in refresh),
    ]


def test_provider_sign_in_canaries_never_reach_database_logs_or_redis(
    database_url: str, tmp_path: Path
) -> None:
    """The chat passphrase of a provider account, the provider's codes and tokens, and the
    sign-in cookies: absent from the database (and the SQLite file), the log and Redis."""
    passphrase = f"CANARY-PASSPHRASE-{uuid.uuid4().hex}"
    redis_server = RedisProcess(tmp_path / "redis")
    redis_server.start()
    capture_path = tmp_path / "monitor.log"

    async def run() -> tuple[ServerProcess, list[bytes]]:
        async with (
            FakeOidcProvider(client_id="canary", client_secret="canary-secret") as oidc,
            FakeFacebook(app_id="fb-canary", app_secret="fb-canary-secret") as facebook,
        ):
            server = ServerProcess(
                database_url,
                tmp_path / "server",
                HUSHROOM_REDIS_URL=redis_server.url,
                HUSHROOM_SIGN_IN_PROVIDERS=_providers_config(oidc, facebook),
            )
            try:
                await asyncio.to_thread(server.start)
                secrets = await _provider_scenario(server.base_url, passphrase, oidc, facebook)
                await asyncio.sleep(0.5)  # let MONITOR flush the last commands
            finally:
                await asyncio.to_thread(server.stop)
            return server, secrets

    with capture_path.open("wb") as capture:
        monitor = subprocess.Popen(
            ["redis-cli", "-p", str(redis_server.port), "monitor"], stdout=capture
        )
        try:
            server, secrets = asyncio.run(run())
        finally:
            monitor.terminate()
            monitor.wait(timeout=10)
            redis_server.stop()
    dump = asyncio.run(_dump_database(database_url))
    files = _sqlite_files(database_url)
    logs = server.log_path.read_bytes()
    commands = capture_path.read_bytes()
    assert b"/api/v1/auth/providers/test-oidc/callback" in logs  # the log is real
    assert b"canary-ana@example.test" in dump  # the dump covers the account the flow made
    for needle in (form for s in secrets for form in _forms(s)):
        assert needle not in dump, "a sign-in secret reached the database"
        assert needle not in files, "a sign-in secret reached the SQLite file"
        assert needle not in logs, "a sign-in secret reached the server log"
        if len(needle) >= 16:  # MONITOR escapes raw bytes; the text forms are verbatim
            assert needle not in commands, "a sign-in secret reached Redis"
    for haystack in (dump, files, logs, commands):
        assert b"CANARY" not in haystack
