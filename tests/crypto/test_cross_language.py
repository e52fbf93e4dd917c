"""Live cross-language checks: Python (``hushroom.crypto``) ↔ TypeScript (``web/src/crypto``).

Each test seals or issues something on one side and opens or verifies it on the other, through
``web/scripts/crypto-cli.ts`` (JSON on stdin/stdout, bytes as hex). Both directions are covered for
certificates, key sets, envelopes and vaults; password derivation, recovery codes, safety numbers
and typed errors must agree too. Needs Node.js and ``npm ci`` in ``web/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hushroom.crypto.account import AccountKeys, create_account_keys, rekey_account
from hushroom.crypto.conversation_key import (
    ConversationKey,
    KeySetUpload,
    create_key_set,
    open_key_set,
    verify_key_set,
)
from hushroom.crypto.device import (
    DeviceCertificate,
    DeviceKey,
    certify_device,
    verify_device_certificate,
)
from hushroom.crypto.envelope import open_envelope, seal_envelope
from hushroom.crypto.errors import ERROR_TYPES, CryptoError
from hushroom.crypto.identity import IdentityKey, IdentityPublicKey
from hushroom.crypto.membership import (
    MembershipChange,
    MembershipState,
    sign_membership_entry,
    verify_membership_log,
)
from hushroom.crypto.password import KdfParams, derive_password_keys
from hushroom.crypto.primitives import Secret
from hushroom.crypto.puk import PukCertificate, PukKeyPair, certify_puk, verify_puk_certificate
from hushroom.crypto.recovery import (
    derive_recovery_auth,
    derive_recovery_key,
    generate_recovery_code,
    parse_recovery_code,
)
from hushroom.crypto.safety_number import safety_number
from hushroom.crypto.vault import SealedVault, VaultContents, create_vault, unlock_vault

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CLI = WEB / "scripts" / "crypto-cli.ts"
TSX = WEB / "node_modules" / ".bin" / "tsx"
CREATED_AT = 1764201600000


@pytest.fixture(scope="module")
def ts() -> Iterator[TypeScript]:
    if shutil.which("node") is None:
        pytest.skip("SKIPPED LOUDLY: Node.js is not installed; cross-language crypto is untested")
    if not (WEB / "node_modules").is_dir() or not TSX.exists():
        pytest.skip(
            "SKIPPED LOUDLY: web/node_modules is missing (run `cd web && npm ci`); "
            "cross-language crypto is untested"
        )
    bridge = TypeScript()
    try:
        yield bridge
    finally:
        bridge.close()


class TypeScript:
    """One long-lived ``crypto-cli.ts --lines`` process; each call sends a batch of requests."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [str(TSX), str(CLI), "--lines"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=WEB,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def run(self, *requests: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(list(requests)) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            stderr = self._proc.stderr.read() if self._proc.stderr is not None else ""
            pytest.fail(f"crypto-cli.ts exited: {stderr}")
        responses: list[dict[str, Any]] = json.loads(line)
        for request, response in zip(requests, responses, strict=True):
            assert response.get("error") not in ("InternalError", "UnknownOp"), (request, response)
        return responses

    def ok(self, request: dict[str, Any]) -> dict[str, Any]:
        (response,) = self.run(request)
        assert response["ok"], response
        return response


@dataclass
class Person:
    """A Python-made user: identity, one device, one PUK, all certified."""

    user_id: str
    identity: IdentityKey = field(default_factory=IdentityKey.generate)
    device: DeviceKey = field(default_factory=DeviceKey.generate)
    puk: PukKeyPair = field(default_factory=lambda: PukKeyPair.generate(1))

    @property
    def device_id(self) -> str:
        return f"{self.user_id}-dev"

    @property
    def device_cert(self) -> DeviceCertificate:
        return certify_device(
            self.identity, self.user_id, self.device_id, self.device.public_key, CREATED_AT
        )

    @property
    def puk_cert(self) -> PukCertificate:
        return certify_puk(self.identity, self.user_id, self.puk, CREATED_AT)

    def wire(self, role: str) -> dict[str, str]:
        """The fields the CLI expects for a device certificate under ``role``."""
        return {
            f"{role}_user_id": self.user_id,
            f"{role}_identity_public": self.identity.public_key.hex(),
            f"{role}_device_certificate": self.device_cert.encoded.hex(),
        }

    def member(self) -> dict[str, str]:
        return {
            "user_id": self.user_id,
            "identity_public": self.identity.public_key.hex(),
            "puk_certificate": self.puk_cert.encoded.hex(),
        }


