"""Canonical binary encoding (docs/crypto.md §3) and strict base64url transport.

``u16be(len(label)) ‖ label ‖ u8(version) ‖ (u32be(len) ‖ field)*``; ints are 8-byte big-endian
fields, strings UTF-8, lists one field of ``u32be(count) ‖ (u32be(len) ‖ item)*``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hushroom.crypto.errors import Malformed

MAX_ID_BYTES = 128
_U64_MAX = (1 << 64) - 1
_B64URL = re.compile(r"[A-Za-z0-9_-]*")

Field = bytes | int | str | Sequence[bytes]


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def encode_int(value: int) -> bytes:
    """An int field's content: 8 bytes big-endian."""
    if isinstance(value, bool) or not 0 <= value <= _U64_MAX:
        raise Malformed("integer out of range")
    return value.to_bytes(8, "big")


def encode_list(items: Sequence[bytes]) -> bytes:
    """A list field's content: ``u32be(count) ‖ (u32be(len) ‖ item)*``."""
    return _u32(len(items)) + b"".join(_u32(len(item)) + bytes(item) for item in items)


def _field_bytes(field: Field) -> bytes:
    if isinstance(field, bytes | bytearray | memoryview):
        return bytes(field)
    if isinstance(field, bool):
        raise Malformed("booleans are not a field kind")
    if isinstance(field, int):
        return encode_int(field)
    if isinstance(field, str):
        return field.encode("utf-8")
    return encode_list(list(field))


def encode(label: str, version: int, fields: Sequence[Field]) -> bytes:
    """Encode ``fields`` under a domain-separation ``label`` and ``version``."""
    label_bytes = label.encode("ascii")
    if not 0 < len(label_bytes) < 1 << 16 or not 0 <= version <= 255:
        raise Malformed("bad label or version")
    out = [len(label_bytes).to_bytes(2, "big"), label_bytes, bytes([version])]
    for field in fields:
        data = _field_bytes(field)
        out.append(_u32(len(data)))
        out.append(data)
    return b"".join(out)


def _split(data: bytes, what: str) -> list[bytes]:
    items: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise Malformed(f"truncated {what} length")
        length = int.from_bytes(data[pos : pos + 4], "big")
        pos += 4
        if length > len(data) - pos:
            raise Malformed(f"{what} runs past the end")
        items.append(data[pos : pos + length])
        pos += length
    return items


@dataclass(frozen=True, slots=True)
class Record:
    """Decoded fields of one canonical record, with typed accessors."""

    label: str
    fields: tuple[bytes, ...]

    def raw(self, index: int) -> bytes:
        return self.fields[index]

    def fixed(self, index: int, size: int) -> bytes:
        value = self.fields[index]
        if len(value) != size:
            raise Malformed(f"field {index} of {self.label} must be {size} bytes")
        return value

    def integer(self, index: int) -> int:
        return decode_int(self.fields[index])

    def text(self, index: int) -> str:
        return decode_str(self.fields[index])

    def ident(self, index: int) -> str:
        return decode_ident(self.fields[index])

    def items(self, index: int) -> list[bytes]:
        return decode_list(self.fields[index])


def decode(data: bytes, label: str, version: int, n_fields: int) -> Record:
    """Strictly decode a record; any deviation raises :class:`Malformed`."""
    data = bytes(data)
    expected = label.encode("ascii")
    if len(data) < 3:
        raise Malformed("truncated header")
    label_len = int.from_bytes(data[:2], "big")
    if label_len != len(expected) or data[2 : 2 + label_len] != expected:
        raise Malformed(f"expected label {label}")
    pos = 2 + label_len
    if len(data) < pos + 1 or data[pos] != version:
        raise Malformed(f"unsupported version of {label}")
    fields = _split(data[pos + 1 :], "field")
    if len(fields) != n_fields:
        raise Malformed(f"{label} must have {n_fields} fields")
    return Record(label, tuple(fields))


def decode_int(data: bytes) -> int:
    if len(data) != 8:
        raise Malformed("integer field must be 8 bytes")
    return int.from_bytes(data, "big")


def decode_str(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("invalid UTF-8") from None


def check_ident(value: str) -> str:
    """Identifiers are 1…128 UTF-8 bytes."""
    if not 1 <= len(value.encode("utf-8")) <= MAX_ID_BYTES:
        raise Malformed("identifier must be 1..128 UTF-8 bytes")
    return value


def decode_ident(data: bytes) -> str:
    return check_ident(decode_str(data))


def decode_list(data: bytes) -> list[bytes]:
    if len(data) < 4:
        raise Malformed("truncated list count")
    count = int.from_bytes(data[:4], "big")
    items = _split(data[4:], "list item")
    if len(items) != count:
        raise Malformed("list count does not match its items")
    return items


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url: no padding, URL-safe alphabet only, canonical trailing bits."""
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise Malformed("invalid base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise Malformed("invalid base64url") from None
    if b64url_encode(data) != text:
        raise Malformed("non-canonical base64url")
    return data


SIGNED_LABEL = "hushroom/v1/signed"


def encode_signed(tbs: bytes, signature: bytes) -> bytes:
    """The signed wrapper: ``encode("hushroom/v1/signed", 1, [tbs, signature])``."""
    return encode(SIGNED_LABEL, 1, [tbs, signature])


def decode_signed(data: bytes) -> tuple[bytes, bytes]:
    """Split a signed wrapper into ``(tbs, signature)``; the signature must be 64 bytes."""
    record = decode(data, SIGNED_LABEL, 1, 2)
    return record.raw(0), record.fixed(1, 64)
