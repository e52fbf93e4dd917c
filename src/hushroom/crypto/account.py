"""An account's key material, composed from the core (docs/crypto.md §6–§7, decision 0003).

Pure: ids, keys and the clock value come in; the records to upload and the secrets to keep come
out. Used for registration, for the one-time set-up of accounts created before real keys, and for
the re-key of a device revocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hushroom.crypto.device import certify_device
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.primitives import RandomSource, Secret, system_random
from hushroom.crypto.puk import PukKeyPair, certify_puk
from hushroom.crypto.recovery import RecoveryCode, generate_recovery_code
from hushroom.crypto.vault import SealedVault, VaultContents, VaultKey, create_vault


@dataclass(frozen=True, slots=True)
class AccountKeys:
    """What a new account uploads (public parts) and keeps (secrets, never uploaded)."""

    user_id: str
    identity: IdentityKey = field(repr=False)
    contents: VaultContents = field(repr=False)
    vault_key: VaultKey = field(repr=False)
    recovery_code: RecoveryCode = field(repr=False)
    vault: SealedVault = field(repr=False)
    puk_certificate: bytes = field(repr=False)
    device_certificate: bytes | None = field(repr=False)

    @property
    def identity_public(self) -> bytes:
        return self.identity.public_key

    @property
    def recovery_auth(self) -> bytes:
        return self.recovery_code.recovery_auth()


def create_account_keys(
    user_id: str,
    password_key: Secret,
    created_at: int,
    *,
    device: tuple[str, bytes] | None = None,
    random: RandomSource = system_random,
) -> AccountKeys:
    """A new identity, PUK generation 1, a sealed vault wrapped under ``password_key`` and a new
    recovery code, and (when ``device`` = (device id, Ed25519 public key) is given) that device's
    certificate."""
    identity = IdentityKey.generate(random)
    puk = PukKeyPair.generate(1, random)
    contents = VaultContents.create(identity.seed.reveal(), [(1, puk.seed.reveal())])
    return _sealed(user_id, identity, contents, puk, password_key, created_at, device, random)


def rekey_account(
    user_id: str,
    contents: VaultContents,
    password_key: Secret,
    created_at: int,
    random: RandomSource = system_random,
) -> AccountKeys:
    """Device revocation: the next PUK generation appended, a new vault key and a new recovery
    code (docs/crypto.md §6.4 "re-key"). The identity stays."""
    identity = IdentityKey.from_seed(contents.identity_seed)
    puk = PukKeyPair.generate(contents.latest_puk_generation + 1, random)
    grown = contents.with_puk(puk.generation, puk.seed.reveal())
    return _sealed(user_id, identity, grown, puk, password_key, created_at, None, random)


def _sealed(
    user_id: str,
    identity: IdentityKey,
    contents: VaultContents,
    puk: PukKeyPair,
    password_key: Secret,
    created_at: int,
    device: tuple[str, bytes] | None,
    random: RandomSource,
) -> AccountKeys:
    code = generate_recovery_code(random)
    vault_key, vault = create_vault(contents, user_id, password_key, code.recovery_key(), random)
    device_cert = (
        certify_device(identity, user_id, device[0], device[1], created_at).encoded
        if device is not None
        else None
    )
    return AccountKeys(
        user_id=user_id,
        identity=identity,
        contents=contents,
        vault_key=vault_key,
        recovery_code=code,
        vault=vault,
        puk_certificate=certify_puk(identity, user_id, puk, created_at).encoded,
        device_certificate=device_cert,
    )