def ts_person_wire(p: dict[str, Any], role: str) -> dict[str, str]:
    return {
        f"{role}_user_id": p["user_id"],
        f"{role}_identity_public": p["identity_public"],
        f"{role}_device_certificate": p["device_certificate"],
    }


def error_name(exc: BaseException) -> str:
    assert isinstance(exc, CryptoError)
    assert type(exc) is ERROR_TYPES[type(exc).__name__]
    return type(exc).__name__


def test_python_key_set_and_envelope_open_in_typescript(ts: TypeScript) -> None:
    alice, bob, carol = Person("alice"), Person("bob"), Person("carol")
    members = [p.user_id for p in (alice, bob, carol)]
    key, upload = create_key_set(
        "conv-py",
        1,
        alice.device,
        alice.device_cert,
        [carol.puk_cert, alice.puk_cert, bob.puk_cert],
        CREATED_AT,
    )
    plaintext = '{"type":"text","body":"héllo from Python ☕"}'.encode()
    envelope = seal_envelope(
        key,
        alice.device,
        sender_user_id="alice",
        sender_device_id=alice.device_id,
        client_message_id="cm-1",
        timestamp=CREATED_AT + 5,
        counter=1,
        plaintext=plaintext,
    )
    common = {
        "conversation_id": "conv-py",
        "generation": 1,
        "expected_members": members,
        "upload": upload.encode().hex(),
        **alice.wire("creator"),
    }
    opened_bob, opened_carol, message = ts.run(
        {
            "op": "open_key_set",
            **common,
            "user_id": "bob",
            "puk_seeds": [{"generation": 1, "seed": bob.puk.seed.reveal().hex()}],
        },
        {
            "op": "open_key_set",
            **common,
            "user_id": "carol",
            "puk_seeds": [{"generation": 1, "seed": carol.puk.seed.reveal().hex()}],
        },
        {
            "op": "open_envelope",
            "conversation_id": "conv-py",
            "generation": 1,
            "expected_members": members,
            "key_set_upload": upload.encode().hex(),
            "conversation_key": key.reveal().hex(),
            "envelope": envelope.hex(),
            **alice.wire("creator"),
            **alice.wire("sender"),
        },
    )
    assert opened_bob["ok"], opened_bob
    assert opened_carol["ok"], opened_carol
    assert opened_bob["conversation_key"] == key.reveal().hex()
    assert opened_carol["conversation_key"] == key.reveal().hex()
    assert opened_bob["members"] == [["alice", 1], ["bob", 1], ["carol", 1]]
    assert message["ok"], message
    assert bytes.fromhex(message["plaintext"]) == plaintext
    assert message["header"]["client_message_id"] == "cm-1"
    assert message["header"]["timestamp"] == CREATED_AT + 5


