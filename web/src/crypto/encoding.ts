/**
 * Canonical binary encoding (docs/crypto.md §3; mirror of `hushroom.crypto.encoding`) and the
 * byte helpers around it: hex, strict base64url, UTF-8, concatenation, constant-time compare.
 *
 * `u16be(len(label)) ‖ label ‖ u8(version) ‖ (u32be(len) ‖ field)*`; ints are 8-byte big-endian
 * fields, strings UTF-8, lists one field of `u32be(count) ‖ (u32be(len) ‖ item)*`.
 */

import { Malformed } from "./errors.ts";

const HEX = "0123456789abcdef";

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    out += HEX.charAt(b >> 4) + HEX.charAt(b & 0x0f);
  }
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Malformed("invalid hex");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The 6-bit value of one base64url character code, or -1 (computed: no table at import). */
function b64urlValue(code: number): number {
  if (code >= 0x41 && code <= 0x5a) return code - 0x41; // A-Z → 0..25
  if (code >= 0x61 && code <= 0x7a) return code - 0x61 + 26; // a-z → 26..51
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 52; // 0-9 → 52..61
  if (code === 0x2d) return 62; // -
  if (code === 0x5f) return 63; // _
  return -1;
}

/** base64url without padding (RFC 4648 §5). */
export function b64urlEncode(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64URL.charAt(n >> 18) + B64URL.charAt((n >> 12) & 63);
    out += B64URL.charAt((n >> 6) & 63) + B64URL.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] ?? 0) << 16;
    out += B64URL.charAt(n >> 18) + B64URL.charAt((n >> 12) & 63);
  } else if (rest === 2) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += B64URL.charAt(n >> 18) + B64URL.charAt((n >> 12) & 63) + B64URL.charAt((n >> 6) & 63);
  }
  return out;
}

/** Strict base64url decoding: no padding, no whitespace, canonical trailing bits. */
export function b64urlDecode(text: string): Uint8Array {
  if (text.length % 4 === 1) {
    throw new Malformed("invalid base64url length");
  }
  const values: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const v = b64urlValue(text.charCodeAt(i));
    if (v < 0) {
      throw new Malformed("invalid base64url character");
    }
    values.push(v);
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < values.length; i += 4) {
    const a = values[i] ?? 0;
    const b = values[i + 1] ?? 0;
    const c = values[i + 2] ?? 0;
    const d = values[i + 3] ?? 0;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    const chunk = Math.min(3, values.length - i - 1);
    if (chunk >= 1) out[o++] = (n >> 16) & 0xff;
    if (chunk >= 2) out[o++] = (n >> 8) & 0xff;
    if (chunk >= 3) out[o++] = n & 0xff;
  }
  if (b64urlEncode(out) !== text) {
    throw new Malformed("non-canonical base64url");
  }
  return out;
}

let encoder: TextEncoder | undefined;
let decoder: TextDecoder | undefined;

