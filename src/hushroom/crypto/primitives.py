"""Thin wrappers over ``cryptography`` (docs/crypto.md §4).

Hazmat layer of the crypto core: HKDF, HMAC, AES-256-GCM, strict Ed25519, X-Wing HPKE. Randomness
is injected as a :data:`RandomSource` so that vectors are deterministic; nothing here reads a clock
or does I/O beyond the system CSPRNG used by default.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import os
from collections.abc import Callable
from typing import Final

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hushroom.crypto.errors import (
    DecryptionFailed,
    InvalidPublicKey,
    InvalidSignature,
    Malformed,
)

RandomSource = Callable[[int], bytes]
"""``random(n) -> n bytes``. Production code uses :func:`system_random`."""

KEY_SIZE: Final = 32
GCM_NONCE_SIZE: Final = 12
GCM_TAG_SIZE: Final = 16
ED25519_SIGNATURE_SIZE: Final = 64
XWING_PUBLIC_KEY_SIZE: Final = 1216
XWING_ENC_SIZE: Final = 1120
_MLKEM_PUBLIC_SIZE: Final = 1184

_P: Final = 2**255 - 19
_L: Final = 2**252 + 27742317777372353535851937790883648493
_D: Final = (-121665 * pow(121666, _P - 2, _P)) % _P
ED25519_SMALL_ORDER_ENCODINGS: Final = frozenset(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    )
)
_X25519_CHECK_SCALAR: Final = x25519.X25519PrivateKey.from_private_bytes(b"\x01" * 32)
_HPKE_SUITE: Final = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM
)


def system_random(n: int) -> bytes:
    """The operating system CSPRNG."""
    return os.urandom(n)


class SeededRandom:
    """Deterministic byte stream for tests and vector generation ONLY.

    Output ``i`` is ``SHAKE256(seed ‖ u64be(i), n)``.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self._seed + self._counter.to_bytes(8, "big")).digest(n)
        self._counter += 1
        return out

    def __repr__(self) -> str:
        return "SeededRandom(<redacted>)"


class Secret:
    """Secret bytes whose ``repr``/``str`` never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = bytes(value)

    def reveal(self) -> bytes:
        """The secret bytes. Call only where they are used."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return _hmac.compare_digest(self._value, other._value)

    __hash__ = None  # type: ignore[assignment]  # secrets are not dict keys

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted {len(self._value)} bytes>)"

    __str__ = __repr__


def require_size(data: bytes, size: int, what: str) -> bytes:
    if len(data) != size:
        raise Malformed(f"{what} must be {size} bytes")
    return bytes(data)


# --- symmetric -------------------------------------------------------------------------------


