"""Outside known-answer tests (spec/vectors/external/): Wycheproof, RFC 9180, X-Wing draft.

They pin the primitives under our wrappers and the strict Ed25519 / X25519 rules of
docs/crypto.md §4 that the TypeScript side must match exactly.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from hushroom.crypto.errors import CryptoError, InvalidSignature
from hushroom.crypto.primitives import (
    XWingKeyPair,
    aes_gcm_open,
    aes_gcm_seal,
    ed25519_verify,
    hkdf_sha256,
    hmac_sha256,
    x25519_public_key_ok,
)
from tests.crypto.support import load_external, x


def _tests(path: str, keep: Any = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    doc = load_external(path)
    return [
        (group, test)
        for group in doc["testGroups"]
        if keep is None or keep(group)
        for test in group["tests"]
    ]


def _tc(cases: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    return [f"tc{t['tcId']}" for _, t in cases]


ED25519 = _tests("wycheproof/ed25519_test.json")


@pytest.mark.parametrize(("group", "t"), ED25519, ids=_tc(ED25519))
def test_wycheproof_ed25519_strict_rule(group: dict[str, Any], t: dict[str, Any]) -> None:
    public_key = x(group["publicKey"]["pk"])
    assert t["result"] in ("valid", "invalid")
    if t["result"] == "valid":
        ed25519_verify(public_key, x(t["msg"]), x(t["sig"]))
    else:
        with pytest.raises(InvalidSignature):
            ed25519_verify(public_key, x(t["msg"]), x(t["sig"]))


def test_wycheproof_ed25519_covers_both_outcomes() -> None:
    results = {t["result"] for _, t in ED25519}
    assert results == {"valid", "invalid"}
    assert len(ED25519) == 151


X25519 = _tests("wycheproof/x25519_test.json")


@pytest.mark.parametrize(("group", "t"), X25519, ids=_tc(X25519))
def test_wycheproof_x25519_public_key_rule(group: dict[str, Any], t: dict[str, Any]) -> None:
    public_key = x(t["public"])
    flags = set(t["flags"])
    rejected = bool(flags & {"LowOrderPublic", "ZeroSharedSecret", "NonCanonicalPublic"})
    assert x25519_public_key_ok(public_key) is not rejected
    if not rejected:
        private = x25519.X25519PrivateKey.from_private_bytes(x(t["private"]))
        shared = private.exchange(x25519.X25519PublicKey.from_public_bytes(public_key))
        assert shared == x(t["shared"])


AES_GCM = _tests(
    "wycheproof/aes_gcm_test.json",
    lambda g: (g["keySize"], g["ivSize"], g["tagSize"]) == (256, 96, 128),
)


@pytest.mark.parametrize(("group", "t"), AES_GCM, ids=_tc(AES_GCM))
def test_wycheproof_aes_256_gcm(group: dict[str, Any], t: dict[str, Any]) -> None:
    key, iv, aad = x(t["key"]), x(t["iv"]), x(t["aad"])
    sealed = x(t["ct"]) + x(t["tag"])
    if t["result"] == "valid":
        assert aes_gcm_seal(key, iv, x(t["msg"]), aad) == sealed
        assert aes_gcm_open(key, iv, sealed, aad) == x(t["msg"])
    else:
        with pytest.raises(CryptoError):
            aes_gcm_open(key, iv, sealed, aad)


HKDF = _tests("wycheproof/hkdf_sha256_test.json")


@pytest.mark.parametrize(("group", "t"), HKDF, ids=_tc(HKDF))
def test_wycheproof_hkdf_sha256(group: dict[str, Any], t: dict[str, Any]) -> None:
    args = {"salt": x(t["salt"]), "info": x(t["info"]), "length": t["size"]}
    if t["result"] == "valid":
        assert hkdf_sha256(x(t["ikm"]), **args) == x(t["okm"])
    else:
        with pytest.raises(ValueError, match=r"."):
            hkdf_sha256(x(t["ikm"]), **args)


HMAC = _tests("wycheproof/hmac_sha256_test.json")


@pytest.mark.parametrize(("group", "t"), HMAC, ids=_tc(HMAC))
def test_wycheproof_hmac_sha256(group: dict[str, Any], t: dict[str, Any]) -> None:
    tag = hmac_sha256(x(t["key"]), x(t["msg"]))[: group["tagSize"] // 8]
    assert (tag == x(t["tag"])) is (t["result"] == "valid")


def _decrypt_with_aad(suite: hpke.Suite, sealed: bytes, key: Any, info: bytes, aad: bytes) -> bytes:
    return rust_openssl.hpke._decrypt_with_aad(suite, sealed, key, info=info, aad=aad)


RFC9180 = load_external("hpke/rfc9180-x25519-sha256-aes256gcm.json")


@pytest.mark.parametrize("v", RFC9180, ids=[f"rfc9180-{i}" for i in range(len(RFC9180))])
def test_rfc9180_base_mode_x25519_aes256gcm(v: dict[str, Any]) -> None:
    assert (int(v["mode"]), int(v["kem_id"]), int(v["kdf_id"]), int(v["aead_id"])) == (0, 32, 1, 2)
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    key = x25519.X25519PrivateKey.from_private_bytes(x(v["skRm"]))
    first = v["encryptions"][0]
    sealed = x(v["enc"]) + x(first["ct"])
    assert _decrypt_with_aad(suite, sealed, key, x(v["info"]), x(first["aad"])) == x(first["pt"])


XWING_HPKE = [
    v for v in load_external("hpke/hpke-pq-xwing-mlkem768.json") if int(v["kem_id"]) == 0x647A
]


@pytest.mark.parametrize("v", XWING_HPKE, ids=["xwing-hpke"])
def test_hpke_xwing_kat_opens_with_our_seed_expansion(v: dict[str, Any]) -> None:
    pair = XWingKeyPair(x(v["skRm"]))
    assert pair.public_key == x(v["pkRm"])
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    first = v["encryptions"][0]
    sealed = x(v["enc"]) + x(first["ct"])
    opened = _decrypt_with_aad(suite, sealed, pair._private, x(v["info"]), x(first["aad"]))
    assert opened == x(first["pt"])


XWING_KAT = load_external("xwing/xwing-draft-kat.json")["vectors"]


@pytest.mark.parametrize("v", XWING_KAT, ids=[f"xwing-{i}" for i in range(len(XWING_KAT))])
def test_xwing_draft_kat_keygen_and_decapsulation(v: dict[str, Any]) -> None:
    seed = x(v["seed"])
    assert XWingKeyPair(seed).public_key == x(v["expected_pk"])
    expanded = hashlib.shake_256(seed).digest(96)
    sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    ct = x(v["expected_ct"])
    ss_m = sk_m.decapsulate(ct[:1088])
    ct_x, pk_x = ct[1088:], x(v["expected_pk"])[1184:]
    ss_x = sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    shared = hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + b"\\.//^\\").digest()
    assert shared == x(v["expected_ss"])


MLKEM_KEYGEN = _tests("wycheproof/mlkem_768_keygen_seed_test.json")[:20]


@pytest.mark.parametrize(("group", "t"), MLKEM_KEYGEN, ids=_tc(MLKEM_KEYGEN))
def test_wycheproof_mlkem768_keys_from_64_byte_seeds(
    group: dict[str, Any], t: dict[str, Any]
) -> None:
    key = mlkem.MLKEM768PrivateKey.from_seed_bytes(x(t["seed"]))
    assert key.public_key().public_bytes_raw() == x(t["ek"])