def test_typescript_people_key_set_and_envelope_open_in_python(ts: TypeScript) -> None:
    people = ts.run(
        *(
            {"op": "create_person", "user_id": u, "device_id": f"{u}-web", "created_at": CREATED_AT}
            for u in ("alice", "bob")
        )
    )
    alice, bob = people
    assert alice["ok"]
    assert bob["ok"]
    # Python verifies certificates issued in TypeScript.
    for p in people:
        identity = IdentityPublicKey(bytes.fromhex(p["identity_public"]))
        device_cert = verify_device_certificate(
            bytes.fromhex(p["device_certificate"]), identity, p["user_id"], p["device_id"]
        )
        assert device_cert.public_key == DeviceKey(bytes.fromhex(p["device_seed"])).public_key
        puk_cert = verify_puk_certificate(
            bytes.fromhex(p["puk_certificate"]), identity, p["user_id"]
        )
        assert puk_cert.public_key == PukKeyPair(1, bytes.fromhex(p["puk_seed"])).public_key

    created = ts.ok(
        {
            "op": "create_key_set",
            "conversation_id": "conv-ts",
            "generation": 2,
            "created_at": CREATED_AT,
            "creator_device_seed": alice["device_seed"],
            **ts_person_wire(alice, "creator"),
            "members": [
                {
                    "user_id": p["user_id"],
                    "identity_public": p["identity_public"],
                    "puk_certificate": p["puk_certificate"],
                }
                for p in (bob, alice)
            ],
        }
    )
    plaintext = '{"type":"text","body":"hello from TypeScript 🍄"}'.encode()
    sealed = ts.ok(
        {
            "op": "seal_envelope",
            "conversation_id": "conv-ts",
            "generation": 2,
            "conversation_key": created["conversation_key"],
            "device_seed": alice["device_seed"],
            "sender_user_id": "alice",
            "sender_device_id": "alice-web",
            "client_message_id": "m-1",
            "timestamp": CREATED_AT + 9,
            "counter": 7,
            "plaintext": plaintext.hex(),
        }
    )

    alice_identity = IdentityPublicKey(bytes.fromhex(alice["identity_public"]))
    alice_cert = verify_device_certificate(
        bytes.fromhex(alice["device_certificate"]), alice_identity, "alice", "alice-web"
    )
    upload = KeySetUpload.decode(bytes.fromhex(created["upload"]))
    statement = verify_key_set(upload.statement, alice_cert, "conv-ts", 2, {"alice", "bob"})
    bob_puk = PukKeyPair(1, bytes.fromhex(bob["puk_seed"]))
    key = open_key_set(statement, upload.boxes["bob"], "bob", {1: bob_puk})
    assert key.reveal().hex() == created["conversation_key"]
    assert key.commitment().hex() == created["commitment"]
    opened = open_envelope(
        bytes.fromhex(sealed["envelope"]),
        conversation_id="conv-ts",
        keys={2: key},
        key_sets={2: statement},
        sender_certificate=alice_cert,
    )
    assert opened.plaintext == plaintext
    assert opened.header.counter == 7


def test_typescript_seals_key_set_to_python_puks(ts: TypeScript) -> None:
    alice, bob = Person("alice"), Person("bob")
    created = ts.ok(
        {
            "op": "create_key_set",
            "conversation_id": "dm-1",
            "generation": 1,
            "created_at": CREATED_AT,
            "creator_device_seed": alice.device.seed.reveal().hex(),
            **alice.wire("creator"),
            "members": [alice.member(), bob.member()],
        }
    )
    upload = KeySetUpload.decode(bytes.fromhex(created["upload"]))
    statement = verify_key_set(upload.statement, alice.device_cert, "dm-1", 1, {"alice", "bob"})
    for person in (alice, bob):
        key = open_key_set(statement, upload.boxes[person.user_id], person.user_id, {1: person.puk})
        assert key.reveal().hex() == created["conversation_key"]


def test_same_typed_errors_for_tampered_objects(ts: TypeScript) -> None:
    alice, bob, eve = Person("alice"), Person("bob"), Person("eve")
    key, upload = create_key_set(
        "conv-x", 3, alice.device, alice.device_cert, [alice.puk_cert, bob.puk_cert], CREATED_AT
    )
    envelope = bytearray(
        seal_envelope(
            key,
            alice.device,
            sender_user_id="alice",
            sender_device_id=alice.device_id,
            client_message_id="cm",
            timestamp=1,
            counter=1,
            plaintext=b"secret",
        )
    )
    envelope[-70] ^= 1  # inside the ciphertext: the signature no longer verifies
    base = {
        "op": "open_envelope",
        "conversation_id": "conv-x",
        "generation": 3,
        "expected_members": ["alice", "bob"],
        "key_set_upload": upload.encode().hex(),
        "conversation_key": key.reveal().hex(),
        **alice.wire("creator"),
    }
    open_ks = {
        "op": "open_key_set",
        "conversation_id": "conv-x",
        "generation": 3,
        "upload": upload.encode().hex(),
        **alice.wire("creator"),
        "puk_seeds": [{"generation": 1, "seed": eve.puk.seed.reveal().hex()}],
    }
    tampered, wrong_sender, ghost, non_member = ts.run(
        {**base, "envelope": bytes(envelope).hex(), **alice.wire("sender")},
        {**base, "envelope": bytes(envelope).hex(), **bob.wire("sender")},
        {**open_ks, "expected_members": ["alice"], "user_id": "bob"},
        {**open_ks, "expected_members": ["alice", "bob"], "user_id": "eve"},
    )
    statement = verify_key_set(upload.statement, alice.device_cert, "conv-x", 3, {"alice", "bob"})

    def python_error(fn: Any) -> str:
        with pytest.raises(CryptoError) as info:
            fn()
        return error_name(info.value)

    assert (
        tampered["error"]
        == "InvalidSignature"
        == python_error(
            lambda: open_envelope(
                bytes(envelope),
                conversation_id="conv-x",
                keys={3: key},
                key_sets={3: statement},
                sender_certificate=alice.device_cert,
            )
        )
    )
    assert (
        wrong_sender["error"]
        == "ContextMismatch"
        == python_error(
            lambda: open_envelope(
                bytes(envelope),
                conversation_id="conv-x",
                keys={3: key},
                key_sets={3: statement},
                sender_certificate=bob.device_cert,
            )
        )
    )
    assert (
        ghost["error"]
        == "NotAMember"
        == python_error(
            lambda: verify_key_set(upload.statement, alice.device_cert, "conv-x", 3, {"alice"})
        )
    )
    assert (
        non_member["error"]
        == "NotAMember"
        == python_error(lambda: open_key_set(statement, upload.boxes["bob"], "eve", {1: eve.puk}))
    )


