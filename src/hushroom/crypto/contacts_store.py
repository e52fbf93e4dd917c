"""The contacts store: which contacts a user verified (compared safety numbers), sealed under a
key derived from the identity seed and kept on the server, so verification follows the user to
every browser (docs/crypto.md §6.6).

The plaintext is JSON (``{"v":1,"verified":{user_id: hex identity key}}``, keys sorted, no
spaces); the sealed blob binds the user id, the store name and the server's version of it in
the AAD, so the server can neither hand one user's blob to another nor relabel its version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, NoReturn

from hushroom.crypto.encoding import check_ident, decode, encode
from hushroom.crypto.errors import Malformed
from hushroom.crypto.primitives import (
    GCM_NONCE_SIZE,
    RandomSource,
    Secret,
    aes_gcm_open,
    aes_gcm_seal,
    hkdf_sha256,
    require_size,
    system_random,
)

KEY_INFO: Final = b"hushroom/v1/contacts-store"
STORE_LABEL: Final = "hushroom/v1/user-store"
STORE_AAD_LABEL: Final = "hushroom/v1/user-store-aad"
CONTACTS: Final = "contacts"
FORMAT_VERSION: Final = 1
# The largest sealed blob (the server refuses bigger ones): about 2,400 verified contacts.
MAX_STORE_BYTES: Final = 256 * 1024
_IDENTITY_KEY_HEX: Final = re.compile(r"[0-9a-f]{64}")


def contacts_store_key(identity_seed: Secret) -> Secret:
    """``HKDF(identity_seed, salt="", info="hushroom/v1/contacts-store", 32)``."""
    seed = require_size(identity_seed.reveal(), 32, "identity seed")
    return Secret(hkdf_sha256(seed, info=KEY_INFO))


def store_aad(user_id: str, version: int, store: str = CONTACTS) -> bytes:
    """``encode("hushroom/v1/user-store-aad", 1, [str user_id, str store, int version])``."""
    if store != CONTACTS:
        raise Malformed("unknown store")
    if not 1 <= version < 2**64:
        raise Malformed("a stored version is at least 1")
    return encode(STORE_AAD_LABEL, 1, [check_ident(user_id), store, version])


def _well_formed(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _check_entry(user_id: Any, identity_key: Any) -> None:
    if not isinstance(user_id, str) or not _well_formed(user_id):
        raise Malformed("a contact id is not a well-formed string")
    check_ident(user_id)
    if not isinstance(identity_key, str) or _IDENTITY_KEY_HEX.fullmatch(identity_key) is None:
        raise Malformed("an identity key is not 64 lowercase hex characters")


def encode_contacts(verified: Mapping[str, str]) -> bytes:
    """``{"v":1,"verified":{…}}`` with the contacts sorted by the UTF-8 bytes of their id, no
    spaces, non-ASCII as raw UTF-8 (the same bytes as the TypeScript encoder)."""
    for user_id, identity_key in verified.items():
        _check_entry(user_id, identity_key)
    ordered = dict(sorted(verified.items(), key=lambda item: item[0].encode("utf-8")))
    document = {"v": FORMAT_VERSION, "verified": ordered}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _refuse_constant(name: str) -> NoReturn:
    raise Malformed(f"not JSON: {name}")


def decode_contacts(plaintext: bytes) -> dict[str, str]:
    """Strict: UTF-8, standard JSON, an object with ``v`` = 1 and ``verified`` an object of
    contact id (identifier, §3) → 64 lowercase hex characters. Unknown fields are ignored."""
    if len(plaintext) > MAX_STORE_BYTES:
        raise Malformed("the contacts store is too large")
    try:
        document: Any = json.loads(plaintext.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Malformed("the contacts store is not UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise Malformed("the contacts store is not a JSON object")
    version = document.get("v")
    if isinstance(version, bool) or not isinstance(version, int | float) or version != 1:
        raise Malformed("unsupported contacts store format")
    verified = document.get("verified")
    if not isinstance(verified, dict):
        raise Malformed("the contacts store has no verified map")
    for user_id, identity_key in verified.items():
        _check_entry(user_id, identity_key)
    return dict(verified)


def seal_contacts_store(
    identity_seed: Secret,
    user_id: str,
    version: int,
    verified: Mapping[str, str],
    random: RandomSource = system_random,
) -> bytes:
    """The blob to store as ``version`` (the server's current version + 1)."""
    aad = store_aad(user_id, version)
    plaintext = encode_contacts(verified)
    nonce = random(GCM_NONCE_SIZE)
    key = contacts_store_key(identity_seed)
    blob = encode(STORE_LABEL, 1, [nonce, aes_gcm_seal(key.reveal(), nonce, plaintext, aad)])
    if len(blob) > MAX_STORE_BYTES:
        raise Malformed("the contacts store is too large")
    return blob


def open_contacts_store(
    identity_seed: Secret, user_id: str, version: int, blob: bytes
) -> dict[str, str]:
    """The verified map of a blob the server served as ``version``. A wrong key (another
    identity, e.g. after an account reset), another user's blob, another version or a tampered
    blob is :class:`DecryptionFailed`."""
    aad = store_aad(user_id, version)
    if len(blob) > MAX_STORE_BYTES:
        raise Malformed("the contacts store is too large")
    record = decode(blob, STORE_LABEL, 1, 2)
    key = contacts_store_key(identity_seed)
    plaintext = aes_gcm_open(key.reveal(), record.fixed(0, GCM_NONCE_SIZE), record.raw(1), aad)
    return decode_contacts(plaintext)
