"""The contacts store (docs/crypto.md §6.6): spec/vectors/contacts_store.json, which the
TypeScript side (web/src/crypto/contacts-store.test.ts) runs too."""

from __future__ import annotations

from typing import Any

import pytest

from hushroom.crypto.contacts_store import (
    MAX_STORE_BYTES,
    contacts_store_key,
    decode_contacts,
    encode_contacts,
    open_contacts_store,
    seal_contacts_store,
    store_aad,
)
from hushroom.crypto.errors import ERROR_TYPES, DecryptionFailed, Malformed
from hushroom.crypto.primitives import Secret, SeededRandom
from tests.crypto.support import expect, ids, load, x

V = load("contacts_store")


def test_vectors_name_known_errors_only() -> None:
    named = {c["error"] for section in ("open", "decode") for c in V[section] if "error" in c}
    assert named <= set(ERROR_TYPES)
    assert {"Malformed", "DecryptionFailed"} <= named


@pytest.mark.parametrize("v", V["key"], ids=ids(V["key"]))
def test_key_derivation(v: dict[str, Any]) -> None:
    assert contacts_store_key(Secret(x(v["identity_seed"]))).reveal().hex() == v["key"]


@pytest.mark.parametrize("v", V["seal"], ids=ids(V["seal"]))
def test_seal_is_byte_exact(v: dict[str, Any]) -> None:
    seed = Secret(x(v["identity_seed"]))
    assert encode_contacts(v["verified"]).hex() == v["plaintext"]
    assert store_aad(v["user_id"], v["version"]).hex() == v["aad"]
    nonce = x(v["nonce"])
    blob = seal_contacts_store(seed, v["user_id"], v["version"], v["verified"], lambda n: nonce)
    assert blob.hex() == v["blob"]
    assert open_contacts_store(seed, v["user_id"], v["version"], blob) == v["verified"]


@pytest.mark.parametrize("v", V["open"], ids=ids(V["open"]))
def test_open(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        got = open_contacts_store(
            Secret(x(v["identity_seed"])), v["user_id"], v["version"], x(v["blob"])
        )
        assert got == v["expected"]


@pytest.mark.parametrize("v", V["decode"], ids=ids(V["decode"]))
def test_decode(v: dict[str, Any]) -> None:
    with expect(v.get("error")):
        assert decode_contacts(x(v["plaintext"])) == v["expected"]


def test_round_trip_with_random_nonces_and_the_size_limit() -> None:
    random = SeededRandom(b"contacts-store-test")
    seed = Secret(random(32))
    verified = {f"user-{i:05d}": random(32).hex() for i in range(100)}
    first = seal_contacts_store(seed, "alice", 5, verified, random)
    second = seal_contacts_store(seed, "alice", 5, verified, random)
    assert first != second  # a fresh nonce each time
    assert open_contacts_store(seed, "alice", 5, second) == verified
    with pytest.raises(DecryptionFailed):
        open_contacts_store(Secret(random(32)), "alice", 5, first)
    # About 2,400 contacts fit; more is refused before anything is sent.
    too_many = {f"{i:036d}": "ab" * 32 for i in range(MAX_STORE_BYTES // 100)}
    with pytest.raises(Malformed):
        seal_contacts_store(seed, "alice", 6, too_many, random)


@pytest.mark.parametrize(
    "verified",
    [{"": "ab" * 32}, {"u": "AB" * 32}, {"u": "ab" * 31}, {"u": 5}, {"x" * 129: "ab" * 32}],
    ids=["empty_id", "uppercase", "short", "not_a_string", "long_id"],
)
def test_encoding_refuses_what_decoding_would(verified: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        encode_contacts(verified)


def test_other_store_names_and_versions_below_one_are_malformed() -> None:
    with pytest.raises(Malformed):
        store_aad("alice", 1, "devices")
    with pytest.raises(Malformed):
        store_aad("alice", 0)
