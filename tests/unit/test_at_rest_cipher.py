"""The at-rest cipher (storage/at_rest.py): sealing is bound to the row, the column and the key."""

from __future__ import annotations

import os

import pytest

from hushroom.storage.at_rest import (
    AtRestCipher,
    AtRestIntegrityError,
    KekMismatch,
    UnknownDataKey,
    key_id_of,
)

ROW = ("messages", "body", "c0ffee", "7")


def ring(kek: bytes | None = None, *key_ids: int) -> AtRestCipher:
    """A cipher holding data keys `key_ids` (default: key 1), the last one current."""
    cipher = AtRestCipher(kek or os.urandom(32))
    for key_id in key_ids or (1,):
        cipher.add_wrapped(key_id, cipher.wrap(key_id, os.urandom(32)))
        cipher.current_id = key_id
    return cipher


def test_a_sealed_value_opens_to_the_same_text_and_hides_it() -> None:
    cipher = ring()
    blob = cipher.seal(ROW, "héllo CANARY")
    assert b"CANARY" not in blob
    assert key_id_of(blob) == 1
    assert cipher.open(ROW, blob) == "héllo CANARY"
    # A fresh nonce each time: equal texts seal differently.
    assert cipher.seal(ROW, "héllo CANARY") != blob


@pytest.mark.parametrize(
    "other",
    [
        ("messages", "body", "c0ffee", "8"),  # another seq
        ("messages", "body", "c0ffef", "7"),  # another conversation
        ("conversations", "topic", "c0ffee", "7"),  # another column
        ("messages", "body", "c0ffee7", ""),  # the same characters, split differently
    ],
)
def test_a_value_moved_to_another_row_or_column_does_not_open(other: tuple[str, ...]) -> None:
    cipher = ring()
    with pytest.raises(AtRestIntegrityError):
        cipher.open(other, cipher.seal(ROW, "hello"))


@pytest.mark.parametrize("position", [0, 3, 10, 20, -1])
def test_a_tampered_value_does_not_open(position: int) -> None:
    cipher = ring(None, 1, 2)
    blob = bytearray(cipher.seal(ROW, "hello"))
    blob[position] ^= 0x01
    with pytest.raises(AtRestIntegrityError):
        cipher.open(ROW, bytes(blob))


def test_a_value_relabelled_with_another_known_key_id_does_not_open() -> None:
    cipher = ring(None, 1, 2)
    blob = bytearray(cipher.seal(ROW, "hello"))
    assert key_id_of(bytes(blob)) == 2
    blob[1:5] = (1).to_bytes(4, "big")
    with pytest.raises(AtRestIntegrityError):
        cipher.open(ROW, bytes(blob))


def test_a_value_under_a_key_not_loaded_names_that_key() -> None:
    kek = os.urandom(32)
    writer = ring(kek, 1, 2)
    reader = AtRestCipher(kek)
    with pytest.raises(UnknownDataKey) as caught:
        reader.open(ROW, writer.seal(ROW, "hello"))
    assert caught.value.key_id == 2


def test_a_data_key_does_not_unwrap_under_another_kek() -> None:
    cipher = ring()
    wrapped = cipher.wrap(1, os.urandom(32))
    with pytest.raises(KekMismatch):
        AtRestCipher(os.urandom(32)).add_wrapped(1, wrapped)
    with pytest.raises(KekMismatch):  # nor under another key id (the id is bound)
        cipher.add_wrapped(2, wrapped)


def test_rewrapped_data_keys_open_old_values_under_the_new_kek() -> None:
    old_kek, new_kek = os.urandom(32), os.urandom(32)
    old = AtRestCipher(old_kek)
    wrapped = old.wrap(1, os.urandom(32))
    old.add_wrapped(1, wrapped)
    old.current_id = 1
    blob = old.seal(ROW, "hello")
    new = AtRestCipher(new_kek)
    new.add_wrapped(1, old.rewrapped(1, wrapped, new))
    assert new.open(ROW, blob) == "hello"


def test_the_blind_index_ignores_case_and_depends_on_the_kek() -> None:
    kek = os.urandom(32)
    one, same = AtRestCipher(kek), AtRestCipher(kek)
    assert one.blind_index("Garden") == same.blind_index("gARDEN")
    assert one.blind_index("Garden") != one.blind_index("Gardens")
    assert one.blind_index("Garden") != AtRestCipher(os.urandom(32)).blind_index("Garden")
    assert b"garden" not in one.blind_index("Garden")


def test_the_cipher_never_shows_its_keys() -> None:
    assert repr(ring()) == "AtRestCipher(keys=[1], current=1)"