def _contents() -> tuple[VaultContents, dict[str, Any]]:
    identity, puk1, puk2 = os.urandom(32), os.urandom(32), os.urandom(32)
    contents = VaultContents.create(identity, [(2, puk2), (1, puk1)])
    wire = {
        "identity_seed": identity.hex(),
        "puk_seeds": [{"generation": 1, "seed": puk1.hex()}, {"generation": 2, "seed": puk2.hex()}],
    }
    return contents, wire


def test_python_vault_unlocks_in_typescript(ts: TypeScript) -> None:
    contents, wire = _contents()
    password_key, recovery_key = Secret(os.urandom(32)), Secret(os.urandom(32))
    vault_key, vault = create_vault(contents, "user-1", password_key, recovery_key)
    sealed = {
        "user_id": "user-1",
        "sealed_vault": vault.sealed.hex(),
        "password_wrapping": vault.password_wrapping.hex(),
        "recovery_wrapping": vault.recovery_wrapping.hex(),
    }
    by_password, by_recovery, wrong, other_user = ts.run(
        {
            "op": "unlock_vault",
            **sealed,
            "kind": "password",
            "wrapping_key": password_key.reveal().hex(),
        },
        {
            "op": "open_vault",
            **sealed,
            "kind": "recovery",
            "wrapping_key": recovery_key.reveal().hex(),
        },
        {
            "op": "unlock_vault",
            **sealed,
            "kind": "password",
            "wrapping_key": recovery_key.reveal().hex(),
        },
        {
            "op": "unlock_vault",
            **sealed,
            "user_id": "user-2",
            "kind": "password",
            "wrapping_key": password_key.reveal().hex(),
        },
    )
    for opened in (by_password, by_recovery):
        assert opened["ok"], opened
        assert opened["vault_key"] == vault_key.reveal().hex()
        assert opened["identity_seed"] == wire["identity_seed"]
        assert opened["puk_seeds"] == wire["puk_seeds"]
    assert wrong["error"] == "DecryptionFailed"
    assert other_user["error"] == "DecryptionFailed"


def test_typescript_vault_unlocks_in_python(ts: TypeScript) -> None:
    contents, wire = _contents()
    password_key, recovery_key = os.urandom(32), os.urandom(32)
    made = ts.ok(
        {
            "op": "seal_vault",
            "user_id": "user-9",
            **wire,
            "password_key": password_key.hex(),
            "recovery_key": recovery_key.hex(),
        }
    )
    vault = SealedVault(
        sealed=bytes.fromhex(made["sealed_vault"]),
        password_wrapping=bytes.fromhex(made["password_wrapping"]),
        recovery_wrapping=bytes.fromhex(made["recovery_wrapping"]),
    )
    for kind, wrapping_key in (("password", password_key), ("recovery", recovery_key)):
        vault_key, opened = unlock_vault(vault, "user-9", Secret(wrapping_key), kind)  # type: ignore[arg-type]
        assert vault_key.reveal().hex() == made["vault_key"]
        assert opened.encode() == contents.encode()


def test_password_keys_agree_between_argon2_cffi_and_hash_wasm(ts: TypeScript) -> None:
    params = KdfParams.generate()
    password = "Ünïcode pässwörd ☕ " + os.urandom(4).hex()
    keys = derive_password_keys(password, params)
    derived = ts.ok(
        {"op": "derive_password_keys", "password": password, "params": params.to_json()}
    )
    assert derived["password_key"] == keys.password_key.reveal().hex()
    assert derived["auth_secret"] == keys.auth_secret.reveal().hex()