export function utf8(text: string): Uint8Array {
  encoder ??= new TextEncoder();
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  decoder ??= new TextDecoder("utf-8", { fatal: true });
  try {
    return decoder.decode(bytes);
  } catch {
    throw new Malformed("invalid UTF-8");
  }
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Constant-time equality for equal-length inputs (length itself is not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export const MAX_ID_BYTES = 128;
const U64_MAX = 0xffffffffffffffffn;

/** An int field. Numbers must be safe integers; bigints cover the full u64 range. */
export type IntField = number | bigint;
export type Field = Uint8Array | IntField | string | readonly Uint8Array[];

function u32be(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function readU32(data: Uint8Array, pos: number): number {
  return (
    (((data[pos] ?? 0) << 24) >>> 0) +
    ((data[pos + 1] ?? 0) << 16) +
    ((data[pos + 2] ?? 0) << 8) +
    (data[pos + 3] ?? 0)
  );
}

/** An int field's content: 8 bytes big-endian. */
export function encodeInt(value: IntField): Uint8Array {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new Malformed("integer out of range");
  }
  const v = BigInt(value);
  if (v < 0n || v > U64_MAX) {
    throw new Malformed("integer out of range");
  }
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[7 - i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** A list field's content: `u32be(count) ‖ (u32be(len) ‖ item)*`. */
export function encodeList(items: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [u32be(items.length)];
  for (const item of items) parts.push(u32be(item.length), item);
  return concatBytes(...parts);
}

function fieldBytes(field: Field): Uint8Array {
  if (field instanceof Uint8Array) return field;
  if (typeof field === "number" || typeof field === "bigint") return encodeInt(field);
  if (typeof field === "string") return utf8(field);
  return encodeList(field);
}

/** Encode `fields` under a domain-separation `label` and `version`. */
export function encode(label: string, version: number, fields: readonly Field[]): Uint8Array {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]+$/.test(label) || label.length >= 1 << 16) {
    throw new Malformed("bad label");
  }
  if (!Number.isInteger(version) || version < 0 || version > 255) {
    throw new Malformed("bad version");
  }
  const parts: Uint8Array[] = [
    new Uint8Array([label.length >> 8, label.length & 0xff]),
    utf8(label),
    new Uint8Array([version]),
  ];
  for (const field of fields) {
    const data = fieldBytes(field);
    parts.push(u32be(data.length), data);
  }
  return concatBytes(...parts);
}

function split(data: Uint8Array, what: string): Uint8Array[] {
  const items: Uint8Array[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new Malformed(`truncated ${what} length`);
    const length = readU32(data, pos);
    pos += 4;
    if (length > data.length - pos) throw new Malformed(`${what} runs past the end`);
    items.push(data.slice(pos, pos + length));
    pos += length;
  }
  return items;
}

export function decodeInt(data: Uint8Array): bigint {
  if (data.length !== 8) throw new Malformed("integer field must be 8 bytes");
  let v = 0n;
  for (const b of data) v = (v << 8n) | BigInt(b);
  return v;
}

/**
 * An int field as a JS number. Exact up to 2^53 − 1; larger values (never legitimate for
 * generations, counters or timestamps) come back rounded rather than rejected, so that such a
 * record fails the same later check as in Python (e.g. WrongGeneration), not a different one.
 * Use `decodeInt` for the exact bigint.
 */
export function decodeSafeInt(data: Uint8Array): number {
  return Number(decodeInt(data));
}

export function decodeStr(data: Uint8Array): string {
  return fromUtf8(data);
}

/** Identifiers are 1…128 UTF-8 bytes. */
export function checkIdent(value: string): string {
  const n = utf8(value).length;
  if (n < 1 || n > MAX_ID_BYTES) throw new Malformed("identifier must be 1..128 UTF-8 bytes");
  return value;
}

export function decodeIdent(data: Uint8Array): string {
  return checkIdent(decodeStr(data));
}

export function decodeList(data: Uint8Array): Uint8Array[] {
  if (data.length < 4) throw new Malformed("truncated list count");
  const count = readU32(data, 0);
  const items = split(data.subarray(4), "list item");
  if (items.length !== count) throw new Malformed("list count does not match its items");
  return items;
}

/** Decoded fields of one canonical record, with typed accessors. */
export class CanonicalRecord {
  readonly label: string;
  readonly fields: readonly Uint8Array[];

  constructor(label: string, fields: readonly Uint8Array[]) {
    this.label = label;
    this.fields = fields;
  }

  raw(index: number): Uint8Array {
    const value = this.fields[index];
    if (value === undefined) throw new Malformed(`missing field ${index} of ${this.label}`);
    return value;
  }

  fixed(index: number, size: number): Uint8Array {
    const value = this.raw(index);
    if (value.length !== size) {
      throw new Malformed(`field ${index} of ${this.label} must be ${size} bytes`);
    }
    return value;
  }

  integer(index: number): number {
    return decodeSafeInt(this.raw(index));
  }

  bigint(index: number): bigint {
    return decodeInt(this.raw(index));
  }

  text(index: number): string {
    return decodeStr(this.raw(index));
  }

  ident(index: number): string {
    return decodeIdent(this.raw(index));
  }

  items(index: number): Uint8Array[] {
    return decodeList(this.raw(index));
  }
}

/** Strictly decode a record; any deviation throws `Malformed`. */
export function decode(
  data: Uint8Array,
  label: string,
  version: number,
  nFields: number,
): CanonicalRecord {
  const expected = utf8(label);
  if (data.length < 3) throw new Malformed("truncated header");
  const labelLen = ((data[0] ?? 0) << 8) | (data[1] ?? 0);
  if (labelLen !== expected.length || !bytesEqual(data.subarray(2, 2 + labelLen), expected)) {
    throw new Malformed(`expected label ${label}`);
  }
  const pos = 2 + labelLen;
  if (data.length < pos + 1 || data[pos] !== version) {
    throw new Malformed(`unsupported version of ${label}`);
  }
  const fields = split(data.subarray(pos + 1), "field");
  if (fields.length !== nFields) throw new Malformed(`${label} must have ${nFields} fields`);
  return new CanonicalRecord(label, fields);
}

/** Byte-wise lexicographic comparison (negative, zero, positive). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export const SIGNED_LABEL = "hushroom/v1/signed";

/** The signed wrapper: `encode("hushroom/v1/signed", 1, [tbs, signature])`. */
export function encodeSigned(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
  return encode(SIGNED_LABEL, 1, [tbs, signature]);
}

/** Split a signed wrapper into `[tbs, signature]`; the signature must be 64 bytes. */
export function decodeSigned(data: Uint8Array): [Uint8Array, Uint8Array] {
  const record = decode(data, SIGNED_LABEL, 1, 2);
  return [record.raw(0), record.fixed(1, 64)];
}
