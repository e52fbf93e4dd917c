/**
 * The plaintext inside an envelope: one message event (docs/crypto.md §8.7). A UTF-8 JSON
 * object with a string `type`; a text message is `{"type":"text","body":…}`. JSON because
 * events will grow optional fields that old clients must skip, not refuse.
 */
import { fromUtf8, utf8 } from "@/crypto/encoding";
import { Malformed } from "@/crypto/errors";

export const TEXT_EVENT = "text";
export const MAX_EVENT_BYTES = 65536;

/** `body` is the text of a `text` event; undefined for other types ("not supported"). */
export interface MessageEvent {
  readonly type: string;
  readonly body?: string;
}

// A lone surrogate (from a "\ud800"-style escape); paired ones are one code point under /u.
const LONE_SURROGATE = /\p{Cs}/u;

function wellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** `{"type":"text","body":text}` exactly as Python's `json.dumps(…, separators=(",", ":"),
 * ensure_ascii=False)` writes it: the vectors hold both to the same bytes. */
export function encodeTextEvent(text: string): Uint8Array {
  if (text.length === 0 || !wellFormed(text)) {
    throw new Malformed("a text event needs a non-empty, well-formed body");
  }
  const encoded = utf8(JSON.stringify({ type: TEXT_EVENT, body: text }));
  if (encoded.length > MAX_EVENT_BYTES) throw new Malformed("the event is too large");
  return encoded;
}

/** Strict: UTF-8, standard JSON, an object with a non-empty string `type`; a text event has a
 * non-empty, well-formed string `body`. Unknown fields are ignored. */
export function decodeEvent(plaintext: Uint8Array): MessageEvent {
  if (plaintext.length > MAX_EVENT_BYTES) throw new Malformed("the event is too large");
  let event: unknown;
  try {
    event = JSON.parse(fromUtf8(plaintext));
  } catch {
    throw new Malformed("the event is not UTF-8 JSON");
  }
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    throw new Malformed("the event is not a JSON object");
  }
  const record = event as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== "string" || type.length === 0 || !wellFormed(type)) {
    throw new Malformed("the event has no type");
  }
  if (type !== TEXT_EVENT) return { type };
  const body = record.body;
  if (typeof body !== "string" || body.length === 0 || !wellFormed(body)) {
    throw new Malformed("a text event needs a non-empty string body");
  }
  return { type, body };
}