def test_recovery_codes_and_safety_numbers_agree(ts: TypeScript) -> None:
    code = generate_recovery_code()
    a, b = IdentityKey.generate(), IdentityKey.generate()
    typed = code.formatted().lower().replace("-", " ")
    parsed, number = ts.run(
        {"op": "recovery_code", "code": typed},
        {"op": "safety_number", "identity_a": a.public_key.hex(), "identity_b": b.public_key.hex()},
    )
    assert parsed["canonical"] == code.reveal().decode()
    assert parsed["recovery_key"] == derive_recovery_key(code).reveal().hex()
    assert parsed["recovery_auth"] == derive_recovery_auth(code).hex()
    expected = safety_number(a.public(), b.public())
    assert number["digits"] == expected.digits
    assert number["qr_payload"] == expected.qr_payload.hex()


# --- accounts (decision 0003) -----------------------------------------------------------------


def _account_wire(keys: AccountKeys, password_key: Secret, device_id: str | None) -> dict[str, Any]:
    """What ``open_account`` checks: the uploaded parts, the password key and the printed code."""
    wire: dict[str, Any] = {
        "user_id": keys.user_id,
        "identity_public": keys.identity_public.hex(),
        "puk_certificate": keys.puk_certificate.hex(),
        "sealed_vault": keys.vault.sealed.hex(),
        "password_wrapping": keys.vault.password_wrapping.hex(),
        "recovery_wrapping": keys.vault.recovery_wrapping.hex(),
        "password_key": password_key.reveal().hex(),
        "recovery_code": keys.recovery_code.formatted(),
    }
    if keys.device_certificate is not None:
        wire["device_certificate"] = keys.device_certificate.hex()
        wire["device_id"] = device_id
    return wire


def _puk_seeds_wire(contents: VaultContents) -> list[dict[str, Any]]:
    return [{"generation": g, "seed": s.reveal().hex()} for g, s in contents.puk_seeds]


def test_python_account_verifies_and_unlocks_in_typescript(ts: TypeScript) -> None:
    user_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    password_key = Secret(os.urandom(32))
    device = DeviceKey.generate()
    keys = create_account_keys(
        user_id, password_key, CREATED_AT, device=(device_id, device.public_key)
    )
    rekeyed = rekey_account(user_id, keys.contents, password_key, CREATED_AT + 1)
    opened, opened_rekeyed, wrong_password, other_user = ts.run(
        {"op": "open_account", **_account_wire(keys, password_key, device_id)},
        {"op": "open_account", **_account_wire(rekeyed, password_key, None)},
        {
            "op": "open_account",
            **_account_wire(keys, password_key, device_id),
            "password_key": os.urandom(32).hex(),
        },
        {
            "op": "open_account",
            **_account_wire(keys, password_key, device_id),
            "user_id": str(uuid.uuid4()),
        },
    )
    assert opened["ok"], opened
    assert (opened["puk_generation"], opened["device_id"]) == (1, device_id)
    assert opened["device_public"] == device.public_key.hex()
    assert opened["vault_key"] == opened["recovery_vault_key"] == keys.vault_key.reveal().hex()
    assert opened["identity_seed"] == keys.identity.seed.reveal().hex()
    assert opened["recovered_identity_seed"] == opened["identity_seed"]
    assert opened["identity_matches"] is True
    assert opened["puk_seeds"] == _puk_seeds_wire(keys.contents)
    assert opened["recovery_auth"] == keys.recovery_auth.hex()

    assert opened_rekeyed["ok"], opened_rekeyed
    assert opened_rekeyed["puk_generation"] == 2
    assert opened_rekeyed["device_id"] is None
    assert opened_rekeyed["vault_key"] == rekeyed.vault_key.reveal().hex()
    assert opened_rekeyed["identity_seed"] == keys.identity.seed.reveal().hex()
    assert opened_rekeyed["puk_seeds"] == _puk_seeds_wire(rekeyed.contents)
    assert opened_rekeyed["recovery_auth"] == rekeyed.recovery_auth.hex()

    assert wrong_password["error"] == "DecryptionFailed"
    # The certificates name the user: checked before the vault.
    assert other_user["error"] == "ContextMismatch"


