"""Adversarial scenarios, each named for what it proves (docs/crypto.md §1 threat model)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hushroom.crypto.conversation_key import (
    ConversationKey,
    KeySetMember,
    create_key_set,
    encode_box,
    key_commitment,
    open_key_set,
    seal_info,
    verify_key_set,
)
from hushroom.crypto.device import DeviceKey, certify_device, verify_device_certificate
from hushroom.crypto.encoding import decode, decode_signed, encode, encode_signed
from hushroom.crypto.envelope import (
    CounterTracker,
    CounterVerdict,
    Envelope,
    Header,
    open_envelope,
    peek_header,
    seal_envelope,
    signature_input,
)
from hushroom.crypto.errors import (
    DecryptionFailed,
    InvalidPublicKey,
    InvalidRecoveryCode,
    InvalidSignature,
    KeyCommitmentMismatch,
    Malformed,
    NotAMember,
    ReplayDetected,
    WeakParameters,
    WrongGeneration,
)
from hushroom.crypto.identity import IdentityKey
from hushroom.crypto.password import KdfParams, derive_password_keys
from hushroom.crypto.primitives import Secret, SeededRandom, hpke_seal
from hushroom.crypto.puk import PukKeyPair, certify_puk, verify_puk_certificate
from hushroom.crypto.recovery import ALPHABET, generate_recovery_code, parse_recovery_code
from hushroom.crypto.vault import (
    VaultContents,
    add_recovery_wrapping,
    create_vault,
    open_vault,
    rewrap_for_new_password,
    unlock_vault,
)
from tests.crypto.support import User

CRYPTO_SRC = Path(__file__).resolve().parents[2] / "src" / "hushroom" / "crypto"


@pytest.fixture
def random() -> SeededRandom:
    return SeededRandom(b"scenarios")


@pytest.fixture
def trio(random: SeededRandom) -> dict[str, User]:
    return {u: User(u, random) for u in ("alice", "bob", "carol")}


def _key_set(users: dict[str, User], creator: str, generation: int, random: SeededRandom):  # type: ignore[no-untyped-def]
    c = users[creator]
    return create_key_set(
        "conv", generation, c.device, c.device_cert, [u.puk_cert for u in users.values()], 1, random
    )


def _send(
    user: User, key: ConversationKey, counter: int, text: bytes, random: SeededRandom
) -> bytes:
    return seal_envelope(
        key,
        user.device,
        sender_user_id=user.user_id,
        sender_device_id=user.device_id,
        client_message_id=f"m{counter}",
        timestamp=1000 + counter,
        counter=counter,
        plaintext=text,
        random=random,
    )


# --- key sets --------------------------------------------------------------------------------


def test_key_set_made_by_server_is_rejected(trio: dict[str, User], random: SeededRandom) -> None:
    alice, bob = trio["alice"], trio["bob"]
    server_key = DeviceKey.generate(random)
    ck = random(32)
    members = [KeySetMember(u, 1).encode() for u in sorted(trio)]
    tbs = encode(
        "hushroom/v1/key-set",
        1,
        ["conv", 1, "alice", alice.device_id, 1, members, key_commitment(ck)],
    )
    forged = encode_signed(tbs, server_key.sign(tbs))
    with pytest.raises(InvalidSignature):
        verify_key_set(forged, alice.device_cert, "conv", 1, set(trio))
    # Nor can the server vouch for its own "device" of alice: the certificate must verify under
    # alice's pinned identity key, and a certificate signed by any other key does not.
    server_identity = IdentityKey.generate(random)
    fake_cert = certify_device(server_identity, "alice", alice.device_id, server_key.public_key, 1)
    with pytest.raises(InvalidSignature):
        verify_device_certificate(fake_cert.encoded, alice.identity.public(), "alice")
    # And bob, holding a box the server sealed to his real PUK, still gets nothing: the statement
    # it would belong to never verifies.
    info = seal_info(
        "conv", 1, KeySetMember("bob", 1), key_commitment(ck), "alice", alice.device_id
    )
    assert len(hpke_seal(bob.puk_cert.public_key, info, ck)) == 1168


def test_removed_member_cannot_open_next_generation(
    trio: dict[str, User], random: SeededRandom
) -> None:
    _, gen1 = _key_set(trio, "alice", 1, random)
    carol = trio["carol"]
    st1 = verify_key_set(gen1.statement, trio["alice"].device_cert, "conv", 1, set(trio))
    old = open_key_set(st1, gen1.boxes["carol"], "carol", carol.puks)
    remaining = {u: trio[u] for u in ("alice", "bob")}
    _, gen2 = _key_set(remaining, "bob", 2, random)
    st2 = verify_key_set(gen2.statement, trio["bob"].device_cert, "conv", 2, set(remaining))
    assert "carol" not in gen2.boxes
    with pytest.raises(NotAMember):
        open_key_set(st2, gen1.boxes["carol"], "carol", carol.puks)
    # Carol trying bob's box with her PUK also fails (sealed to bob's PUK, bound to bob).
    with pytest.raises(NotAMember):
        open_key_set(st2, gen2.boxes["bob"], "carol", carol.puks)
    assert old.generation == 1  # her history stays readable to her


def test_swapped_puk_fails_identity_signature(trio: dict[str, User], random: SeededRandom) -> None:
    bob = trio["bob"]
    server_puk = PukKeyPair.generate(1, random)
    tbs, signature = decode_signed(bob.puk_cert.encoded)
    record = decode(tbs, "hushroom/v1/puk-cert", 1, 4)
    swapped_tbs = encode(
        "hushroom/v1/puk-cert",
        1,
        [record.raw(0), record.raw(1), server_puk.public_key, record.raw(3)],
    )
    with pytest.raises(InvalidSignature):
        verify_puk_certificate(encode_signed(swapped_tbs, signature), bob.identity.public(), "bob")
    # A PUK certificate made by the server's own identity key fails against the pinned IK.
    server_identity = IdentityKey.generate(random)
    forged = certify_puk(server_identity, "bob", server_puk, 1)
    with pytest.raises(InvalidSignature):
        verify_puk_certificate(forged.encoded, bob.identity.public(), "bob")


def test_ghost_member_in_key_set_is_rejected(trio: dict[str, User], random: SeededRandom) -> None:
    _, upload = _key_set(trio, "alice", 1, random)
    with pytest.raises(NotAMember):
        verify_key_set(upload.statement, trio["alice"].device_cert, "conv", 1, {"alice", "bob"})


def test_box_swapped_between_members_is_rejected(
    trio: dict[str, User], random: SeededRandom
) -> None:
    _, upload = _key_set(trio, "alice", 1, random)
    st1 = verify_key_set(upload.statement, trio["alice"].device_cert, "conv", 1, set(trio))
    with pytest.raises(Malformed):
        open_key_set(st1, upload.boxes["carol"], "bob", trio["bob"].puks)


def test_box_from_another_generation_fails_hpke_context(
    trio: dict[str, User], random: SeededRandom
) -> None:
    _, gen1 = _key_set(trio, "alice", 1, random)
    _, gen2 = _key_set(trio, "alice", 2, random)
    st2 = verify_key_set(gen2.statement, trio["alice"].device_cert, "conv", 2, set(trio))
    with pytest.raises(DecryptionFailed):
        open_key_set(st2, gen1.boxes["bob"], "bob", trio["bob"].puks)


def test_member_sealing_a_key_other_than_committed_is_caught(
    trio: dict[str, User], random: SeededRandom
) -> None:
    alice, bob = trio["alice"], trio["bob"]
    committed, sealed = random(32), random(32)
    members = [KeySetMember(u, 1) for u in sorted(trio)]
    tbs = encode(
        "hushroom/v1/key-set",
        1,
        [
            "conv",
            1,
            "alice",
            alice.device_id,
            1,
            [m.encode() for m in members],
            key_commitment(committed),
        ],
    )
    statement = verify_key_set(
        encode_signed(tbs, alice.device.sign(tbs)), alice.device_cert, "conv", 1, set(trio)
    )
    info = seal_info("conv", 1, members[1], statement.commitment, "alice", alice.device_id)
    box = encode_box("bob", hpke_seal(bob.puk_cert.public_key, info, sealed))
    with pytest.raises(KeyCommitmentMismatch):
        open_key_set(statement, box, "bob", bob.puks)


def test_revoked_device_vault_copy_opens_nothing_new(
    trio: dict[str, User], random: SeededRandom
) -> None:
    bob = trio["bob"]
    stolen_puks = dict(bob.puks)  # what the revoked device kept
    bob.rotate_puk(random)
    _, upload = _key_set(trio, "alice", 2, random)
    statement = verify_key_set(upload.statement, trio["alice"].device_cert, "conv", 2, set(trio))
    with pytest.raises(WrongGeneration):
        open_key_set(statement, upload.boxes["bob"], "bob", stolen_puks)
    assert open_key_set(statement, upload.boxes["bob"], "bob", bob.puks).generation == 2


def test_small_order_x25519_puk_is_refused(random: SeededRandom) -> None:
    puk = PukKeyPair.generate(1, random)
    with pytest.raises(InvalidPublicKey):
        hpke_seal(puk.public_key[:1184] + bytes(32), b"info", b"k" * 32)


# --- envelopes -------------------------------------------------------------------------------


def _conversation(trio: dict[str, User], random: SeededRandom):  # type: ignore[no-untyped-def]
    key, upload = _key_set(trio, "alice", 1, random)
    statement = verify_key_set(upload.statement, trio["alice"].device_cert, "conv", 1, set(trio))
    bob_key = open_key_set(statement, upload.boxes["bob"], "bob", trio["bob"].puks)
    return key, statement, bob_key


def test_header_tamper_fails_aad(trio: dict[str, User], random: SeededRandom) -> None:
    key, statement, bob_key = _conversation(trio, random)
    alice = trio["alice"]
    parsed = Envelope.decode(_send(alice, key, 1, b"pay 10", random))
    header = Header.decode(parsed.header)
    changed = dataclasses.replace(header, client_message_id="other").encode()
    # Without re-signing: the device signature fails.
    with pytest.raises(InvalidSignature):
        open_envelope(
            Envelope(changed, parsed.ciphertext, parsed.signature).encode(),
            conversation_id="conv",
            keys={1: bob_key},
            key_sets={1: statement},
            sender_certificate=alice.device_cert,
        )
    # Even re-signed by the sender's own device, the header is AAD: GCM fails.
    resigned = Envelope(
        changed, parsed.ciphertext, alice.device.sign(signature_input(changed, parsed.ciphertext))
    )
    with pytest.raises(DecryptionFailed):
        open_envelope(
            resigned.encode(),
            conversation_id="conv",
            keys={1: bob_key},
            key_sets={1: statement},
            sender_certificate=alice.device_cert,
        )


def test_replayed_envelope_detected(trio: dict[str, User], random: SeededRandom) -> None:
    key, statement, bob_key = _conversation(trio, random)
    alice, tracker = trio["alice"], CounterTracker()
    envelope = _send(alice, key, 1, b"hi", random)
    for attempt in range(2):
        opened = open_envelope(
            envelope,
            conversation_id="conv",
            keys={1: bob_key},
            key_sets={1: statement},
            sender_certificate=alice.device_cert,
        )
        if attempt == 0:
            assert tracker.observe_header(opened.header).verdict is CounterVerdict.IN_ORDER
        else:
            with pytest.raises(ReplayDetected):
                tracker.observe_header(opened.header)


def test_dropped_and_reordered_envelopes_are_reported(random: SeededRandom) -> None:
    tracker = CounterTracker()
    assert tracker.observe("d", "c", 1).verdict is CounterVerdict.IN_ORDER
    gap = tracker.observe("d", "c", 5)
    assert gap.verdict is CounterVerdict.GAP
    assert list(gap.missing) == [2, 3, 4]
    assert tracker.observe("d", "c", 3).verdict is CounterVerdict.LATE
    with pytest.raises(ReplayDetected):
        tracker.observe("d", "c", 3)
    assert tracker.observe("other-device", "c", 1).verdict is CounterVerdict.IN_ORDER


def test_counter_state_survives_a_reload() -> None:
    tracker = CounterTracker()
    tracker.observe("d", "c", 1)
    tracker.observe("d", "c", 4)
    restored = CounterTracker.restore(tracker.snapshot())
    assert restored.observe("d", "c", 2).verdict is CounterVerdict.LATE
    with pytest.raises(ReplayDetected):
        restored.observe("d", "c", 4)
    with pytest.raises(Malformed):
        CounterTracker.restore({("d", "c"): (3, (5,))})


def test_huge_counter_jump_does_not_exhaust_memory() -> None:
    tracker = CounterTracker(max_missing=16)
    result = tracker.observe("d", "c", 2**63)
    assert result.verdict is CounterVerdict.GAP
    assert len(result.missing) == 2**63 - 1
    assert tracker.observe("d", "c", 2**63 - 1).verdict is CounterVerdict.LATE
    with pytest.raises(ReplayDetected):
        tracker.observe("d", "c", 5)


def test_non_member_sender_is_rejected(trio: dict[str, User], random: SeededRandom) -> None:
    key, upload = _key_set({u: trio[u] for u in ("alice", "bob")}, "alice", 1, random)
    statement = verify_key_set(
        upload.statement, trio["alice"].device_cert, "conv", 1, {"alice", "bob"}
    )
    carol = trio["carol"]
    envelope = _send(carol, key, 1, b"I was removed but kept the key", random)
    with pytest.raises(NotAMember):
        open_envelope(
            envelope,
            conversation_id="conv",
            keys={1: key},
            key_sets={1: statement},
            sender_certificate=carol.device_cert,
        )


def test_old_generation_stays_readable_after_rotation(
    trio: dict[str, User], random: SeededRandom
) -> None:
    key1, st1, bob_key1 = _conversation(trio, random)
    old = _send(trio["alice"], key1, 1, b"before rotation", random)
    key2, up2 = _key_set(trio, "alice", 2, random)
    st2 = verify_key_set(up2.statement, trio["alice"].device_cert, "conv", 2, set(trio))
    bob_key2 = open_key_set(st2, up2.boxes["bob"], "bob", trio["bob"].puks)
    new = _send(trio["alice"], key2, 2, b"after rotation", random)
    keys, sets = {1: bob_key1, 2: bob_key2}, {1: st1, 2: st2}
    texts = [
        open_envelope(
            e,
            conversation_id="conv",
            keys=keys,
            key_sets=sets,
            sender_certificate=trio["alice"].device_cert,
        ).plaintext
        for e in (old, new)
    ]
    assert texts == [b"before rotation", b"after rotation"]
    assert peek_header(new).generation == 2


# --- password, recovery, vault ---------------------------------------------------------------


def test_new_browser_with_password_reads_history(
    trio: dict[str, User], random: SeededRandom
) -> None:
    bob = trio["bob"]
    params = KdfParams.generate(random)
    keys = derive_password_keys("bob's long passphrase", params)
    recovery = generate_recovery_code(random)
    seeds = [(g, p.seed.reveal()) for g, p in bob.puks.items()]
    contents = VaultContents.create(bob.identity.seed.reveal(), seeds)
    _, vault = create_vault(contents, "bob", keys.password_key, recovery.recovery_key(), random)
    key, upload = _key_set(trio, "alice", 1, random)
    envelope = _send(trio["alice"], key, 1, b"history", random)
    # A brand-new browser: only the password and what the server stores.
    login = derive_password_keys("bob's long passphrase", KdfParams.from_json(params.to_json()))
    assert login.auth_secret == keys.auth_secret
    _, opened = unlock_vault(vault, "bob", login.password_key)
    assert IdentityKey.from_seed(opened.identity_seed).public_key == bob.identity.public_key
    puks = {g: PukKeyPair(g, s) for g, s in opened.puk_seeds}
    alice_cert = verify_device_certificate(
        trio["alice"].device_cert.encoded, trio["alice"].identity.public(), "alice"
    )
    statement = verify_key_set(upload.statement, alice_cert, "conv", 1, set(trio))
    bob_key = open_key_set(statement, upload.boxes["bob"], "bob", puks)
    message = open_envelope(
        envelope,
        conversation_id="conv",
        keys={1: bob_key},
        key_sets={1: statement},
        sender_certificate=alice_cert,
    )
    assert message.plaintext == b"history"


def test_password_change_keeps_history_readable(random: SeededRandom) -> None:
    contents = VaultContents.create(random(32), [(1, random(32)), (2, random(32))])
    old = derive_password_keys("old password 1", KdfParams.generate(random))
    recovery = generate_recovery_code(random)
    vault_key, vault = create_vault(
        contents, "u", old.password_key, recovery.recovery_key(), random
    )
    new = derive_password_keys("new password 2", KdfParams.generate(random))
    rewrapped = rewrap_for_new_password(
        vault.password_wrapping, "u", old.password_key, new.password_key, random
    )
    changed = dataclasses.replace(vault, password_wrapping=rewrapped)
    same_key, opened = unlock_vault(changed, "u", new.password_key)
    assert same_key == vault_key
    assert opened.encode() == contents.encode()
    assert changed.sealed == vault.sealed  # contents untouched
    with pytest.raises(DecryptionFailed):
        unlock_vault(changed, "u", old.password_key)
    # The recovery code still opens it too.
    assert unlock_vault(changed, "u", recovery.recovery_key(), "recovery")[0] == vault_key


def test_forgotten_password_is_recovered_with_code(random: SeededRandom) -> None:
    contents = VaultContents.create(random(32), [(1, random(32))])
    recovery = generate_recovery_code(random)
    vault_key, vault = create_vault(
        contents, "u", Secret(random(32)), recovery.recovery_key(), random
    )
    typed = parse_recovery_code(recovery.formatted().lower().replace("-", " "))
    assert unlock_vault(vault, "u", typed.recovery_key(), "recovery")[0] == vault_key
    fresh = generate_recovery_code(random)
    rewrapped = add_recovery_wrapping(vault_key, "u", fresh.recovery_key(), random)
    replaced = dataclasses.replace(vault, recovery_wrapping=rewrapped)
    assert unlock_vault(replaced, "u", fresh.recovery_key(), "recovery")[0] == vault_key
    with pytest.raises(DecryptionFailed):
        unlock_vault(replaced, "u", recovery.recovery_key(), "recovery")


def test_vault_of_another_user_does_not_open(random: SeededRandom) -> None:
    contents = VaultContents.create(random(32), [(1, random(32))])
    vault_key, vault = create_vault(
        contents, "alice", Secret(random(32)), Secret(random(32)), random
    )
    with pytest.raises(DecryptionFailed):
        open_vault(vault_key, vault.sealed, "mallory")


def test_recovery_code_with_one_typo_is_caught(random: SeededRandom) -> None:
    for _ in range(5):
        code = generate_recovery_code(random).reveal().decode()
        for i, original in enumerate(code):
            for symbol in ALPHABET:
                if symbol != original:
                    with pytest.raises(InvalidRecoveryCode):
                        parse_recovery_code(code[:i] + symbol + code[i + 1 :])


def test_recovery_code_with_adjacent_transposition_is_caught(random: SeededRandom) -> None:
    for _ in range(50):
        code = generate_recovery_code(random).reveal().decode()
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                with pytest.raises(InvalidRecoveryCode):
                    parse_recovery_code(code[:i] + code[i + 1] + code[i] + code[i + 2 :])


def test_recovery_code_carries_at_least_128_bits(random: SeededRandom) -> None:
    code = generate_recovery_code(random)
    assert len(code.reveal()) == 28
    assert 26 * 5 >= 128
    assert len(code.formatted().split("-")) == 7


@pytest.mark.parametrize(
    "change",
    [
        {"memory_kib": 65535},
        {"iterations": 2},
        {"parallelism": 0},
        {"salt": bytes(8)},
        {"algorithm": "argon2i"},
    ],
    ids=["memory", "iterations", "parallelism", "salt", "algorithm"],
)
def test_weak_kdf_params_refused(change: dict[str, object]) -> None:
    params = dataclasses.replace(KdfParams(salt=bytes(16)), **change)  # type: ignore[arg-type]
    with pytest.raises(WeakParameters):
        derive_password_keys("a password", params)


def test_absurd_kdf_params_refused() -> None:
    with pytest.raises(Malformed):
        derive_password_keys("a password", KdfParams(salt=bytes(16), memory_kib=4 * 1024 * 1024))


# --- hygiene ---------------------------------------------------------------------------------


def test_secret_reprs_hide_bytes(trio: dict[str, User], random: SeededRandom) -> None:
    bob = trio["bob"]
    key, statement, _ = _conversation(trio, random)
    recovery = generate_recovery_code(random)
    contents = VaultContents.create(bob.identity.seed.reveal(), [(1, bob.puks[1].seed.reveal())])
    keys = derive_password_keys("hunter2 hunter2", KdfParams(salt=bytes(16)))
    secrets = {
        "identity": (bob.identity, bob.identity.seed.reveal()),
        "device": (bob.device, bob.device.seed.reveal()),
        "puk": (bob.puks[1], bob.puks[1].seed.reveal()),
        "ck": (key, key.reveal()),
        "recovery": (recovery, recovery.reveal()),
        "contents": (contents, bob.identity.seed.reveal()),
        "password_keys": (keys, keys.password_key.reveal()),
        "random": (random, b"scenarios"),
    }
    for name, (obj, secret) in secrets.items():
        for text in (repr(obj), str(obj)):
            assert secret.hex() not in text, name
            assert repr(secret) not in text, name
            assert "redacted" in text, name
    opened = open_envelope(
        _send(trio["alice"], key, 1, b"top secret text", random),
        conversation_id="conv",
        keys={1: key},
        key_sets={1: statement},
        sender_certificate=trio["alice"].device_cert,
    )
    assert "top secret" not in repr(opened)


def test_crypto_core_is_pure() -> None:
    forbidden = {
        "time",
        "datetime",
        "socket",
        "asyncio",
        "sqlalchemy",
        "httpx",
        "logging",
        "random",
    }
    for path in CRYPTO_SRC.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
                if name.startswith("hushroom"):
                    assert name.startswith("hushroom.crypto"), f"{path.name} imports {name}"


def test_device_certificate_of_another_user_is_refused(trio: dict[str, User]) -> None:
    from hushroom.crypto.errors import ContextMismatch

    with pytest.raises(ContextMismatch):
        verify_device_certificate(
            trio["bob"].device_cert.encoded, trio["bob"].identity.public(), "alice"
        )


@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.integers(min_value=0, max_value=2**64 - 1),
            st.text(max_size=20),
            st.lists(st.binary(max_size=10), max_size=4),
        ),
        max_size=6,
    )
)
def test_encoding_round_trips_and_rejects_truncation(fields: list[object]) -> None:
    data = encode("hushroom/v1/prop", 1, fields)  # type: ignore[arg-type]
    record = decode(data, "hushroom/v1/prop", 1, len(fields))
    assert len(record.fields) == len(fields)
    with pytest.raises(Malformed):
        decode(data[:-1], "hushroom/v1/prop", 1, len(fields))
