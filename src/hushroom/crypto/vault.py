"""The key vault: identity seed + every PUK seed, under a vault key wrapped by the password key
and by the recovery key (docs/crypto.md §6)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from hushroom.crypto.encoding import check_ident, decode, encode
from hushroom.crypto.errors import Malformed
from hushroom.crypto.primitives import (
    GCM_NONCE_SIZE,
    KEY_SIZE,
    RandomSource,
    Secret,
    aes_gcm_open,
    aes_gcm_seal,
    system_random,
)

WrapKind = Literal["password", "recovery"]
WRAP_KINDS: Final = ("password", "recovery")
CONTENTS_LABEL: Final = "hushroom/v1/vault-contents"
PUK_ENTRY_LABEL: Final = "hushroom/v1/vault-puk"
VAULT_LABEL: Final = "hushroom/v1/vault"
VAULT_AAD_LABEL: Final = "hushroom/v1/vault-aad"
WRAP_LABEL: Final = "hushroom/v1/vault-wrap"
WRAP_AAD_LABEL: Final = "hushroom/v1/vault-wrap-aad"


class VaultKey(Secret):
    """The 32-byte vault key."""

    __slots__ = ()

    @classmethod
    def generate(cls, random: RandomSource = system_random) -> VaultKey:
        return cls(random(KEY_SIZE))


@dataclass(frozen=True, slots=True)
class VaultContents:
    """Plaintext of the vault: the IK seed and every PUK generation's seed."""

    identity_seed: Secret
    puk_seeds: tuple[tuple[int, Secret], ...]

    @classmethod
    def create(cls, identity_seed: bytes, puk_seeds: Iterable[tuple[int, bytes]]) -> VaultContents:
        entries = tuple(sorted((g, Secret(s)) for g, s in puk_seeds))
        contents = cls(Secret(identity_seed), entries)
        contents._check()
        return contents

    def _check(self) -> None:
        if len(self.identity_seed) != KEY_SIZE:
            raise Malformed("identity seed must be 32 bytes")
        generations = [g for g, _ in self.puk_seeds]
        if not generations or generations != sorted(set(generations)) or generations[0] < 1:
            raise Malformed("PUK generations must be unique, ascending and >= 1")
        if any(len(seed) != KEY_SIZE for _, seed in self.puk_seeds):
            raise Malformed("PUK seeds must be 32 bytes")

    def with_puk(self, generation: int, seed: bytes) -> VaultContents:
        """A copy with one more PUK generation (after a rotation)."""
        return VaultContents.create(
            self.identity_seed.reveal(),
            [*((g, s.reveal()) for g, s in self.puk_seeds), (generation, seed)],
        )

    def puk_seed(self, generation: int) -> Secret | None:
        return dict(self.puk_seeds).get(generation)

    @property
    def latest_puk_generation(self) -> int:
        return self.puk_seeds[-1][0]

    def encode(self) -> bytes:
        self._check()
        entries = [encode(PUK_ENTRY_LABEL, 1, [g, s.reveal()]) for g, s in self.puk_seeds]
        return encode(CONTENTS_LABEL, 1, [self.identity_seed.reveal(), entries])

    @classmethod
    def decode(cls, data: bytes) -> VaultContents:
        record = decode(data, CONTENTS_LABEL, 1, 2)
        entries = []
        for item in record.items(1):
            entry = decode(item, PUK_ENTRY_LABEL, 1, 2)
            entries.append((entry.integer(0), Secret(entry.fixed(1, KEY_SIZE))))
        contents = cls(Secret(record.fixed(0, KEY_SIZE)), tuple(entries))
        contents._check()
        return contents

    def __repr__(self) -> str:
        generations = [g for g, _ in self.puk_seeds]
        return f"VaultContents(identity_seed=<redacted>, puk_generations={generations})"


def seal_vault(
    vault_key: VaultKey,
    contents: VaultContents,
    user_id: str,
    random: RandomSource = system_random,
) -> bytes:
    nonce = random(GCM_NONCE_SIZE)
    aad = encode(VAULT_AAD_LABEL, 1, [check_ident(user_id)])
    ciphertext = aes_gcm_seal(vault_key.reveal(), nonce, contents.encode(), aad)
    return encode(VAULT_LABEL, 1, [nonce, ciphertext])