def test_typescript_account_verifies_and_unlocks_in_python(ts: TypeScript) -> None:
    user_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
    password_key = Secret(os.urandom(32))
    python_device = DeviceKey.generate()
    own_device, given_device = ts.run(
        {
            "op": "create_account",
            "user_id": user_id,
            "device_id": device_id,
            "password_key": password_key.reveal().hex(),
            "created_at": CREATED_AT,
        },
        {
            "op": "create_account",
            "user_id": user_id,
            "device_id": device_id,
            "device_public": python_device.public_key.hex(),
            "password_key": password_key.reveal().hex(),
            "created_at": CREATED_AT,
        },
    )
    for made in (own_device, given_device):
        assert made["ok"], made
        contents = _check_typescript_account(made, password_key, device_id)
        assert contents.latest_puk_generation == 1
    device_cert = verify_device_certificate(
        bytes.fromhex(given_device["device_certificate"]),
        IdentityPublicKey(bytes.fromhex(given_device["identity_public"])),
        user_id,
        device_id,
    )
    assert device_cert.public_key == python_device.public_key
    assert given_device["device_seed"] is None
    own_seed = bytes.fromhex(own_device["device_seed"])
    own_cert = verify_device_certificate(
        bytes.fromhex(own_device["device_certificate"]),
        IdentityPublicKey(bytes.fromhex(own_device["identity_public"])),
        user_id,
        device_id,
    )
    assert own_cert.public_key == DeviceKey(own_seed).public_key

    # A TypeScript re-key (device revocation) of the TypeScript account, checked in Python.
    rekeyed = ts.ok(
        {
            "op": "rekey_account",
            "user_id": user_id,
            "identity_seed": own_device["identity_seed"],
            "puk_seeds": own_device["puk_seeds"],
            "password_key": password_key.reveal().hex(),
            "created_at": CREATED_AT + 1,
        }
    )
    assert rekeyed["identity_public"] == own_device["identity_public"]
    assert rekeyed["device_certificate"] is None
    assert rekeyed["recovery_code"] != own_device["recovery_code"]
    contents = _check_typescript_account(rekeyed, password_key, None)
    assert [g for g, _ in contents.puk_seeds] == [1, 2]
    assert contents.puk_seed(1) == Secret(bytes.fromhex(own_device["puk_seeds"][0]["seed"]))

    # And the reverse re-key: Python re-keys what TypeScript unlocked; TypeScript checks it.
    again = rekey_account(user_id, contents, password_key, CREATED_AT + 2)
    opened = ts.ok({"op": "open_account", **_account_wire(again, password_key, None)})
    assert opened["puk_generation"] == 3
    assert opened["identity_seed"] == own_device["identity_seed"]


def _check_typescript_account(
    made: dict[str, Any], password_key: Secret, device_id: str | None
) -> VaultContents:
    """Everything the server and a second device check of a TypeScript-made account."""
    user_id = made["user_id"]
    identity = IdentityPublicKey(bytes.fromhex(made["identity_public"]))
    puk = verify_puk_certificate(bytes.fromhex(made["puk_certificate"]), identity, user_id)
    if device_id is not None:
        verify_device_certificate(
            bytes.fromhex(made["device_certificate"]), identity, user_id, device_id
        )
    vault = SealedVault(
        sealed=bytes.fromhex(made["sealed_vault"]),
        password_wrapping=bytes.fromhex(made["password_wrapping"]),
        recovery_wrapping=bytes.fromhex(made["recovery_wrapping"]),
    )
    vault_key, contents = unlock_vault(vault, user_id, password_key, "password")
    code = parse_recovery_code(made["recovery_code"])
    recovery_vault_key, recovered = unlock_vault(vault, user_id, code.recovery_key(), "recovery")
    assert vault_key.reveal().hex() == made["vault_key"]
    assert recovery_vault_key == vault_key
    assert recovered.encode() == contents.encode()
    # The vault holds the identity that signed and the PUK that was certified.
    assert IdentityKey.from_seed(contents.identity_seed).public_key == identity.key
    assert contents.identity_seed.reveal().hex() == made["identity_seed"]
    latest = contents.puk_seed(puk.generation)
    assert latest is not None
    assert puk.generation == contents.latest_puk_generation
    assert PukKeyPair(puk.generation, latest).public_key == puk.public_key
    # The recovery authenticator is the code's, and not its wrapping key.
    assert bytes.fromhex(made["recovery_auth"]) == derive_recovery_auth(code)
    assert made["recovery_auth"] != code.recovery_key().reveal().hex()
    assert _puk_seeds_wire(contents) == made["puk_seeds"]
    return contents