def hkdf_sha256(ikm: bytes, *, salt: bytes = b"", info: bytes, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256 (RFC 5869); empty salt is treated as HashLen zero bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return _hmac.new(key, message, hashlib.sha256).digest()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return _hmac.compare_digest(a, b)


def aes_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM; returns ``ciphertext ‖ tag``."""
    require_size(key, KEY_SIZE, "AES key")
    require_size(nonce, GCM_NONCE_SIZE, "GCM nonce")
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    require_size(key, KEY_SIZE, "AES key")
    require_size(nonce, GCM_NONCE_SIZE, "GCM nonce")
    if len(ciphertext) < GCM_TAG_SIZE:
        raise Malformed("ciphertext shorter than the tag")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionFailed("AES-GCM authentication failed") from None


# --- Ed25519 ---------------------------------------------------------------------------------


def _canonical_point_encoding(encoding: bytes) -> bool:
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    sign = encoding[31] >> 7
    return y < _P and not (sign == 1 and y in (1, _P - 1))


def _on_curve(encoding: bytes) -> bool:
    """Some x exists for y: ``(y² − 1)/(d·y² + 1)`` is a square mod p (Euler's criterion)."""
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    u = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    return pow(u, (_P - 1) // 2, _P) in (0, 1)


def ed25519_public_key_ok(public_key: bytes) -> bool:
    """Rules 3–5 of docs/crypto.md §4.1: canonical, not small order, on the curve."""
    if len(public_key) != KEY_SIZE:
        return False
    if not _canonical_point_encoding(public_key) or public_key in ED25519_SMALL_ORDER_ENCODINGS:
        return False
    return _on_curve(public_key)


def check_ed25519_public_key(public_key: bytes) -> bytes:
    if not ed25519_public_key_ok(bytes(public_key)):
        raise InvalidPublicKey("Ed25519 public key is malformed, non-canonical or small order")
    return bytes(public_key)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Strict verification (docs/crypto.md §4.1); raises :class:`InvalidSignature`."""
    if len(public_key) != KEY_SIZE or len(signature) != ED25519_SIGNATURE_SIZE:
        raise InvalidSignature("bad key or signature length")
    if int.from_bytes(signature[32:], "little") >= _L:
        raise InvalidSignature("non-canonical S")
    for encoding in (bytes(public_key), bytes(signature[:32])):
        if not _canonical_point_encoding(encoding) or encoding in ED25519_SMALL_ORDER_ENCODINGS:
            raise InvalidSignature("non-canonical or small-order point")
    if not _on_curve(bytes(public_key)):
        raise InvalidSignature("public key is not on the curve")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (ValueError, _CryptographyInvalidSignature):
        raise InvalidSignature("signature does not verify") from None


class SigningKey:
    """Ed25519 signing key from a 32-byte seed; ``repr`` shows only the public key."""

    __slots__ = ("_key", "_seed", "public_key")

    def __init__(self, seed: bytes) -> None:
        self._seed = Secret(require_size(seed, KEY_SIZE, "Ed25519 seed"))
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(self._seed.reveal())
        self.public_key: bytes = self._key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls, random: RandomSource = system_random) -> SigningKey:
        return cls(random(KEY_SIZE))

    @property
    def seed(self) -> Secret:
        return self._seed

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self.public_key.hex()}, seed=<redacted>)"

    __str__ = __repr__


# --- X-Wing / HPKE ---------------------------------------------------------------------------


def x25519_public_key_ok(public_key: bytes) -> bool:
    """Canonical (u < p) and not of small order."""
    if len(public_key) != KEY_SIZE or int.from_bytes(public_key, "little") >= _P:
        return False
    try:
        _X25519_CHECK_SCALAR.exchange(x25519.X25519PublicKey.from_public_bytes(public_key))
    except ValueError:
        return False
    return True


def _load_xwing_public(public_key: bytes) -> hpke.MLKEM768X25519PublicKey:
    if len(public_key) != XWING_PUBLIC_KEY_SIZE:
        raise InvalidPublicKey("X-Wing public key must be 1216 bytes")
    pk_x = bytes(public_key[_MLKEM_PUBLIC_SIZE:])
    if not x25519_public_key_ok(pk_x):
        raise InvalidPublicKey("X25519 part is non-canonical or small order")
    try:
        pk_m = mlkem.MLKEM768PublicKey.from_public_bytes(bytes(public_key[:_MLKEM_PUBLIC_SIZE]))
    except ValueError:
        raise InvalidPublicKey("ML-KEM-768 part is invalid") from None
    return hpke.MLKEM768X25519PublicKey(pk_m, x25519.X25519PublicKey.from_public_bytes(pk_x))


def check_xwing_public_key(public_key: bytes) -> bytes:
    _load_xwing_public(bytes(public_key))
    return bytes(public_key)


class XWingKeyPair:
    """X-Wing key pair from a 32-byte seed; ``repr`` hides the seed."""

    __slots__ = ("_private", "_seed", "public_key")

    def __init__(self, seed: bytes) -> None:
        self._seed = Secret(require_size(seed, KEY_SIZE, "X-Wing seed"))
        expanded = hashlib.shake_256(self._seed.reveal()).digest(96)
        sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._private = hpke.MLKEM768X25519PrivateKey(sk_m, sk_x)
        self.public_key: bytes = (
            sk_m.public_key().public_bytes_raw() + sk_x.public_key().public_bytes_raw()
        )

    @property
    def seed(self) -> Secret:
        return self._seed

    def open(self, sealed: bytes, info: bytes) -> bytes:
        """HPKE base-mode open, empty AAD; raises :class:`DecryptionFailed`."""
        if len(sealed) < XWING_ENC_SIZE + GCM_TAG_SIZE:
            raise Malformed("sealed box too short")
        try:
            return _HPKE_SUITE.decrypt(bytes(sealed), self._private, info=info)
        except (InvalidTag, ValueError):
            raise DecryptionFailed("HPKE open failed") from None

    def __repr__(self) -> str:
        return f"XWingKeyPair(public_key={self.public_key[:8].hex()}…, seed=<redacted>)"

    __str__ = __repr__


def hpke_seal(public_key: bytes, info: bytes, plaintext: bytes) -> bytes:
    """HPKE base mode X-Wing/HKDF-SHA256/AES-256-GCM, empty AAD: ``enc ‖ ct``.

    Randomized inside the library (the KEM's ephemeral values are not injectable).
    """
    return _HPKE_SUITE.encrypt(plaintext, _load_xwing_public(bytes(public_key)), info=info)
