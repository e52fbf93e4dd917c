"""Deterministic generator of the frozen cross-language vectors in ``spec/vectors/``.

Run: ``uv run python spec/generate_vectors.py`` (``--out DIR`` to write elsewhere). Every random
value comes from a seeded DRBG, so re-running reproduces identical files. HPKE sealing is
randomized inside the library: an existing sealed box is kept when it still opens to the expected
plaintext with the expected ``info`` (docs/crypto.md §11).

Byte values are lowercase hex; integers inside ``encoding.json`` field lists are decimal strings.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hushroom.crypto import errors
from hushroom.crypto.contacts_store import (
    STORE_LABEL,
    contacts_store_key,
    decode_contacts,
    encode_contacts,
    open_contacts_store,
    seal_contacts_store,
    store_aad,
)
from hushroom.crypto.conversation_key import (
    ConversationKey,
    KeySetMember,
    KeySetStatement,
    create_key_set,
    encode_box,
    key_commitment,
    seal_info,
    verify_key_set,
)
from hushroom.crypto.device import DeviceKey, certify_device
from hushroom.crypto.encoding import b64url_encode, decode, encode, encode_signed
from hushroom.crypto.envelope import Envelope, Header, message_key, seal_envelope, signature_input
from hushroom.crypto.event import decode_event, encode_text_event
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.membership import (
    CHANGE_LABEL,
    MEMBERSHIP_LABEL,
    MembershipChange,
    MembershipState,
    sign_membership_entry,
)
from hushroom.crypto.password import KdfParams, derive_master, derive_password_keys
from hushroom.crypto.primitives import (
    Secret,
    SeededRandom,
    XWingKeyPair,
    aes_gcm_seal,
    hpke_seal,
)
from hushroom.crypto.puk import PukKeyPair, certify_puk
from hushroom.crypto.recovery import (
    code_from_entropy,
    derive_recovery_auth,
    derive_recovery_key,
)
from hushroom.crypto.safety_number import fingerprint, safety_number
from hushroom.crypto.vault import VaultContents, VaultKey, seal_vault, wrap_vault_key

ROOT = Path(__file__).resolve().parent
VECTORS = ROOT / "vectors"
SPEC_VERSION = 1
Json = dict[str, Any]


def h(data: bytes) -> str:
    return data.hex()


def rng(name: str) -> SeededRandom:
    return SeededRandom(b"hushroom/vectors/" + name.encode())


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


class Frozen:
    """Sealed HPKE boxes from the previous run, reused when they still open correctly."""

    def __init__(self, directory: Path) -> None:
        self._boxes: dict[str, str] = {}
        path = directory / "key_set.json"
        if path.exists():
            self._boxes = json.loads(path.read_text())["frozen_sealed"]

    def seal(
        self, tag: str, puk: XWingKeyPair, info: bytes, plaintext: bytes, out: dict[str, str]
    ) -> bytes:
        old = self._boxes.get(tag)
        sealed: bytes | None = None
        if old is not None:
            try:
                if puk.open(bytes.fromhex(old), info) == plaintext:
                    sealed = bytes.fromhex(old)
            except errors.CryptoError:
                sealed = None
        if sealed is None:
            sealed = hpke_seal(puk.public_key, info, plaintext)
        out[tag] = h(sealed)
        return sealed


# --- encoding --------------------------------------------------------------------------------


def gen_encoding() -> Json:
    cases: list[tuple[str, str, int, list[Any]]] = [
        ("empty_record", "hushroom/v1/test", 1, []),
        ("bytes_int_list", "hushroom/v1/test", 1, [b"abc", 1, [b"x"]]),
        ("empty_fields", "hushroom/v1/test", 2, [b"", "", []]),
        ("utf8_string", "hushroom/v1/test", 1, ["héllo ☃", 0]),
        ("u64_max", "hushroom/v1/test", 255, [2**64 - 1]),
        ("nested_list", "hushroom/v1/outer", 1, [[encode("hushroom/v1/inner", 1, ["a", 7]), b""]]),
    ]

    def describe(field: Any) -> Json:
        if isinstance(field, bytes):
            return {"kind": "bytes", "hex": h(field)}
        if isinstance(field, int):
            return {"kind": "int", "value": str(field)}
        if isinstance(field, str):
            return {"kind": "str", "value": field}
        return {"kind": "list", "items": [h(i) for i in field]}

    encode_vectors = [
        {
            "name": name,
            "label": label,
            "version": version,
            "fields": [describe(f) for f in fields],
            "expected": h(encode(label, version, fields)),
        }
        for name, label, version, fields in cases
    ]
    good = encode("hushroom/v1/test", 1, [b"abc", 1, [b"x"]])
    decode_vectors: list[Json] = [
        {"name": "ok", "encoded": h(good), "n_fields": 3, "error": None},
        {"name": "wrong_label", "encoded": h(encode("hushroom/v1/tesT", 1, [b"abc", 1, [b"x"]]))},
        {"name": "wrong_version", "encoded": h(encode("hushroom/v1/test", 2, [b"abc", 1, [b"x"]]))},
        {"name": "truncated", "encoded": h(good[:-1])},
        {"name": "trailing_byte", "encoded": h(good + b"\x00")},
        {"name": "too_few_fields", "encoded": h(encode("hushroom/v1/test", 1, [b"abc", 1]))},
        {"name": "too_many_fields", "encoded": h(good + b"\x00\x00\x00\x00")},
        {"name": "field_length_overflow", "encoded": h(good[:19] + b"\xff\xff\xff\xff")},
        {"name": "header_only", "encoded": h(good[:10])},
    ]
    for vector in decode_vectors[1:]:
        vector.update({"n_fields": 3, "error": "Malformed"})
    typed = [
        {"name": "int_not_8_bytes", "kind": "int", "hex": "00000001", "error": "Malformed"},
        {"name": "int_ok", "kind": "int", "hex": "00000000000000ff", "value": "255"},
        {"name": "str_invalid_utf8", "kind": "str", "hex": "c328", "error": "Malformed"},
        {"name": "str_ok", "kind": "str", "hex": h("ü".encode()), "value": "ü"},
        {
            "name": "list_count_too_big",
            "kind": "list",
            "hex": "00000002000000017a",
            "error": "Malformed",
        },
        {
            "name": "list_trailing",
            "kind": "list",
            "hex": "00000001000000017a00",
            "error": "Malformed",
        },
        {"name": "list_ok", "kind": "list", "hex": "00000001000000017a", "items": ["7a"]},
        {"name": "ident_empty", "kind": "ident", "hex": "", "error": "Malformed"},
        {"name": "ident_129_bytes", "kind": "ident", "hex": "61" * 129, "error": "Malformed"},
        {"name": "ident_128_bytes", "kind": "ident", "hex": "61" * 128, "value": "a" * 128},
    ]
    b64 = [
        {
            "name": f"roundtrip_{n}",
            "hex": h(bytes(range(n))),
            "b64url": b64url_encode(bytes(range(n))),
        }
        for n in (0, 1, 2, 3, 4, 32)
    ] + [
        {"name": "url_alphabet", "hex": "fbff", "b64url": "-_8"},
        {"name": "padding_rejected", "b64url": "AA==", "error": "Malformed"},
        {"name": "standard_alphabet_rejected", "b64url": "+/8", "error": "Malformed"},
        {"name": "non_canonical_bits", "b64url": "AB", "error": "Malformed"},
        {"name": "bad_length", "b64url": "AAAAA", "error": "Malformed"},
        {"name": "whitespace_rejected", "b64url": "AA A", "error": "Malformed"},
    ]
    return {
        "encode": encode_vectors,
        "decode": decode_vectors,
        "decode_label": "hushroom/v1/test",
        "decode_version": 1,
        "typed_fields": typed,
        "base64url": b64,
    }


# --- password --------------------------------------------------------------------------------


def gen_password() -> Json:
    random = rng("password")
    vectors = []
    for name, password in (
        ("ascii", "correct horse battery staple"),
        ("nfc_normalised", "cafe\u0301 ☕ pässwörd"),
    ):
        params = KdfParams.generate(random)
        keys = derive_password_keys(password, params)
        vectors.append(
            {
                "name": name,
                "password": password,
                "params": params.to_json(),
                "master": h(derive_master(password, params).reveal()),
                "password_key": h(keys.password_key.reveal()),
                "auth_secret": h(keys.auth_secret.reveal()),
            }
        )
    salt = b64url_encode(bytes(16))
    base = {"v": 1, "alg": "argon2id", "m": 65536, "t": 3, "p": 1, "salt": salt}
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("memory_below_minimum", {"m": 65535}, "WeakParameters"),
        ("iterations_below_minimum", {"t": 2}, "WeakParameters"),
        ("parallelism_zero", {"p": 0}, "WeakParameters"),
        ("salt_too_short", {"salt": b64url_encode(bytes(15))}, "WeakParameters"),
        ("other_algorithm", {"alg": "argon2i"}, "WeakParameters"),
        ("other_version", {"v": 2}, "WeakParameters"),
        ("memory_absurd", {"m": 1048577}, "Malformed"),
        ("iterations_absurd", {"t": 11}, "Malformed"),
        ("parallelism_absurd", {"p": 5}, "Malformed"),
        ("salt_too_long", {"salt": b64url_encode(bytes(65))}, "Malformed"),
        ("missing_field", {"m": None}, "Malformed"),
        ("string_number", {"t": "3"}, "Malformed"),
    ]
    params_vectors: list[Json] = [{"name": "minimum_accepted", "params": base, "error": None}]
    for name, change, error in refused:
        merged: dict[str, Any] = {**base, **change}
        candidate = {k: v for k, v in merged.items() if v is not None}
        params_vectors.append({"name": name, "params": candidate, "error": error})
    return {"derive": vectors, "params": params_vectors}


# --- recovery --------------------------------------------------------------------------------


def gen_recovery() -> Json:
    random = rng("recovery")
    vectors = []
    for i in range(3):
        entropy = random(17)
        code = code_from_entropy(entropy)
        vectors.append(
            {
                "name": f"code_{i}",
                "entropy": h(entropy),
                "canonical": code.reveal().decode(),
                "formatted": code.formatted(),
                "recovery_key": h(derive_recovery_key(code).reveal()),
                "recovery_auth": h(derive_recovery_auth(code)),
            }
        )
    for name, entropy in (("all_zero", bytes(17)), ("all_ones", b"\xff" * 17)):
        code = code_from_entropy(entropy)
        vectors.append(
            {
                "name": name,
                "entropy": h(entropy),
                "canonical": code.reveal().decode(),
                "formatted": code.formatted(),
                "recovery_key": h(derive_recovery_key(code).reveal()),
                "recovery_auth": h(derive_recovery_auth(code)),
            }
        )
    good = vectors[0]["formatted"]
    canonical = vectors[0]["canonical"]
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    sub = alphabet[(alphabet.index(canonical[5]) + 1) % 32]
    typo = canonical[:5] + sub + canonical[6:]
    i = next(i for i in range(27) if canonical[i] != canonical[i + 1])
    swapped = canonical[:i] + canonical[i + 1] + canonical[i] + canonical[i + 2 :]
    aliased = good.lower().replace("0", "o").replace("1", "l")
    parse = [
        {"name": "formatted", "input": good, "canonical": canonical},
        {"name": "no_separators", "input": canonical, "canonical": canonical},
        {
            "name": "spaces_lowercase_aliases",
            "input": " ".join(aliased.split("-")),
            "canonical": canonical,
        },
        {"name": "one_substitution", "input": typo, "error": "InvalidRecoveryCode"},
        {"name": "adjacent_transposition", "input": swapped, "error": "InvalidRecoveryCode"},
        {"name": "too_short", "input": canonical[:-1], "error": "InvalidRecoveryCode"},
        {"name": "too_long", "input": canonical + "0", "error": "InvalidRecoveryCode"},
        {"name": "letter_u", "input": "U" + canonical[1:], "error": "InvalidRecoveryCode"},
        {"name": "non_ascii", "input": "Ö" + canonical[1:], "error": "InvalidRecoveryCode"},
    ]
    return {"generate": vectors, "parse": parse}


# --- vault -----------------------------------------------------------------------------------


def gen_vault() -> Json:
    random = rng("vault")
    user_id = "user-7f3a"
    identity_seed = random(32)
    puks = [(1, random(32)), (2, random(32))]
    contents = VaultContents.create(identity_seed, puks)
    vault_key = VaultKey(random(32))
    password_key = Secret(random(32))
    recovery_key = Secret(random(32))
    nonces = [random(12) for _ in range(3)]
    sealed = seal_vault(vault_key, contents, user_id, lambda n: nonces[0])
    pw_wrap = wrap_vault_key(password_key, vault_key, user_id, "password", lambda n: nonces[1])
    rc_wrap = wrap_vault_key(recovery_key, vault_key, user_id, "recovery", lambda n: nonces[2])
    ok = {
        "name": "two_puk_generations",
        "user_id": user_id,
        "identity_seed": h(identity_seed),
        "puk_seeds": [{"generation": g, "seed": h(s)} for g, s in puks],
        "contents": h(contents.encode()),
        "vault_key": h(vault_key.reveal()),
        "password_key": h(password_key.reveal()),
        "recovery_key": h(recovery_key.reveal()),
        "vault_nonce": h(nonces[0]),
        "password_nonce": h(nonces[1]),
        "recovery_nonce": h(nonces[2]),
        "sealed_vault": h(sealed),
        "password_wrapping": h(pw_wrap),
        "recovery_wrapping": h(rc_wrap),
    }
    wrong = h(random(32))
    unwrap = [
        {
            "name": "password_ok",
            "kind": "password",
            "wrapping_key": ok["password_key"],
            "wrapped": h(pw_wrap),
            "user_id": user_id,
            "vault_key": ok["vault_key"],
        },
        {
            "name": "recovery_ok",
            "kind": "recovery",
            "wrapping_key": ok["recovery_key"],
            "wrapped": h(rc_wrap),
            "user_id": user_id,
            "vault_key": ok["vault_key"],
        },
        {
            "name": "wrong_password",
            "kind": "password",
            "wrapping_key": wrong,
            "wrapped": h(pw_wrap),
            "user_id": user_id,
            "error": "DecryptionFailed",
        },
        {
            "name": "other_user",
            "kind": "password",
            "wrapping_key": ok["password_key"],
            "wrapped": h(pw_wrap),
            "user_id": "user-other",
            "error": "DecryptionFailed",
        },
        {
            "name": "kind_swapped",
            "kind": "password",
            "wrapping_key": ok["recovery_key"],
            "wrapped": h(rc_wrap),
            "user_id": user_id,
            "error": "Malformed",
        },
        {
            "name": "tampered",
            "kind": "password",
            "wrapping_key": ok["password_key"],
            "wrapped": h(flip(pw_wrap, len(pw_wrap) - 1)),
            "user_id": user_id,
            "error": "DecryptionFailed",
        },
        {
            "name": "truncated",
            "kind": "password",
            "wrapping_key": ok["password_key"],
            "wrapped": h(pw_wrap[:-1]),
            "user_id": user_id,
            "error": "Malformed",
        },
        {
            "name": "wrong_label",
            "kind": "password",
            "wrapping_key": ok["password_key"],
            "wrapped": h(
                encode("hushroom/v1/vault-wrapx", 1, ["password", nonces[1], pw_wrap[-48:]])
            ),
            "user_id": user_id,
            "error": "Malformed",
        },
    ]
    open_vectors = [
        {
            "name": "ok",
            "vault_key": ok["vault_key"],
            "sealed_vault": h(sealed),
            "user_id": user_id,
            "contents": ok["contents"],
        },
        {
            "name": "wrong_key",
            "vault_key": wrong,
            "sealed_vault": h(sealed),
            "user_id": user_id,
            "error": "DecryptionFailed",
        },
        {
            "name": "other_user",
            "vault_key": ok["vault_key"],
            "sealed_vault": h(sealed),
            "user_id": "user-other",
            "error": "DecryptionFailed",
        },
        {
            "name": "tampered",
            "vault_key": ok["vault_key"],
            "sealed_vault": h(flip(sealed, 40)),
            "user_id": user_id,
            "error": "DecryptionFailed",
        },
        {
            "name": "truncated",
            "vault_key": ok["vault_key"],
            "sealed_vault": h(sealed[:-3]),
            "user_id": user_id,
            "error": "Malformed",
        },
    ]
    bad_contents = [
        {
            "name": "duplicate_generation",
            "contents": h(
                encode(
                    "hushroom/v1/vault-contents",
                    1,
                    [identity_seed, [encode("hushroom/v1/vault-puk", 1, [1, puks[0][1]])] * 2],
                )
            ),
            "error": "Malformed",
        },
        {
            "name": "generation_zero",
            "contents": h(
                encode(
                    "hushroom/v1/vault-contents",
                    1,
                    [identity_seed, [encode("hushroom/v1/vault-puk", 1, [0, puks[0][1]])]],
                )
            ),
            "error": "Malformed",
        },
        {
            "name": "no_puk",
            "contents": h(encode("hushroom/v1/vault-contents", 1, [identity_seed, []])),
            "error": "Malformed",
        },
        {
            "name": "short_seed",
            "contents": h(
                encode(
                    "hushroom/v1/vault-contents",
                    1,
                    [identity_seed[:31], [encode("hushroom/v1/vault-puk", 1, [1, puks[0][1]])]],
                )
            ),
            "error": "Malformed",
        },
    ]
    return {"create": [ok], "unwrap": unwrap, "open": open_vectors, "contents_decode": bad_contents}


# --- Ed25519 strict rule ----------------------------------------------------------------------
# Minimal RFC 8032 Edwards arithmetic (test-only) to build signatures that separate the
# cofactorless rule (ours, OpenSSL) from the cofactored one (noble's ed25519.verify).

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
Point = tuple[int, int, int, int]


def _add(p1: Point, p2: Point) -> Point:
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, hh = b - a, d - c, d + c, b + a
    return (e * f % _P, g * hh % _P, f * g % _P, e * hh % _P)


def _mul(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _compress(point: Point) -> bytes:
    x, y, z, _ = point
    zinv = pow(z, _P - 2, _P)
    x, y = x * zinv % _P, y * zinv % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _decompress(data: bytes) -> Point:
    y = int.from_bytes(data, "little") & ((1 << 255) - 1)
    sign = data[31] >> 7
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    assert (x * x - x2) % _P == 0
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


_BASE = _decompress(bytes.fromhex("58" + "66" * 31))
_TORSION_8 = _decompress(
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
)


def _challenge(r: bytes, a: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + message).digest(), "little") % _L


def _sign_raw(a: int, public: bytes, r: int, r_point: Point, message: bytes) -> bytes:
    r_bytes = _compress(r_point)
    s = (r + _challenge(r_bytes, public, message) * a) % _L
    return r_bytes + s.to_bytes(32, "little")


def gen_ed25519() -> Json:
    random = rng("ed25519")
    device = DeviceKey(random(32))
    message = b"hushroom ed25519 strict rule"
    good = device.sign(message)
    identity = (1).to_bytes(32, "little")
    zero_sig = identity + bytes(32)
    s_plus_l = good[:32] + (int.from_bytes(good[32:], "little") + _L).to_bytes(32, "little")
    a = int.from_bytes(random(32), "little") % _L
    r = int.from_bytes(random(32), "little") % _L
    public = _compress(_mul(a, _BASE))
    torsion_r = _sign_raw(a, public, r, _add(_mul(r, _BASE), _TORSION_8), message)
    small_r = _sign_raw(a, public, r, _TORSION_8, message)
    mixed = _compress(_add(_mul(a, _BASE), _TORSION_8))
    by_k: dict[bool, tuple[bytes, bytes]] = {}
    counter = 0
    while len(by_k) < 2:
        candidate = message + counter.to_bytes(4, "big")
        r_bytes = _compress(_mul(r, _BASE))
        k = _challenge(r_bytes, mixed, candidate)
        by_k.setdefault(k % 8 == 0, (candidate, _sign_raw(a, mixed, r, _mul(r, _BASE), candidate)))
        counter += 1
    cases: list[Json] = [
        {
            "name": "valid",
            "public_key": h(device.public_key),
            "message": h(message),
            "signature": h(good),
        },
        {
            "name": "wrong_message",
            "public_key": h(device.public_key),
            "message": h(message + b"!"),
            "signature": h(good),
            "error": "InvalidSignature",
        },
        {
            "name": "rule1_short_signature",
            "public_key": h(device.public_key),
            "message": h(message),
            "signature": h(good[:63]),
            "error": "InvalidSignature",
        },
        {
            "name": "rule1_short_key",
            "public_key": h(device.public_key[:31]),
            "message": h(message),
            "signature": h(good),
            "error": "InvalidSignature",
        },
        {
            "name": "rule2_s_plus_l",
            "public_key": h(device.public_key),
            "message": h(message),
            "signature": h(s_plus_l),
            "error": "InvalidSignature",
        },
        {
            "name": "rule3_non_canonical_a",
            "public_key": h((_P + 1).to_bytes(32, "little")),
            "message": h(message),
            "signature": h(zero_sig),
            "error": "InvalidSignature",
        },
        {
            "name": "rule3_x_zero_sign_bit",
            "public_key": h((1 + 2**255).to_bytes(32, "little")),
            "message": h(message),
            "signature": h(zero_sig),
            "error": "InvalidSignature",
        },
        {
            "name": "rule3_non_canonical_r",
            "public_key": h(device.public_key),
            "message": h(message),
            "signature": h((_P + 1).to_bytes(32, "little") + good[32:]),
            "error": "InvalidSignature",
        },
        {
            "name": "rule4_identity_key_trivial_signature",
            "public_key": h(identity),
            "message": h(message),
            "signature": h(zero_sig),
            "error": "InvalidSignature",
        },
        {
            "name": "rule4_small_order_r",
            "public_key": h(public),
            "message": h(message),
            "signature": h(small_r),
            "error": "InvalidSignature",
        },
        {
            "name": "rule5_off_curve_a",
            "public_key": h((2).to_bytes(32, "little")),
            "message": h(message),
            "signature": h(good),
            "error": "InvalidSignature",
        },
        {
            "name": "rule6_r_with_torsion_cofactored_only",
            "public_key": h(public),
            "message": h(message),
            "signature": h(torsion_r),
            "error": "InvalidSignature",
        },
        {
            "name": "rule6_mixed_order_a_k_not_multiple_of_8",
            "public_key": h(mixed),
            "message": h(by_k[False][0]),
            "signature": h(by_k[False][1]),
            "error": "InvalidSignature",
        },
        {
            "name": "rule6_mixed_order_a_k_multiple_of_8",
            "public_key": h(mixed),
            "message": h(by_k[True][0]),
            "signature": h(by_k[True][1]),
        },
        {
            "name": "valid_raw_signer",
            "public_key": h(public),
            "message": h(message),
            "signature": h(_sign_raw(a, public, r, _mul(r, _BASE), message)),
        },
    ]
    return {"verify": cases}


# --- identity, PUK, device -------------------------------------------------------------------


def _small_order_x25519() -> bytes:
    return bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")


def gen_puk() -> Json:
    random = rng("puk")
    identity = IdentityKey(random(32))
    other = IdentityKey(random(32))
    puk = PukKeyPair(3, random(32))
    cert = certify_puk(identity, "user-a", puk, 1764201600000)
    ok = {
        "name": "generation_3",
        "identity_seed": h(identity.seed.reveal()),
        "identity_public": h(identity.public_key),
        "user_id": "user-a",
        "generation": 3,
        "puk_seed": h(puk.seed.reveal()),
        "puk_public": h(puk.public_key),
        "created_at": 1764201600000,
        "certificate": h(cert.encoded),
    }

    def signed(tbs: bytes, key: IdentityKey = identity) -> str:
        return h(encode_signed(tbs, key.sign(tbs)))

    bad_x = puk.public_key[:1184] + _small_order_x25519()
    verify = [
        {
            "name": "ok",
            "certificate": ok["certificate"],
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
        },
        {
            "name": "tampered_public_key",
            "certificate": h(flip(cert.encoded, 200)),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "error": "InvalidSignature",
        },
        {
            "name": "other_identity",
            "certificate": ok["certificate"],
            "identity_public": h(other.public_key),
            "user_id": "user-a",
            "error": "InvalidSignature",
        },
        {
            "name": "other_user",
            "certificate": ok["certificate"],
            "identity_public": ok["identity_public"],
            "user_id": "user-b",
            "error": "ContextMismatch",
        },
        {
            "name": "generation_zero",
            "certificate": signed(
                encode("hushroom/v1/puk-cert", 1, ["user-a", 0, puk.public_key, 1])
            ),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "error": "Malformed",
        },
        {
            "name": "small_order_x25519",
            "certificate": signed(encode("hushroom/v1/puk-cert", 1, ["user-a", 3, bad_x, 1])),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "error": "InvalidPublicKey",
        },
        {
            "name": "short_public_key",
            "certificate": signed(
                encode("hushroom/v1/puk-cert", 1, ["user-a", 3, puk.public_key[:-1], 1])
            ),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "error": "InvalidPublicKey",
        },
        {
            "name": "device_cert_label",
            "certificate": signed(
                encode("hushroom/v1/device-cert", 1, ["user-a", "d", identity.public_key, 1])
            ),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "error": "Malformed",
        },
        {
            "name": "truncated",
            "certificate": h(cert.encoded[:-1]),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "error": "Malformed",
        },
    ]
    p = 2**255 - 19
    xwing_keys = [
        {"name": "ok", "public_key": h(puk.public_key)},
        {
            "name": "x25519_zero",
            "public_key": h(puk.public_key[:1184] + bytes(32)),
            "error": "InvalidPublicKey",
        },
        {
            "name": "x25519_one",
            "public_key": h(puk.public_key[:1184] + (1).to_bytes(32, "little")),
            "error": "InvalidPublicKey",
        },
        {"name": "x25519_order_8", "public_key": h(bad_x), "error": "InvalidPublicKey"},
        {
            "name": "x25519_p_minus_1",
            "public_key": h(puk.public_key[:1184] + (p - 1).to_bytes(32, "little")),
            "error": "InvalidPublicKey",
        },
        {
            "name": "x25519_non_canonical",
            "public_key": h(puk.public_key[:1184] + (p + 9).to_bytes(32, "little")),
            "error": "InvalidPublicKey",
        },
        {
            "name": "x25519_high_bit",
            "public_key": h(puk.public_key[:1184] + (9 + 2**255).to_bytes(32, "little")),
            "error": "InvalidPublicKey",
        },
        {
            "name": "mlkem_coefficient_too_big",
            "public_key": h(b"\xff" * 1184 + puk.public_key[1184:]),
            "error": "InvalidPublicKey",
        },
        {"name": "wrong_length", "public_key": h(puk.public_key[:-1]), "error": "InvalidPublicKey"},
    ]
    keypairs = []
    for i in range(2):
        seed = random(32)
        keypairs.append(
            {"name": f"seed_{i}", "seed": h(seed), "public_key": h(XWingKeyPair(seed).public_key)}
        )
    return {
        "certify": [ok],
        "verify": verify,
        "xwing_public_key_check": xwing_keys,
        "xwing_from_seed": keypairs,
    }


def gen_device() -> Json:
    random = rng("device")
    identity = IdentityKey(random(32))
    other = IdentityKey(random(32))
    device = DeviceKey(random(32))
    cert = certify_device(identity, "user-a", "dev-1", device.public_key, 1764201600000)
    ok = {
        "name": "ok",
        "identity_seed": h(identity.seed.reveal()),
        "identity_public": h(identity.public_key),
        "user_id": "user-a",
        "device_id": "dev-1",
        "device_seed": h(device.seed.reveal()),
        "device_public": h(device.public_key),
        "created_at": 1764201600000,
        "certificate": h(cert.encoded),
    }

    def signed(tbs: bytes) -> str:
        return h(encode_signed(tbs, identity.sign(tbs)))

    small = "0100000000000000000000000000000000000000000000000000000000000000"
    verify = [
        {
            "name": "ok",
            "certificate": ok["certificate"],
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "device_id": "dev-1",
        },
        {
            "name": "tampered",
            "certificate": h(flip(cert.encoded, 60)),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "device_id": "dev-1",
            "error": "InvalidSignature",
        },
        {
            "name": "other_identity",
            "certificate": ok["certificate"],
            "identity_public": h(other.public_key),
            "user_id": "user-a",
            "device_id": "dev-1",
            "error": "InvalidSignature",
        },
        {
            "name": "other_user",
            "certificate": ok["certificate"],
            "identity_public": ok["identity_public"],
            "user_id": "user-b",
            "device_id": "dev-1",
            "error": "ContextMismatch",
        },
        {
            "name": "other_device",
            "certificate": ok["certificate"],
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "device_id": "dev-2",
            "error": "ContextMismatch",
        },
        {
            "name": "small_order_device_key",
            "certificate": signed(
                encode("hushroom/v1/device-cert", 1, ["user-a", "dev-1", bytes.fromhex(small), 1])
            ),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "device_id": "dev-1",
            "error": "InvalidPublicKey",
        },
        {
            "name": "off_curve_device_key",
            "certificate": signed(
                encode(
                    "hushroom/v1/device-cert",
                    1,
                    ["user-a", "dev-1", (2).to_bytes(32, "little"), 1],
                )
            ),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "device_id": "dev-1",
            "error": "InvalidPublicKey",
        },
        {
            "name": "puk_cert_label",
            "certificate": signed(
                encode("hushroom/v1/puk-cert", 1, ["user-a", 1, device.public_key, 1])
            ),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "device_id": "dev-1",
            "error": "Malformed",
        },
        {
            "name": "signature_63_bytes",
            "certificate": h(cert.encoded[:-1]),
            "identity_public": ok["identity_public"],
            "user_id": "user-a",
            "device_id": "dev-1",
            "error": "Malformed",
        },
    ]
    return {"certify": [ok], "verify": verify}


# --- key sets --------------------------------------------------------------------------------


class Person:
    def __init__(self, user_id: str, random: Callable[[int], bytes], puk_generation: int = 1):
        self.user_id = user_id
        self.identity = IdentityKey(random(32))
        self.device = DeviceKey(random(32))
        self.puk = PukKeyPair(puk_generation, random(32))
        self.device_cert = certify_device(
            self.identity, user_id, f"{user_id}-dev", self.device.public_key, 1
        )
        self.puk_cert = certify_puk(self.identity, user_id, self.puk, 1)

    def describe(self) -> Json:
        return {
            "user_id": self.user_id,
            "identity_seed": h(self.identity.seed.reveal()),
            "identity_public": h(self.identity.public_key),
            "device_id": self.device_cert.device_id,
            "device_seed": h(self.device.seed.reveal()),
            "device_certificate": h(self.device_cert.encoded),
            "puk_generation": self.puk.generation,
            "puk_seed": h(self.puk.seed.reveal()),
            "puk_certificate": h(self.puk_cert.encoded),
        }


def _statement_fields(statement: KeySetStatement) -> Json:
    return {
        "conversation_id": statement.conversation_id,
        "generation": statement.generation,
        "creator_user_id": statement.creator_user_id,
        "creator_device_id": statement.creator_device_id,
        "created_at": statement.created_at,
        "members": [[m.user_id, m.puk_generation] for m in statement.members],
        "commitment": h(statement.commitment),
    }


def gen_key_set(frozen: Frozen) -> Json:
    random = rng("key_set")
    alice, bob, carol = Person("alice", random), Person("bob", random, 2), Person("carol", random)
    mallory = Person("mallory", random)
    people = {p.user_id: p for p in (alice, bob, carol, mallory)}
    sealed_out: dict[str, str] = {}
    conv = "conv-42"

    ck, upload = create_key_set(
        conv,
        5,
        alice.device,
        alice.device_cert,
        [carol.puk_cert, alice.puk_cert, bob.puk_cert],
        1764201600000,
        random,
    )
    statement = verify_key_set(
        upload.statement, alice.device_cert, conv, 5, {"alice", "bob", "carol"}
    )
    boxes: dict[str, bytes] = {}
    for member in statement.members:
        info = seal_info(conv, 5, member, statement.commitment, "alice", "alice-dev")
        sealed = frozen.seal(
            f"main/{member.user_id}", people[member.user_id].puk, info, ck.reveal(), sealed_out
        )
        boxes[member.user_id] = encode_box(member.user_id, sealed)

    # A second, unrelated generation of the same conversation (for a box-swap attempt).
    ck6, upload6 = create_key_set(
        conv,
        6,
        alice.device,
        alice.device_cert,
        [alice.puk_cert, bob.puk_cert, carol.puk_cert],
        1764201700000,
        random,
    )
    st6 = verify_key_set(upload6.statement, alice.device_cert, conv, 6, {"alice", "bob", "carol"})
    bob6 = next(m for m in st6.members if m.user_id == "bob")
    info6 = seal_info(conv, 6, bob6, st6.commitment, "alice", "alice-dev")
    box6 = encode_box("bob", frozen.seal("gen6/bob", bob.puk, info6, ck6.reveal(), sealed_out))

    # A member device that signs a commitment to one key and seals another.
    other_key = random(32)
    lying_tbs = encode(
        "hushroom/v1/key-set",
        1,
        [
            conv,
            7,
            "alice",
            "alice-dev",
            1,
            [KeySetMember(u, people[u].puk.generation).encode() for u in ("alice", "bob")],
            key_commitment(random(32)),
        ],
    )
    lying = encode_signed(lying_tbs, alice.device.sign(lying_tbs))
    lying_st = verify_key_set(lying, alice.device_cert, conv, 7, {"alice", "bob"})
    lying_info = seal_info(conv, 7, lying_st.members[1], lying_st.commitment, "alice", "alice-dev")
    lying_box = encode_box(
        "bob", frozen.seal("lying/bob", bob.puk, lying_info, other_key, sealed_out)
    )

    # The server makes up a key set and signs it with a key of its own.
    server_key = DeviceKey(random(32))
    forged_tbs = encode(
        "hushroom/v1/key-set",
        1,
        [
            conv,
            5,
            "alice",
            "alice-dev",
            1,
            [KeySetMember(u, people[u].puk.generation).encode() for u in ("alice", "bob", "carol")],
            key_commitment(random(32)),
        ],
    )
    forged = encode_signed(forged_tbs, server_key.sign(forged_tbs))

    def signed_by_alice(tbs: bytes) -> bytes:
        return encode_signed(tbs, alice.device.sign(tbs))

    def tbs_with(members: list[tuple[str, int]], creator: str = "alice") -> bytes:
        return encode(
            "hushroom/v1/key-set",
            1,
            [
                conv,
                5,
                creator,
                "alice-dev",
                1,
                [KeySetMember(u, g).encode() for u, g in members],
                statement.commitment,
            ],
        )

    expected = ["alice", "bob", "carol"]
    base = {
        "conversation_id": conv,
        "generation": 5,
        "creator": "alice",
        "expected_members": expected,
    }
    verify: list[Json] = [
        {
            **base,
            "name": "ok",
            "statement": h(upload.statement),
            "expected": _statement_fields(statement),
        },
        {**base, "name": "made_by_server", "statement": h(forged), "error": "InvalidSignature"},
        {
            **base,
            "name": "tampered",
            "statement": h(flip(upload.statement, 40)),
            "error": "InvalidSignature",
        },
        {
            **base,
            "name": "signed_by_other_member_device",
            "creator": "bob",
            "statement": h(upload.statement),
            "error": "InvalidSignature",
        },
        {
            **base,
            "name": "other_conversation",
            "conversation_id": "conv-43",
            "statement": h(upload.statement),
            "error": "ContextMismatch",
        },
        {
            **base,
            "name": "wrong_generation",
            "generation": 4,
            "statement": h(upload.statement),
            "error": "WrongGeneration",
        },
        {
            **base,
            "name": "ghost_member",
            "expected_members": ["alice", "bob"],
            "statement": h(upload.statement),
            "error": "NotAMember",
        },
        {
            **base,
            "name": "missing_member",
            "expected_members": [*expected, "dave"],
            "statement": h(upload.statement),
            "error": "NotAMember",
        },
        {
            **base,
            "name": "creator_not_member",
            "statement": h(signed_by_alice(tbs_with([("bob", 2), ("carol", 1)]))),
            "error": "NotAMember",
        },
        {
            **base,
            "name": "creator_mismatch",
            "statement": h(
                signed_by_alice(tbs_with([("alice", 1), ("bob", 2), ("carol", 1)], creator="bob"))
            ),
            "error": "ContextMismatch",
        },
        {
            **base,
            "name": "members_unsorted",
            "statement": h(signed_by_alice(tbs_with([("bob", 2), ("alice", 1), ("carol", 1)]))),
            "error": "Malformed",
        },
        {
            **base,
            "name": "members_duplicate",
            "statement": h(
                signed_by_alice(tbs_with([("alice", 1), ("bob", 2), ("bob", 2), ("carol", 1)]))
            ),
            "error": "Malformed",
        },
        {
            **base,
            "name": "puk_generation_zero",
            "statement": h(signed_by_alice(tbs_with([("alice", 1), ("bob", 0), ("carol", 1)]))),
            "error": "Malformed",
        },
        {
            **base,
            "name": "wrong_label",
            "statement": h(signed_by_alice(encode("hushroom/v1/key-sex", 1, [conv]))),
            "error": "Malformed",
        },
        {**base, "name": "truncated", "statement": h(upload.statement[:-1]), "error": "Malformed"},
    ]
    ok_open = {
        "statement": h(upload.statement),
        "conversation_id": conv,
        "generation": 5,
        "creator": "alice",
        "expected_members": expected,
    }
    open_vectors: list[Json] = [
        {
            **ok_open,
            "name": f"{u}_opens",
            "user_id": u,
            "held_puk_generations": [people[u].puk.generation],
            "box": h(boxes[u]),
            "expected_key": h(ck.reveal()),
        }
        for u in expected
    ] + [
        {
            **ok_open,
            "name": "non_member",
            "user_id": "mallory",
            "held_puk_generations": [1],
            "box": h(boxes["bob"]),
            "error": "NotAMember",
        },
        {
            **ok_open,
            "name": "wrong_puk_generation",
            "user_id": "bob",
            "held_puk_generations": [],
            "box": h(boxes["bob"]),
            "error": "WrongGeneration",
        },
        {
            **ok_open,
            "name": "box_of_other_member",
            "user_id": "bob",
            "held_puk_generations": [2],
            "box": h(boxes["carol"]),
            "error": "Malformed",
        },
        {
            **ok_open,
            "name": "box_from_other_generation",
            "user_id": "bob",
            "held_puk_generations": [2],
            "box": h(box6),
            "error": "DecryptionFailed",
        },
        {
            **ok_open,
            "name": "tampered_box",
            "user_id": "bob",
            "held_puk_generations": [2],
            "box": h(flip(boxes["bob"], len(boxes["bob"]) - 1)),
            "error": "DecryptionFailed",
        },
        {
            "name": "commitment_mismatch",
            "statement": h(lying),
            "conversation_id": conv,
            "generation": 7,
            "creator": "alice",
            "expected_members": ["alice", "bob"],
            "user_id": "bob",
            "held_puk_generations": [2],
            "box": h(lying_box),
            "error": "KeyCommitmentMismatch",
        },
    ]
    upload_bytes = encode(
        "hushroom/v1/key-set-upload",
        1,
        [upload.statement, [boxes[m.user_id] for m in statement.members]],
    )
    return {
        "people": [p.describe() for p in people.values()],
        "create": [
            {
                "name": "three_members",
                "conversation_id": conv,
                "generation": 5,
                "created_at": 1764201600000,
                "creator": "alice",
                "conversation_key": h(ck.reveal()),
                "commitment": h(ck.commitment()),
                "statement": h(upload.statement),
                "upload": h(upload_bytes),
            }
        ],
        "verify": verify,
        "open": open_vectors,
        "frozen_sealed": sealed_out,
    }


# --- envelopes -------------------------------------------------------------------------------


def gen_envelope() -> Json:
    random = rng("envelope")
    alice, bob = Person("alice", random), Person("bob", random)
    eve = Person("eve", random)
    key = ConversationKey("conv-9", 3, random(32))
    salt, nonce = random(32), random(12)
    stream = iter([salt, nonce])
    fields: dict[str, Any] = {
        "sender_user_id": "alice",
        "sender_device_id": "alice-dev",
        "client_message_id": "cm-1",
        "timestamp": 1764201600123,
        "counter": 17,
    }
    plaintext = '{"type":"text","body":"hello 🍄"}'.encode()
    envelope = seal_envelope(
        key, alice.device, plaintext=plaintext, random=lambda n: next(stream), **fields
    )
    parsed = Envelope.decode(envelope)

    def resign(header: Header, ciphertext: bytes, device: DeviceKey = alice.device) -> bytes:
        hb = header.encode()
        return Envelope(hb, ciphertext, device.sign(signature_input(hb, ciphertext))).encode()

    header = Header.decode(parsed.header)
    tampered_header = Header(**{**_header_dict(header), "timestamp": header.timestamp + 1})
    eve_key = ConversationKey("conv-9", 3, key.reveal())
    eve_stream = iter([salt, nonce])
    eve_env = seal_envelope(
        eve_key,
        eve.device,
        plaintext=b"hi",
        random=lambda n: next(eve_stream),
        **{**fields, "sender_user_id": "eve", "sender_device_id": "eve-dev"},
    )
    base = {
        "conversation_id": "conv-9",
        "key_generation": 3,
        "conversation_key": h(key.reveal()),
        "key_set_members": ["alice", "bob"],
        "sender": "alice",
    }
    gen4 = Header(**{**_header_dict(header), "generation": 4})
    opens: list[Json] = [
        {**base, "name": "ok", "envelope": h(envelope), "plaintext": h(plaintext)},
        {
            **base,
            "name": "header_tamper_not_resigned",
            "envelope": h(
                Envelope(tampered_header.encode(), parsed.ciphertext, parsed.signature).encode()
            ),
            "error": "InvalidSignature",
        },
        {
            **base,
            "name": "header_tamper_resigned_fails_aad",
            "envelope": h(resign(tampered_header, parsed.ciphertext)),
            "error": "DecryptionFailed",
        },
        {
            **base,
            "name": "ciphertext_tamper_resigned",
            "envelope": h(resign(header, flip(parsed.ciphertext, 0))),
            "error": "DecryptionFailed",
        },
        {
            **base,
            "name": "signature_tamper",
            "envelope": h(
                Envelope(parsed.header, parsed.ciphertext, flip(parsed.signature, 5)).encode()
            ),
            "error": "InvalidSignature",
        },
        {
            **base,
            "name": "signed_by_other_device",
            "envelope": h(resign(header, parsed.ciphertext, bob.device)),
            "error": "InvalidSignature",
        },
        {
            **base,
            "name": "other_conversation",
            "conversation_id": "conv-10",
            "envelope": h(envelope),
            "error": "ContextMismatch",
        },
        {
            **base,
            "name": "unknown_generation",
            "envelope": h(resign(gen4, parsed.ciphertext)),
            "error": "WrongGeneration",
        },
        {
            **base,
            "name": "sender_not_member",
            "sender": "eve",
            "envelope": h(eve_env),
            "error": "NotAMember",
        },
        {
            **base,
            "name": "certificate_of_other_sender",
            "sender": "bob",
            "envelope": h(envelope),
            "error": "ContextMismatch",
        },
        {
            **base,
            "name": "wrong_key",
            "conversation_key": h(random(32)),
            "envelope": h(envelope),
            "error": "DecryptionFailed",
        },
        {**base, "name": "truncated", "envelope": h(envelope[:-1]), "error": "Malformed"},
        {
            **base,
            "name": "wrong_label",
            "envelope": h(
                encode(
                    "hushroom/v1/envelopf", 1, [parsed.header, parsed.ciphertext, parsed.signature]
                )
            ),
            "error": "Malformed",
        },
        {
            **base,
            "name": "counter_zero",
            "envelope": h(
                resign(Header(**{**_header_dict(header), "counter": 0}), parsed.ciphertext)
            ),
            "error": "Malformed",
        },
    ]
    seal = {
        "name": "text_event",
        "conversation_id": "conv-9",
        "generation": 3,
        "conversation_key": h(key.reveal()),
        "sender_device_seed": h(alice.device.seed.reveal()),
        **fields,
        "salt": h(salt),
        "nonce": h(nonce),
        "plaintext": h(plaintext),
        "header": h(parsed.header),
        "message_key": h(message_key(key, salt)),
        "ciphertext": h(parsed.ciphertext),
        "signature": h(parsed.signature),
        "envelope": h(envelope),
    }
    counters = [
        {
            "name": "in_order",
            "counters": [1, 2, 3],
            "verdicts": ["in_order", "in_order", "in_order"],
        },
        {
            "name": "gap_then_late",
            "counters": [1, 4, 2, 3],
            "verdicts": ["in_order", "gap:2-3", "late", "late"],
        },
        {
            "name": "replay",
            "counters": [1, 2, 2],
            "verdicts": ["in_order", "in_order", "ReplayDetected"],
        },
        {
            "name": "late_replayed",
            "counters": [1, 3, 2, 2],
            "verdicts": ["in_order", "gap:2-2", "late", "ReplayDetected"],
        },
        {"name": "first_seen_late_start", "counters": [5, 1], "verdicts": ["gap:1-4", "late"]},
        {"name": "zero", "counters": [0], "verdicts": ["Malformed"]},
    ]
    return {
        "people": [p.describe() for p in (alice, bob, eve)],
        "seal": [seal],
        "open": opens,
        "counters": counters,
    }


def _header_dict(header: Header) -> dict[str, Any]:
    return {f.name: getattr(header, f.name) for f in dataclasses.fields(header)}


# --- safety numbers --------------------------------------------------------------------------


def gen_safety_number() -> Json:
    random = rng("safety_number")
    vectors = []
    for i in range(3):
        a, b = IdentityKey(random(32)).public(), IdentityKey(random(32)).public()
        number = safety_number(a, b)
        vectors.append(
            {
                "name": f"pair_{i}",
                "identity_a": h(a.key),
                "identity_b": h(b.key),
                "fingerprint_a": h(fingerprint(a)),
                "fingerprint_b": h(fingerprint(b)),
                "digits": number.digits,
                "qr_payload": h(number.qr_payload),
            }
        )
    same = vectors[0]["identity_a"]
    return {
        "vectors": vectors,
        "errors": [
            {"name": "same_key_twice", "identity_a": same, "identity_b": same, "error": "Malformed"}
        ],
    }


# --- message events --------------------------------------------------------------------------


def gen_event() -> Json:
    texts = {
        "ascii": "hello",
        "unicode": "h\u00e9llo \U0001f510 \u4f60\u597d",
        "escapes": 'a\nb\t"q"\\ \u0001 \u007f \u2028 </script>',
    }
    encode_cases = [
        {"name": name, "text": text, "expected": h(encode_text_event(text))}
        for name, text in texts.items()
    ]
    raw = {
        "spaced_json": ('{ "type" : "text", "body" : "hi" }', {"type": "text", "body": "hi"}),
        "extra_fields_ignored": (
            '{"type":"text","body":"hi","reply_to":7}',
            {"type": "text", "body": "hi"},
        ),
        "unknown_type": ('{"type":"reaction","emoji":"+1"}', {"type": "reaction"}),
        "escaped_pair": (
            '{"type":"text","body":"\\ud83d\\udd10"}',
            {"type": "text", "body": "\U0001f510"},
        ),
        "not_json": ("hello", "Malformed"),
        "array": ('["text","hi"]', "Malformed"),
        "string": ('"hi"', "Malformed"),
        "no_type": ('{"body":"hi"}', "Malformed"),
        "empty_type": ('{"type":"","body":"hi"}', "Malformed"),
        "type_number": ('{"type":1,"body":"hi"}', "Malformed"),
        "text_without_body": ('{"type":"text"}', "Malformed"),
        "text_empty_body": ('{"type":"text","body":""}', "Malformed"),
        "body_number": ('{"type":"text","body":5}', "Malformed"),
        "nan_constant": ('{"type":"text","body":"hi","n":NaN}', "Malformed"),
        "lone_surrogate": ('{"type":"text","body":"\\ud800"}', "Malformed"),
        "trailing_garbage": ('{"type":"text","body":"hi"} x', "Malformed"),
    }
    decode_cases: list[Json] = []
    for name, (text, want) in raw.items():
        case: Json = {"name": name, "plaintext": h(text.encode("utf-8"))}
        if isinstance(want, str):
            case["error"] = want
        else:
            case["expected"] = want
        decode_cases.append(case)
    decode_cases.append(
        {"name": "invalid_utf8", "plaintext": "7b2274797065223a22ff227d", "error": "Malformed"}
    )
    for case in decode_cases:
        try:
            event = decode_event(bytes.fromhex(case["plaintext"]))
        except errors.CryptoError as exc:
            outcome = type(exc).__name__
            assert outcome == case.get("error"), case["name"]
        else:
            want_event = case.get("expected")
            assert want_event is not None, case["name"]
            got = {"type": event.type, **({"body": event.body} if event.body is not None else {})}
            assert got == want_event, case["name"]
    return {"encode": encode_cases, "decode": decode_cases}


# --- contacts store --------------------------------------------------------------------------


def gen_contacts_store() -> Json:
    random = rng("contacts_store")
    alice_seed, other_seed = Secret(random(32)), Secret(random(32))
    user_id = "4f1c2a9e-0b7d-4c36-9a51-2e8d7f60b3c4"

    def ik() -> str:
        return h(IdentityKey.from_seed(random(32)).public_key)

    key_cases = [
        {
            "name": name,
            "identity_seed": h(seed.reveal()),
            "key": h(contacts_store_key(seed).reveal()),
        }
        for name, seed in (("alice", alice_seed), ("other", other_seed))
    ]
    maps: dict[str, dict[str, str]] = {
        "empty": {},
        "two_contacts": {
            "d2b7c1e0-5a4f-4e8b-8c3d-1f0e9a7b6c55": ik(),
            "0a9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c": ik(),
        },
        # Sorted by UTF-8 bytes: digits before letters (not JavaScript's integer-key order),
        # U+FF21 before U+1F510 (not UTF-16 order).
        "key_order": {
            "\U0001f510": ik(),
            "\uff21": ik(),
            "b": ik(),
            "a\u00e9": ik(),
            "10": ik(),
            "9": ik(),
        },
    }
    seal_cases: list[Json] = []
    for index, (name, verified) in enumerate(maps.items()):
        version = index + 1
        nonce = random(12)
        plaintext = encode_contacts(verified)
        blob = seal_contacts_store(alice_seed, user_id, version, verified, lambda n, c=nonce: c)
        seal_cases.append(
            {
                "name": name,
                "identity_seed": h(alice_seed.reveal()),
                "user_id": user_id,
                "version": version,
                "verified": verified,
                "nonce": h(nonce),
                "plaintext": h(plaintext),
                "aad": h(store_aad(user_id, version)),
                "blob": h(blob),
            }
        )
    good = seal_cases[1]
    blob = bytes.fromhex(good["blob"])
    bad_plaintext_nonce = random(12)
    bad_plaintext = b'{"v":2,"verified":{}}'
    key = contacts_store_key(alice_seed).reveal()
    sealed_bad = encode(
        STORE_LABEL,
        1,
        [
            bad_plaintext_nonce,
            aes_gcm_seal(key, bad_plaintext_nonce, bad_plaintext, store_aad(user_id, 9)),
        ],
    )

    def case(
        name: str,
        *,
        seed: Secret = alice_seed,
        uid: str = user_id,
        version: int = 2,
        data: bytes = blob,
        error: str | None = None,
    ) -> Json:
        out: Json = {
            "name": name,
            "identity_seed": h(seed.reveal()),
            "user_id": uid,
            "version": version,
            "blob": h(data),
        }
        if error is None:
            out["expected"] = decode_contacts(
                bytes.fromhex(next(c["plaintext"] for c in seal_cases if c["blob"] == h(data)))
            )
        else:
            out["error"] = error
        return out

    open_cases = [
        *(case(c["name"], version=c["version"], data=bytes.fromhex(c["blob"])) for c in seal_cases),
        case("wrong_user_id", uid="0a9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c", error="DecryptionFailed"),
        case("wrong_version", version=3, error="DecryptionFailed"),
        case("wrong_key", seed=other_seed, error="DecryptionFailed"),
        case("tampered_ciphertext", data=flip(blob, len(blob) - 20), error="DecryptionFailed"),
        case("tampered_tag", data=flip(blob, len(blob) - 1), error="DecryptionFailed"),
        case(
            "tampered_nonce",
            data=flip(blob, 2 + len(STORE_LABEL) + 1 + 4),
            error="DecryptionFailed",
        ),
        case(
            "wrong_label",
            data=encode("hushroom/v1/vault", 1, list(decode(blob, STORE_LABEL, 1, 2).fields)),
            error="Malformed",
        ),
        case("short_nonce", data=encode(STORE_LABEL, 1, [bytes(11), bytes(32)]), error="Malformed"),
        case("trailing_bytes", data=blob + b"\x00", error="Malformed"),
        case("version_zero", version=0, error="Malformed"),
        case("empty_user_id", uid="", error="Malformed"),
        case("sealed_bad_plaintext", version=9, data=sealed_bad, error="Malformed"),
    ]
    fixed = "ab" * 32

    def doc(contact: str, identity_key: str = fixed) -> str:
        return '{"v":1,"verified":{"' + contact + '":"' + identity_key + '"}}'

    raw: dict[str, tuple[str, Any]] = {
        "spaced_json": (
            '{ "verified" : { "u1" : "' + fixed + '" } , "v" : 1 }',
            {"u1": fixed},
        ),
        "unknown_fields_ignored": ('{"v":1,"verified":{},"ignored":{"u2":1}}', {}),
        "escaped_key": (doc("\\u00e9"), {"\u00e9": fixed}),
        "not_json": ("contacts", "Malformed"),
        "array": ("[1]", "Malformed"),
        "no_version": ('{"verified":{}}', "Malformed"),
        "version_2": ('{"v":2,"verified":{}}', "Malformed"),
        "version_true": ('{"v":true,"verified":{}}', "Malformed"),
        "version_string": ('{"v":"1","verified":{}}', "Malformed"),
        "no_verified": ('{"v":1}', "Malformed"),
        "verified_array": ('{"v":1,"verified":[]}', "Malformed"),
        "uppercase_hex": (doc("u1", fixed.upper()), "Malformed"),
        "short_hex": (doc("u1", fixed[:62]), "Malformed"),
        "key_not_string": ('{"v":1,"verified":{"u1":5}}', "Malformed"),
        "empty_contact_id": (doc(""), "Malformed"),
        "long_contact_id": (doc("x" * 129), "Malformed"),
        "lone_surrogate_id": (doc("\\ud800"), "Malformed"),
        "nan_constant": ('{"v":1,"verified":{},"n":NaN}', "Malformed"),
        "trailing_garbage": ('{"v":1,"verified":{}} x', "Malformed"),
    }
    decode_cases: list[Json] = []
    for name, (text, want) in raw.items():
        item: Json = {"name": name, "plaintext": h(text.encode("utf-8"))}
        if isinstance(want, str):
            item["error"] = want
        else:
            item["expected"] = want
        decode_cases.append(item)
    decode_cases.append(
        {
            "name": "invalid_utf8",
            "plaintext": h(b'{"v":1,"verified":{"\xff":"x"}}'),
            "error": "Malformed",
        }
    )
    for item in open_cases:
        outcome: Any
        try:
            outcome = open_contacts_store(
                Secret(bytes.fromhex(item["identity_seed"])),
                item["user_id"],
                item["version"],
                bytes.fromhex(item["blob"]),
            )
        except errors.CryptoError as exc:
            outcome = type(exc).__name__
        assert outcome == item.get("error", item.get("expected")), item["name"]
    for item in decode_cases:
        try:
            outcome = decode_contacts(bytes.fromhex(item["plaintext"]))
        except errors.CryptoError as exc:
            outcome = type(exc).__name__
        assert outcome == item.get("error", item.get("expected")), item["name"]
    return {"key": key_cases, "seal": seal_cases, "open": open_cases, "decode": decode_cases}


# --- membership log --------------------------------------------------------------------------


def gen_membership() -> Json:
    random = rng("membership")
    people = {name: Person(name, random) for name in ("alice", "bob", "carol", "dave", "mallory")}
    conv = "group-7"
    t0 = 1764201600000

    def lookup(user_id: str, device_id: str) -> Any:
        p = people.get(user_id)
        return p.device_cert if p is not None and p.device_cert.device_id == device_id else None

    def changes(*pairs: tuple[str, str]) -> list[MembershipChange]:
        return [MembershipChange(u, r) for u, r in pairs]

    steps: list[tuple[str, str, list[MembershipChange]]] = [
        ("create", "alice", changes(("bob", "member"), ("alice", "admin"))),
        ("add", "alice", changes(("dave", "member"), ("carol", "member"))),
        ("role", "alice", changes(("bob", "admin"))),
        ("remove", "bob", changes(("carol", "removed"))),
        ("leave", "alice", changes(("alice", "removed"))),
        ("leave", "bob", changes(("bob", "removed"), ("dave", "admin"))),
        ("add", "dave", changes(("alice", "member"))),
    ]
    state = MembershipState.empty(conv)
    states = [state]
    log: list[Json] = []
    for i, (action, signer, chs) in enumerate(steps):
        p = people[signer]
        entry = sign_membership_entry(state, action, chs, p.device, p.device_cert, t0 + i * 1000)
        state, parsed = state.apply(entry, lookup)
        states.append(state)
        log.append(
            {
                "index": parsed.index,
                "action": action,
                "signer": signer,
                "created_at": parsed.created_at,
                "changes": [[c.user_id, c.role] for c in chs],
                "entry": h(entry),
                "hash": h(parsed.hash),
                "state": {
                    "index": state.index,
                    "head": h(state.head),
                    "members": dict(sorted(state.members.items())),
                },
            }
        )

    def raw(
        prefix: int,
        action: str,
        signer: str,
        pairs: list[tuple[str, str]],
        *,
        key_of: str | None = None,
        device_id: str | None = None,
        conversation_id: str = conv,
        index: int | None = None,
        previous: bytes | None = None,
    ) -> bytes:
        """An entry after ``prefix`` valid entries, built without any rule check."""
        before = states[prefix]
        key = people[key_of or signer].device
        tbs = encode(
            MEMBERSHIP_LABEL,
            1,
            [
                conversation_id,
                before.index + 1 if index is None else index,
                before.head if previous is None else previous,
                action,
                signer,
                device_id or f"{signer}-dev",
                t0 + 99_000,
                [encode(CHANGE_LABEL, 1, [u, r]) for u, r in pairs],
            ],
        )
        return encode_signed(tbs, key.sign(tbs))

    good_add = raw(1, "add", "alice", [("carol", "member")])
    invalid: list[tuple[str, int, bytes, str, dict[str, Any]]] = [
        ("bad_signature", 1, good_add[:-1] + bytes([good_add[-1] ^ 0x01]), "InvalidSignature", {}),
        (
            "signed_by_another_key",
            1,
            raw(1, "add", "alice", [("carol", "member")], key_of="bob"),
            "InvalidSignature",
            {},
        ),
        (
            "certificate_of_another_device",
            1,
            raw(1, "add", "alice", [("carol", "member")], device_id="alice-phone"),
            "ContextMismatch",
            {
                "extra_certificates": [
                    {"user_id": "alice", "device_id": "alice-phone", "person": "alice"}
                ]
            },
        ),
        (
            "unknown_signer",
            1,
            raw(1, "add", "zed", [("zed", "member")], key_of="mallory"),
            "NotAuthorized",
            {},
        ),
        (
            "unknown_signer_device",
            1,
            raw(1, "add", "alice", [("carol", "member")], device_id="alice-phone"),
            "NotAuthorized",
            {},
        ),
        (
            "wrong_conversation",
            1,
            raw(1, "add", "alice", [("carol", "member")], conversation_id="group-8"),
            "ContextMismatch",
            {},
        ),
        (
            "wrong_index",
            1,
            raw(1, "add", "alice", [("carol", "member")], index=2),
            "ContextMismatch",
            {},
        ),
        (
            "wrong_previous",
            2,
            raw(2, "role", "alice", [("bob", "admin")], previous=states[1].head),
            "ContextMismatch",
            {},
        ),
        ("replayed_entry", 2, bytes.fromhex(log[1]["entry"]), "ContextMismatch", {}),
        ("truncated", 1, good_add[:-1], "Malformed", {}),
        ("non_admin_adds", 1, raw(1, "add", "bob", [("mallory", "member")]), "NotAuthorized", {}),
        (
            "ghost_added_by_outsider",
            1,
            raw(1, "add", "mallory", [("mallory", "admin")]),
            "NotAuthorized",
            {},
        ),
        (
            "member_removes",
            2,
            raw(2, "remove", "dave", [("carol", "removed")]),
            "NotAuthorized",
            {},
        ),
        (
            "outsider_changes_roles",
            2,
            raw(2, "role", "mallory", [("bob", "admin")]),
            "NotAuthorized",
            {},
        ),
        ("add_existing_member", 1, raw(1, "add", "alice", [("bob", "admin")]), "Malformed", {}),
        ("add_as_removed", 1, raw(1, "add", "alice", [("carol", "removed")]), "Malformed", {}),
        (
            "remove_non_member",
            2,
            raw(2, "remove", "alice", [("mallory", "removed")]),
            "Malformed",
            {},
        ),
        ("remove_self", 2, raw(2, "remove", "alice", [("alice", "removed")]), "Malformed", {}),
        (
            "remove_with_member_role",
            2,
            raw(2, "remove", "alice", [("carol", "member")]),
            "Malformed",
            {},
        ),
        (
            "unsorted_changes",
            1,
            raw(1, "add", "alice", [("dave", "member"), ("carol", "member")]),
            "Malformed",
            {},
        ),
        (
            "duplicate_user",
            1,
            raw(1, "add", "alice", [("carol", "member"), ("carol", "admin")]),
            "Malformed",
            {},
        ),
        ("no_changes", 1, raw(1, "add", "alice", []), "Malformed", {}),
        (
            "role_leaves_no_admin",
            2,
            raw(2, "role", "alice", [("alice", "member")]),
            "Malformed",
            {},
        ),
        ("role_unchanged", 2, raw(2, "role", "alice", [("bob", "member")]), "Malformed", {}),
        ("role_of_non_member", 2, raw(2, "role", "alice", [("mallory", "admin")]), "Malformed", {}),
        ("create_at_index_1", 1, raw(1, "create", "alice", [("alice", "admin")]), "Malformed", {}),
        ("add_at_index_0", 0, raw(0, "add", "alice", [("alice", "admin")]), "Malformed", {}),
        (
            "create_with_removed_role",
            0,
            raw(0, "create", "alice", [("alice", "admin"), ("bob", "removed")]),
            "Malformed",
            {},
        ),
        (
            "create_signer_not_admin",
            0,
            raw(0, "create", "alice", [("alice", "member"), ("bob", "admin")]),
            "NotAuthorized",
            {},
        ),
        (
            "last_admin_leaves_without_successor",
            2,
            raw(2, "leave", "alice", [("alice", "removed")]),
            "Malformed",
            {},
        ),
        (
            "leave_with_two_successors",
            2,
            raw(2, "leave", "alice", [("alice", "removed"), ("bob", "admin"), ("dave", "admin")]),
            "Malformed",
            {},
        ),
        (
            "leave_successor_already_admin",
            3,
            raw(3, "leave", "alice", [("alice", "removed"), ("bob", "admin")]),
            "Malformed",
            {},
        ),
        (
            "leave_without_removing_self",
            2,
            raw(2, "leave", "alice", [("bob", "admin")]),
            "Malformed",
            {},
        ),
        (
            "member_names_successor",
            2,
            raw(2, "leave", "bob", [("bob", "removed"), ("carol", "admin")]),
            "NotAuthorized",
            {},
        ),
        (
            "outsider_leaves",
            2,
            raw(2, "leave", "mallory", [("mallory", "removed")]),
            "NotAuthorized",
            {},
        ),
        ("unknown_action", 1, raw(1, "kick", "alice", [("bob", "removed")]), "Malformed", {}),
        ("unknown_role", 1, raw(1, "add", "alice", [("carol", "owner")]), "Malformed", {}),
    ]
    invalid_vectors = []
    for name, prefix, entry, error, extra in invalid:
        before = states[prefix]
        extra_certs = {
            (c["user_id"], c["device_id"]): people[c["person"]].device_cert
            for c in extra.get("extra_certificates", [])
        }
        try:
            before.apply(
                entry,
                lambda u, d: extra_certs.get((u, d)) or lookup(u, d),  # noqa: B023
            )
        except errors.CryptoError as exc:
            if type(exc).__name__ != error:
                raise AssertionError(f"{name}: {type(exc).__name__} != {error}") from exc
        else:
            raise AssertionError(f"{name} was accepted")
        invalid_vectors.append(
            {"name": name, "prefix_length": prefix, "entry": h(entry), **extra, "error": error}
        )
    return {
        "conversation_id": conv,
        "people": [p.describe() for p in people.values()],
        "log": log,
        "invalid": invalid_vectors,
    }


# --- main ------------------------------------------------------------------------------------


def generate(out: Path, frozen_from: Path | None = None) -> list[Path]:
    """Write every vector file into ``out``; returns the paths written."""
    frozen = Frozen(frozen_from if frozen_from is not None else out)
    files: dict[str, Json] = {
        "encoding": gen_encoding(),
        "password": gen_password(),
        "recovery": gen_recovery(),
        "vault": gen_vault(),
        "puk": gen_puk(),
        "device": gen_device(),
        "key_set": gen_key_set(frozen),
        "envelope": gen_envelope(),
        "ed25519": gen_ed25519(),
        "safety_number": gen_safety_number(),
        "membership": gen_membership(),
        "event": gen_event(),
        "contacts_store": gen_contacts_store(),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in files.items():
        document = {
            "operation": name,
            "spec_version": SPEC_VERSION,
            "spec": "docs/crypto.md",
            "generator": "spec/generate_vectors.py",
            **body,
        }
        path = out / f"{name}.json"
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=VECTORS)
    parser.add_argument("--frozen-from", type=Path, default=None)
    args = parser.parse_args()
    for path in generate(args.out, args.frozen_from):
        print(path)


if __name__ == "__main__":
    main()