def test_conversation_key_type_is_shared() -> None:
    """Guard: the CLI contract assumes 32-byte conversation keys on both sides."""
    assert len(ConversationKey("c", 1, bytes(32))) == 32


def _python_outcome(fn: Any) -> str:
    try:
        fn()
    except CryptoError as exc:
        return error_name(exc)
    return "ok"


def test_byte_flips_fail_identically_in_both_languages(ts: TypeScript) -> None:
    """Flip one bit in every byte of an envelope, a key-set statement, a vault wrapping and two
    certificates:
    both implementations must reach the same verdict (same typed error, same check order)."""
    alice, bob = Person("alice"), Person("bob")
    key, upload = create_key_set(
        "conv-f", 2, alice.device, alice.device_cert, [alice.puk_cert, bob.puk_cert], CREATED_AT
    )
    statement = verify_key_set(upload.statement, alice.device_cert, "conv-f", 2, {"alice", "bob"})
    envelope = seal_envelope(
        key,
        alice.device,
        sender_user_id="alice",
        sender_device_id=alice.device_id,
        client_message_id="cm-f",
        timestamp=CREATED_AT,
        counter=3,
        plaintext=b'{"type":"text","body":"flip me"}',
    )
    contents, _ = _contents()
    password_key = Secret(os.urandom(32))
    _, vault = create_vault(contents, "user-f", password_key, Secret(os.urandom(32)))

    def flipped(data: bytes, step: int = 1) -> list[bytes]:
        """``data`` with bit 0 of one byte flipped, for every ``step``-th byte position."""
        out = []
        for pos in [*range(0, len(data), step), len(data) - 1]:
            mutated = bytearray(data)
            mutated[pos] ^= 0x01
            out.append(bytes(mutated))
        return out

    cases: list[tuple[dict[str, Any], Any]] = []
    for env in flipped(envelope):
        cases.append(
            (
                {
                    "op": "open_envelope",
                    "conversation_id": "conv-f",
                    "generation": 2,
                    "expected_members": ["alice", "bob"],
                    "key_set_upload": upload.encode().hex(),
                    "conversation_key": key.reveal().hex(),
                    "envelope": env.hex(),
                    **alice.wire("creator"),
                    **alice.wire("sender"),
                },
                lambda env=env: open_envelope(
                    env,
                    conversation_id="conv-f",
                    keys={2: key},
                    key_sets={2: statement},
                    sender_certificate=alice.device_cert,
                ),
            )
        )
    for st in flipped(upload.statement):
        bad_upload = KeySetUpload(st, upload.boxes)
        cases.append(
            (
                {
                    "op": "open_key_set",
                    "conversation_id": "conv-f",
                    "generation": 2,
                    "expected_members": ["alice", "bob"],
                    "upload": bad_upload.encode().hex(),
                    "user_id": "bob",
                    "puk_seeds": [{"generation": 1, "seed": bob.puk.seed.reveal().hex()}],
                    **alice.wire("creator"),
                },
                lambda st=st: open_key_set(
                    verify_key_set(st, alice.device_cert, "conv-f", 2, {"alice", "bob"}),
                    upload.boxes["bob"],
                    "bob",
                    {1: bob.puk},
                ),
            )
        )
    for wrapped in flipped(vault.password_wrapping):
        cases.append(
            (
                {
                    "op": "unlock_vault",
                    "user_id": "user-f",
                    "sealed_vault": vault.sealed.hex(),
                    "password_wrapping": wrapped.hex(),
                    "kind": "password",
                    "wrapping_key": password_key.reveal().hex(),
                },
                lambda wrapped=wrapped: unlock_vault(
                    SealedVault(vault.sealed, wrapped, vault.recovery_wrapping),
                    "user-f",
                    password_key,
                ),
            )
        )
    identity = alice.identity.public()
    for cert in flipped(alice.device_cert.encoded):
        cases.append(
            (
                {
                    "op": "verify_device_certificate",
                    "certificate": cert.hex(),
                    "identity_public": identity.key.hex(),
                    "user_id": "alice",
                    "device_id": alice.device_id,
                },
                lambda cert=cert: verify_device_certificate(
                    cert, identity, "alice", alice.device_id
                ),
            )
        )
    for cert in flipped(alice.puk_cert.encoded, step=5):
        cases.append(
            (
                {
                    "op": "verify_puk_certificate",
                    "certificate": cert.hex(),
                    "identity_public": identity.key.hex(),
                    "user_id": "alice",
                },
                lambda cert=cert: verify_puk_certificate(cert, identity, "alice"),
            )
        )
    responses = ts.run(*(request for request, _ in cases))
    mismatches = []
    for (request, python_fn), response in zip(cases, responses, strict=True):
        ts_outcome = "ok" if response["ok"] else response["error"]
        py_outcome = _python_outcome(python_fn)
        if ts_outcome != py_outcome:
            mismatches.append((request["op"], py_outcome, ts_outcome, response.get("message")))
    assert mismatches == []


