"""Run every frozen vector in spec/vectors/*.json (the TypeScript side runs the same files)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from hushroom.crypto.conversation_key import (
    ConversationKey,
    KeySetUpload,
    create_key_set,
    open_key_set,
    verify_key_set,
)
from hushroom.crypto.device import DeviceKey, certify_device, verify_device_certificate
from hushroom.crypto.encoding import (
    b64url_decode,
    b64url_encode,
    decode,
    decode_ident,
    decode_int,
    decode_list,
    decode_str,
    encode,
)
from hushroom.crypto.envelope import (
    CounterTracker,
    CounterVerdict,
    Envelope,
    message_key,
    open_envelope,
    seal_envelope,
)
from hushroom.crypto.errors import ERROR_TYPES, CryptoError
from hushroom.crypto.event import decode_event, encode_text_event
from hushroom.crypto.identity import IdentityKey, IdentityPublicKey
from hushroom.crypto.password import KdfParams, derive_master, derive_password_keys
from hushroom.crypto.primitives import (
    Secret,
    XWingKeyPair,
    check_xwing_public_key,
    ed25519_verify,
)
from hushroom.crypto.puk import PukKeyPair, certify_puk, verify_puk_certificate
from hushroom.crypto.recovery import (
    code_from_entropy,
    derive_recovery_auth,
    derive_recovery_key,
    parse_recovery_code,
)
from hushroom.crypto.safety_number import fingerprint, safety_number
from hushroom.crypto.vault import (
    VaultContents,
    VaultKey,
    open_vault,
    seal_vault,
    unwrap_vault_key,
    wrap_vault_key,
)
from tests.crypto.support import ROOT, expect, ids, load, members_statement, x

ENCODING = load("encoding")
PASSWORD = load("password")
RECOVERY = load("recovery")
VAULT = load("vault")
PUK = load("puk")
DEVICE = load("device")
KEY_SET = load("key_set")
ENVELOPE = load("envelope")
SAFETY = load("safety_number")
MEMBERSHIP = load("membership")
EVENT = load("event")


def _field(desc: dict[str, Any]) -> Any:
    kind = desc["kind"]
    if kind == "bytes":
        return x(desc["hex"])
    if kind == "int":
        return int(desc["value"])
    if kind == "str":
        return desc["value"]
    return [x(i) for i in desc["items"]]


def test_every_vector_file_names_known_errors_only() -> None:
    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["error"]] if isinstance(node.get("error"), str) else []
            return found + [e for k, v in node.items() if k != "error" for e in walk(v)]
        if isinstance(node, list):
            return [e for item in node for e in walk(item)]
        return []

    names = {
        n
        for f in (ENCODING, PASSWORD, VAULT, PUK, DEVICE, KEY_SET, ENVELOPE, MEMBERSHIP, EVENT)
        for n in walk(f)
    }
    assert names <= set(ERROR_TYPES), names - set(ERROR_TYPES)
    assert len(names) >= 9


def test_generator_reproduces_the_frozen_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_vectors", ROOT / "spec/generate_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.generate(tmp_path, frozen_from=ROOT / "spec" / "vectors")
    assert len(written) == 13
    for path in written:
        frozen = ROOT / "spec" / "vectors" / path.name
        assert path.read_bytes() == frozen.read_bytes(), f"{path.name} changed: bump the spec"


# --- encoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("v", ENCODING["encode"], ids=ids(ENCODING["encode"]))
def test_encoding_encode(v: dict[str, Any]) -> None:
    fields = [_field(f) for f in v["fields"]]
    assert encode(v["label"], v["version"], fields).hex() == v["expected"]
    record = decode(x(v["expected"]), v["label"], v["version"], len(fields))
    assert len(record.fields) == len(fields)


@pytest.mark.parametrize("v", ENCODING["decode"], ids=ids(ENCODING["decode"]))
def test_encoding_decode(v: dict[str, Any]) -> None:
    with expect(v["error"]):
        decode(x(v["encoded"]), ENCODING["decode_label"], ENCODING["decode_version"], v["n_fields"])


@pytest.mark.parametrize("v", ENCODING["typed_fields"], ids=ids(ENCODING["typed_fields"]))
def test_encoding_typed_fields(v: dict[str, Any]) -> None:
    decoder = {"int": decode_int, "str": decode_str, "list": decode_list, "ident": decode_ident}
    with expect(v.get("error")):
        value = decoder[v["kind"]](x(v["hex"]))
        if v["kind"] == "int":
            assert value == int(v["value"])
        elif v["kind"] == "list":
            assert value == [x(i) for i in v["items"]]
        else:
            assert value == v["value"]


@pytest.mark.parametrize("v", ENCODING["base64url"], ids=ids(ENCODING["base64url"]))
def test_encoding_base64url(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        data = b64url_decode(v["b64url"])
        assert data == x(v["hex"])
        assert b64url_encode(data) == v["b64url"]


# --- password --------------------------------------------------------------------------------


@pytest.mark.parametrize("v", PASSWORD["derive"], ids=ids(PASSWORD["derive"]))
def test_password_derivation(v: dict[str, Any]) -> None:
    params = KdfParams.from_json(v["params"])
    keys = derive_password_keys(v["password"], params)
    assert keys.password_key.reveal().hex() == v["password_key"]
    assert keys.auth_secret.reveal().hex() == v["auth_secret"]
    if v["name"] == "ascii":
        assert derive_master(v["password"], params).reveal().hex() == v["master"]


@pytest.mark.parametrize("v", PASSWORD["params"], ids=ids(PASSWORD["params"]))
def test_password_params(v: dict[str, Any]) -> None:
    with expect(v["error"]):
        KdfParams.from_json(v["params"])


# --- recovery --------------------------------------------------------------------------------


@pytest.mark.parametrize("v", RECOVERY["generate"], ids=ids(RECOVERY["generate"]))
def test_recovery_generate(v: dict[str, Any]) -> None:
    code = code_from_entropy(x(v["entropy"]))
    assert code.reveal().decode() == v["canonical"]
    assert code.formatted() == v["formatted"]
    assert derive_recovery_key(code).reveal().hex() == v["recovery_key"]
    assert derive_recovery_auth(code).hex() == v["recovery_auth"]
    assert code.recovery_auth() == derive_recovery_auth(code)
    assert v["recovery_auth"] != v["recovery_key"]


@pytest.mark.parametrize("v", RECOVERY["parse"], ids=ids(RECOVERY["parse"]))
def test_recovery_parse(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        assert parse_recovery_code(v["input"]).reveal().decode() == v["canonical"]


# --- vault -----------------------------------------------------------------------------------


def test_vault_create() -> None:
    (v,) = VAULT["create"]
    contents = VaultContents.create(
        x(v["identity_seed"]), [(p["generation"], x(p["seed"])) for p in v["puk_seeds"]]
    )
    assert contents.encode().hex() == v["contents"]
    key = VaultKey(x(v["vault_key"]))
    user = v["user_id"]
    sealed = seal_vault(key, contents, user, lambda n: x(v["vault_nonce"]))
    assert sealed.hex() == v["sealed_vault"]
    for kind in ("password", "recovery"):
        wrapping_key = Secret(x(v[f"{kind}_key"]))
        nonce = x(v[f"{kind}_nonce"])

        def fixed(n: int, nonce: bytes = nonce) -> bytes:
            return nonce

        wrapped = wrap_vault_key(wrapping_key, key, user, kind, fixed)
        assert wrapped.hex() == v[f"{kind}_wrapping"]


@pytest.mark.parametrize("v", VAULT["unwrap"], ids=ids(VAULT["unwrap"]))
def test_vault_unwrap(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        key = unwrap_vault_key(
            Secret(x(v["wrapping_key"])), x(v["wrapped"]), v["user_id"], v["kind"]
        )
        assert key.reveal().hex() == v["vault_key"]


@pytest.mark.parametrize("v", VAULT["open"], ids=ids(VAULT["open"]))
def test_vault_open(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        contents = open_vault(VaultKey(x(v["vault_key"])), x(v["sealed_vault"]), v["user_id"])
        assert contents.encode().hex() == v["contents"]


@pytest.mark.parametrize("v", VAULT["contents_decode"], ids=ids(VAULT["contents_decode"]))
def test_vault_contents_decode(v: dict[str, Any]) -> None:
    with expect(v["error"]):
        VaultContents.decode(x(v["contents"]))


# --- PUK, device -----------------------------------------------------------------------------


def test_puk_certify() -> None:
    (v,) = PUK["certify"]
    identity = IdentityKey(x(v["identity_seed"]))
    assert identity.public_key.hex() == v["identity_public"]
    puk = PukKeyPair(v["generation"], x(v["puk_seed"]))
    assert puk.public_key.hex() == v["puk_public"]
    cert = certify_puk(identity, v["user_id"], puk, v["created_at"])
    assert cert.encoded.hex() == v["certificate"]


@pytest.mark.parametrize("v", PUK["verify"], ids=ids(PUK["verify"]))
def test_puk_verify(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        identity = IdentityPublicKey(x(v["identity_public"]))
        verify_puk_certificate(x(v["certificate"]), identity, v["user_id"])


@pytest.mark.parametrize("v", PUK["xwing_public_key_check"], ids=ids(PUK["xwing_public_key_check"]))
def test_xwing_public_key_check(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        check_xwing_public_key(x(v["public_key"]))


@pytest.mark.parametrize("v", PUK["xwing_from_seed"], ids=ids(PUK["xwing_from_seed"]))
def test_xwing_from_seed(v: dict[str, Any]) -> None:
    assert XWingKeyPair(x(v["seed"])).public_key.hex() == v["public_key"]


def test_device_certify() -> None:
    (v,) = DEVICE["certify"]
    identity = IdentityKey(x(v["identity_seed"]))
    device = DeviceKey(x(v["device_seed"]))
    assert device.public_key.hex() == v["device_public"]
    cert = certify_device(
        identity, v["user_id"], v["device_id"], device.public_key, v["created_at"]
    )
    assert cert.encoded.hex() == v["certificate"]


@pytest.mark.parametrize("v", DEVICE["verify"], ids=ids(DEVICE["verify"]))
def test_device_verify(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        identity = IdentityPublicKey(x(v["identity_public"]))
        verify_device_certificate(x(v["certificate"]), identity, v["user_id"], v["device_id"])


# --- key sets --------------------------------------------------------------------------------


def _people(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["user_id"]: p for p in doc["people"]}


def _device_cert(person: dict[str, Any]) -> Any:
    identity = IdentityPublicKey(x(person["identity_public"]))
    return verify_device_certificate(x(person["device_certificate"]), identity, person["user_id"])


def test_key_set_create() -> None:
    (v,) = KEY_SET["create"]
    people = _people(KEY_SET)
    creator = people[v["creator"]]
    puk_certs = [
        verify_puk_certificate(
            x(p["puk_certificate"]), IdentityPublicKey(x(p["identity_public"])), p["user_id"]
        )
        for p in people.values()
        if p["user_id"] != "mallory"
    ]
    key, upload = create_key_set(
        v["conversation_id"],
        v["generation"],
        DeviceKey(x(creator["device_seed"])),
        _device_cert(creator),
        puk_certs,
        v["created_at"],
        lambda n: x(v["conversation_key"]),
    )
    assert upload.statement.hex() == v["statement"]
    assert key.commitment().hex() == v["commitment"]
    frozen = KeySetUpload.decode(x(v["upload"]))
    assert frozen.statement == upload.statement
    assert list(frozen.boxes) == sorted(frozen.boxes)


@pytest.mark.parametrize("v", KEY_SET["verify"], ids=ids(KEY_SET["verify"]))
def test_key_set_verify(v: dict[str, Any]) -> None:
    creator = _device_cert(_people(KEY_SET)[v["creator"]])
    with expect(v.get("error")):
        statement = verify_key_set(
            x(v["statement"]), creator, v["conversation_id"], v["generation"], v["expected_members"]
        )
        expected = v["expected"]
        assert statement.commitment.hex() == expected["commitment"]
        assert [[m.user_id, m.puk_generation] for m in statement.members] == expected["members"]
        assert statement.created_at == expected["created_at"]


@pytest.mark.parametrize("v", KEY_SET["open"], ids=ids(KEY_SET["open"]))
def test_key_set_open(v: dict[str, Any]) -> None:
    people = _people(KEY_SET)
    creator = _device_cert(people[v["creator"]])
    statement = verify_key_set(
        x(v["statement"]), creator, v["conversation_id"], v["generation"], v["expected_members"]
    )
    me = people[v["user_id"]]
    puks = {
        g: PukKeyPair(g, x(me["puk_seed"]))
        for g in v["held_puk_generations"]
        if g == me["puk_generation"]
    }
    with expect(v.get("error")):
        key = open_key_set(statement, x(v["box"]), v["user_id"], puks)
        assert key.reveal().hex() == v["expected_key"]


# --- envelopes -------------------------------------------------------------------------------


def test_envelope_seal() -> None:
    (v,) = ENVELOPE["seal"]
    key = ConversationKey(v["conversation_id"], v["generation"], x(v["conversation_key"]))
    stream = iter([x(v["salt"]), x(v["nonce"])])
    envelope = seal_envelope(
        key,
        DeviceKey(x(v["sender_device_seed"])),
        sender_user_id=v["sender_user_id"],
        sender_device_id=v["sender_device_id"],
        client_message_id=v["client_message_id"],
        timestamp=v["timestamp"],
        counter=v["counter"],
        plaintext=x(v["plaintext"]),
        random=lambda n: next(stream),
    )
    assert envelope.hex() == v["envelope"]
    parsed = Envelope.decode(envelope)
    assert parsed.header.hex() == v["header"]
    assert parsed.ciphertext.hex() == v["ciphertext"]
    assert parsed.signature.hex() == v["signature"]
    assert message_key(key, x(v["salt"])).hex() == v["message_key"]


@pytest.mark.parametrize("v", ENVELOPE["open"], ids=ids(ENVELOPE["open"]))
def test_envelope_open(v: dict[str, Any]) -> None:
    sender = _device_cert(_people(ENVELOPE)[v["sender"]])
    generation = v["key_generation"]
    key = ConversationKey(v["conversation_id"], generation, x(v["conversation_key"]))
    key_set = members_statement(v["conversation_id"], generation, v["key_set_members"])
    with expect(v.get("error")):
        opened = open_envelope(
            x(v["envelope"]),
            conversation_id=v["conversation_id"],
            keys={generation: key},
            key_sets={generation: key_set},
            sender_certificate=sender,
        )
        assert opened.plaintext.hex() == v["plaintext"]


@pytest.mark.parametrize("v", ENVELOPE["counters"], ids=ids(ENVELOPE["counters"]))
def test_envelope_counters(v: dict[str, Any]) -> None:
    tracker = CounterTracker()
    for counter, verdict in zip(v["counters"], v["verdicts"], strict=True):
        if verdict in ERROR_TYPES:
            with expect(verdict):
                tracker.observe("dev", "conv", counter)
            continue
        result = tracker.observe("dev", "conv", counter)
        if verdict.startswith("gap:"):
            low, high = (int(n) for n in verdict[4:].split("-"))
            assert result.verdict is CounterVerdict.GAP
            assert (result.missing.start, result.missing.stop - 1) == (low, high)
        else:
            assert result.verdict is CounterVerdict(verdict)


# --- safety numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("v", SAFETY["vectors"], ids=ids(SAFETY["vectors"]))
def test_safety_number(v: dict[str, Any]) -> None:
    a, b = IdentityPublicKey(x(v["identity_a"])), IdentityPublicKey(x(v["identity_b"]))
    assert fingerprint(a).hex() == v["fingerprint_a"]
    assert fingerprint(b).hex() == v["fingerprint_b"]
    for first, second in ((a, b), (b, a)):
        number = safety_number(first, second)
        assert number.digits == v["digits"]
        assert number.qr_payload.hex() == v["qr_payload"]
    assert len(v["digits"]) == 60
    assert v["digits"].isdigit()


@pytest.mark.parametrize("v", SAFETY["errors"], ids=ids(SAFETY["errors"]))
def test_safety_number_errors(v: dict[str, Any]) -> None:
    with expect(v["error"]):
        safety_number(IdentityPublicKey(x(v["identity_a"])), IdentityPublicKey(x(v["identity_b"])))


# --- message events --------------------------------------------------------------------------


@pytest.mark.parametrize("v", EVENT["encode"], ids=ids(EVENT["encode"]))
def test_text_event_encodes_to_the_frozen_bytes(v: dict[str, Any]) -> None:
    assert encode_text_event(v["text"]).hex() == v["expected"]
    assert decode_event(x(v["expected"])).body == v["text"]


@pytest.mark.parametrize("v", EVENT["decode"], ids=ids(EVENT["decode"]))
def test_event_decoding(v: dict[str, Any]) -> None:
    if v.get("error"):
        with expect(v["error"]):
            decode_event(x(v["plaintext"]))
        return
    event = decode_event(x(v["plaintext"]))
    assert {"type": event.type} | ({"body": event.body} if event.body is not None else {}) == (
        v["expected"]
    )


def test_crypto_error_is_the_base_of_every_named_error() -> None:
    assert all(issubclass(cls, CryptoError) for cls in ERROR_TYPES.values())


ED25519 = load("ed25519")


@pytest.mark.parametrize("v", ED25519["verify"], ids=ids(ED25519["verify"]))
def test_ed25519_strict_rule(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        ed25519_verify(x(v["public_key"]), x(v["message"]), x(v["signature"]))