def open_vault(vault_key: VaultKey, sealed: bytes, user_id: str) -> VaultContents:
    """Raises :class:`DecryptionFailed` for a wrong key or a vault of another user."""
    record = decode(sealed, VAULT_LABEL, 1, 2)
    aad = encode(VAULT_AAD_LABEL, 1, [check_ident(user_id)])
    plaintext = aes_gcm_open(
        vault_key.reveal(), record.fixed(0, GCM_NONCE_SIZE), record.raw(1), aad
    )
    return VaultContents.decode(plaintext)


def _wrap_aad(user_id: str, kind: str) -> bytes:
    if kind not in WRAP_KINDS:
        raise Malformed("unknown vault wrapping kind")
    return encode(WRAP_AAD_LABEL, 1, [check_ident(user_id), kind])


def wrap_vault_key(
    wrapping_key: Secret,
    vault_key: VaultKey,
    user_id: str,
    kind: WrapKind,
    random: RandomSource = system_random,
) -> bytes:
    """Wrap VK under the password key (``kind="password"``) or recovery key (``"recovery"``)."""
    aad = _wrap_aad(user_id, kind)
    nonce = random(GCM_NONCE_SIZE)
    ciphertext = aes_gcm_seal(wrapping_key.reveal(), nonce, vault_key.reveal(), aad)
    return encode(WRAP_LABEL, 1, [kind, nonce, ciphertext])


def unwrap_vault_key(
    wrapping_key: Secret, wrapped: bytes, user_id: str, kind: WrapKind
) -> VaultKey:
    """Wrong password / recovery code → :class:`DecryptionFailed`."""
    aad = _wrap_aad(user_id, kind)
    record = decode(wrapped, WRAP_LABEL, 1, 3)
    if record.text(0) != kind:
        raise Malformed("vault wrapping of another kind")
    plaintext = aes_gcm_open(
        wrapping_key.reveal(), record.fixed(1, GCM_NONCE_SIZE), record.raw(2), aad
    )
    if len(plaintext) != KEY_SIZE:
        raise Malformed("wrapped vault key must be 32 bytes")
    return VaultKey(plaintext)


@dataclass(frozen=True, slots=True)
class SealedVault:
    """What the server stores: the sealed contents and the two wrappings of VK."""

    sealed: bytes
    password_wrapping: bytes
    recovery_wrapping: bytes


def create_vault(
    contents: VaultContents,
    user_id: str,
    password_key: Secret,
    recovery_key: Secret,
    random: RandomSource = system_random,
) -> tuple[VaultKey, SealedVault]:
    """New vault key; seal ``contents``; wrap VK under the password and the recovery key.

    Also used to re-key the vault on device revocation (new VK, new recovery code).
    """
    vault_key = VaultKey.generate(random)
    sealed = seal_vault(vault_key, contents, user_id, random)
    return vault_key, SealedVault(
        sealed=sealed,
        password_wrapping=wrap_vault_key(password_key, vault_key, user_id, "password", random),
        recovery_wrapping=wrap_vault_key(recovery_key, vault_key, user_id, "recovery", random),
    )


def unlock_vault(
    vault: SealedVault, user_id: str, wrapping_key: Secret, kind: WrapKind = "password"
) -> tuple[VaultKey, VaultContents]:
    wrapped = vault.password_wrapping if kind == "password" else vault.recovery_wrapping
    vault_key = unwrap_vault_key(wrapping_key, wrapped, user_id, kind)
    return vault_key, open_vault(vault_key, vault.sealed, user_id)


def rewrap_for_new_password(
    password_wrapping: bytes,
    user_id: str,
    old_password_key: Secret,
    new_password_key: Secret,
    random: RandomSource = system_random,
) -> bytes:
    """Password change: the same VK under the new password key; contents untouched."""
    vault_key = unwrap_vault_key(old_password_key, password_wrapping, user_id, "password")
    return wrap_vault_key(new_password_key, vault_key, user_id, "password", random)


def add_recovery_wrapping(
    vault_key: VaultKey,
    user_id: str,
    recovery_key: Secret,
    random: RandomSource = system_random,
) -> bytes:
    """A (new) recovery wrapping of an unlocked vault key."""
    return wrap_vault_key(recovery_key, vault_key, user_id, "recovery", random)