# --- membership log (docs/crypto.md §8.6) ----------------------------------------------------


def _membership_wire(state: MembershipState) -> dict[str, Any]:
    return {
        "index": state.index,
        "head": state.head.hex(),
        "members": dict(sorted(state.members.items())),
    }


def test_membership_log_both_ways(ts: TypeScript) -> None:
    """Python signs, TypeScript verifies (same states); TypeScript signs the same bytes as Python;
    every bit flip of an entry gets the same verdict on both sides."""
    alice, bob, carol = Person("alice"), Person("bob"), Person("carol")
    people = {(p.user_id, p.device_id): p.device_cert for p in (alice, bob, carol)}
    certificates = [
        {
            "user_id": p.user_id,
            "identity_public": p.identity.public_key.hex(),
            "device_certificate": p.device_cert.encoded.hex(),
        }
        for p in (alice, bob, carol)
    ]

    def lookup(user_id: str, device_id: str) -> DeviceCertificate | None:
        return people.get((user_id, device_id))

    conv = "grp-x"
    s0 = MembershipState.empty(conv)
    e0 = sign_membership_entry(
        s0,
        "create",
        [MembershipChange("bob", "member"), MembershipChange("alice", "admin")],
        alice.device,
        alice.device_cert,
        CREATED_AT,
    )
    s1, _ = s0.apply(e0, lookup)
    e1 = sign_membership_entry(
        s1, "add", [MembershipChange("carol", "member")], alice.device, alice.device_cert, 2
    )
    states = verify_membership_log(conv, [e0, e1], lookup)
    base = {"conversation_id": conv, "certificates": certificates}
    verified = ts.ok({**base, "op": "verify_membership_log", "entries": [e0.hex(), e1.hex()]})
    assert verified["states"] == [_membership_wire(s) for s in states]

    signed = ts.ok(
        {
            **base,
            "op": "sign_membership_entry",
            "entries": [e0.hex(), e1.hex()],
            "device_seed": alice.device.seed.reveal().hex(),
            "signer_user_id": "alice",
            "signer_device_id": "alice-dev",
            "action": "role",
            "changes": [["bob", "admin"]],
            "created_at": 3,
        }
    )
    e2 = sign_membership_entry(
        states[-1], "role", [MembershipChange("bob", "admin")], alice.device, alice.device_cert, 3
    )
    assert signed["entry"] == e2.hex()
    assert verify_membership_log(conv, [e0, e1, e2], lookup)[-1].admins() == {"alice", "bob"}

    (refused,) = ts.run(
        {
            **base,
            "op": "sign_membership_entry",
            "entries": [e0.hex(), e1.hex()],
            "device_seed": carol.device.seed.reveal().hex(),
            "signer_user_id": "carol",
            "signer_device_id": "carol-dev",
            "action": "remove",
            "changes": [["bob", "removed"]],
            "created_at": 3,
        }
    )
    assert (refused["ok"], refused["error"]) == (False, "NotAuthorized")

    flips = []
    for pos in range(len(e1)):
        mutated = bytearray(e1)
        mutated[pos] ^= 0x01
        flips.append(bytes(mutated))
    responses = ts.run(
        *({**base, "op": "verify_membership_log", "entries": [e0.hex(), f.hex()]} for f in flips)
    )
    for flipped, response in zip(flips, responses, strict=True):
        expected = _python_outcome(lambda f=flipped: verify_membership_log(conv, [e0, f], lookup))
        assert expected != "ok"
        assert ("ok" if response["ok"] else response["error"]) == expected, flipped.hex()
