/**
 * Message envelopes (docs/crypto.md §8.4) and the per-device counter tracker (§8.5); mirror of
 * `hushroom.crypto.envelope`.
 */

import type { ConversationKey, KeySetStatement } from "./conversation-key.ts";
import type { DeviceCertificate } from "./device.ts";
import { checkIdent, decode, encode, utf8 } from "./encoding.ts";
import { ContextMismatch, Malformed, NotAMember, ReplayDetected, WrongGeneration } from "./errors.ts";
import { aesGcmOpen, aesGcmSeal, GCM_NONCE_SIZE } from "./aes-gcm.ts";
import type { MessageSigner } from "./ed25519-sign.ts";
import { type CofactorlessVerify, ED25519_SIGNATURE_SIZE } from "./ed25519-verify.ts";
import { hkdfSha256 } from "./hashes.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { INSPECT } from "./secret.ts";

export const HEADER_LABEL = "hushroom/v1/msg-header";
export const SIGNATURE_LABEL = "hushroom/v1/msg-sig";
export const ENVELOPE_LABEL = "hushroom/v1/envelope";
export const INFO_MESSAGE = "hushroom/v1/msg";
export const SALT_SIZE = 32;
export const MAX_PLAINTEXT = 65536;
export const MAX_MISSING_TRACKED = 1024;

export interface Header {
  readonly conversationId: string;
  readonly generation: number;
  readonly senderUserId: string;
  readonly senderDeviceId: string;
  readonly clientMessageId: string;
  readonly timestamp: number;
  readonly counter: number;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
}

export function encodeHeader(header: Header): Uint8Array {
  return encode(HEADER_LABEL, 1, [
    checkIdent(header.conversationId),
    header.generation,
    checkIdent(header.senderUserId),
    checkIdent(header.senderDeviceId),
    checkIdent(header.clientMessageId),
    header.timestamp,
    header.counter,
    header.salt,
    header.nonce,
  ]);
}

export function decodeHeader(data: Uint8Array): Header {
  const record = decode(data, HEADER_LABEL, 1, 9);
  const header: Header = {
    conversationId: record.ident(0),
    generation: record.integer(1),
    senderUserId: record.ident(2),
    senderDeviceId: record.ident(3),
    clientMessageId: record.ident(4),
    timestamp: record.integer(5),
    counter: record.integer(6),
    salt: record.fixed(7, SALT_SIZE),
    nonce: record.fixed(8, GCM_NONCE_SIZE),
  };
  if (header.generation < 1 || header.counter < 1) {
    throw new Malformed("generation and counter start at 1");
  }
  return header;
}

export interface Envelope {
  readonly header: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly signature: Uint8Array;
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return encode(ENVELOPE_LABEL, 1, [envelope.header, envelope.ciphertext, envelope.signature]);
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  const record = decode(data, ENVELOPE_LABEL, 1, 3);
  return {
    header: record.raw(0),
    ciphertext: record.raw(1),
    signature: record.fixed(2, ED25519_SIGNATURE_SIZE),
  };
}

/** A verified, decrypted message; printing never shows the plaintext. */
export class OpenedMessage {
  constructor(
    readonly header: Header,
    readonly plaintext: Uint8Array,
  ) {}

  toString(): string {
    const h = this.header;
    return `OpenedMessage(conversationId=${JSON.stringify(h.conversationId)}, generation=${h.generation}, counter=${h.counter}, plaintext=<redacted ${this.plaintext.length}>)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT](): string {
    return this.toString();
  }
}

/** `HKDF(CK, salt, info="hushroom/v1/msg")`. */
export function messageKey(key: ConversationKey, salt: Uint8Array): Uint8Array {
  return hkdfSha256(key.reveal(), salt, utf8(INFO_MESSAGE), 32);
}

export function signatureInput(header: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return encode(SIGNATURE_LABEL, 1, [header, ciphertext]);
}

export interface SealEnvelopeOptions {
  readonly senderUserId: string;
  readonly senderDeviceId: string;
  readonly clientMessageId: string;
  readonly timestamp: number;
  readonly counter: number;
  readonly plaintext: Uint8Array;
  readonly random: RandomSource;
}

/** Encrypt and sign one message under `key`; returns the encoded envelope. */
export async function sealEnvelope(
  key: ConversationKey,
  device: MessageSigner,
  options: SealEnvelopeOptions,
): Promise<Uint8Array> {
  if (options.plaintext.length > MAX_PLAINTEXT) {
    throw new Malformed("plaintext larger than 64 KiB");
  }
  if (options.counter < 1) {
    throw new Malformed("counter starts at 1");
  }
  const salt = randomBytes(options.random, SALT_SIZE);
  const nonce = randomBytes(options.random, GCM_NONCE_SIZE);
  const header = encodeHeader({
    conversationId: key.conversationId,
    generation: key.generation,
    senderUserId: options.senderUserId,
    senderDeviceId: options.senderDeviceId,
    clientMessageId: options.clientMessageId,
    timestamp: options.timestamp,
    counter: options.counter,
    salt,
    nonce,
  });
  const ciphertext = aesGcmSeal(messageKey(key, salt), nonce, options.plaintext, header);
  const signature = await device.sign(signatureInput(header, ciphertext));
  return encodeEnvelope({ header, ciphertext, signature });
}

/** Decode the (unverified) header, e.g. to look up the generation and sender. */
export function peekHeader(envelope: Uint8Array): Header {
  return decodeHeader(decodeEnvelope(envelope).header);
}

export interface OpenEnvelopeContext {
  readonly conversationId: string;
  /** generation → opened CK of this conversation. */
  readonly keys: ReadonlyMap<number, ConversationKey>;
  /** generation → verified key set of this conversation. */
  readonly keySets: ReadonlyMap<number, KeySetStatement>;
  /** The verified certificate of the header's sender device. */
  readonly senderCertificate: DeviceCertificate;
}

interface PreparedOpen {
  readonly parsed: Envelope;
  readonly header: Header;
  readonly key: ConversationKey;
  readonly certificate: DeviceCertificate;
}

/** The checks of §8.4 that come before the signature, in order. */
function checksBeforeSignature(envelope: Uint8Array, context: OpenEnvelopeContext): PreparedOpen {
  const parsed = decodeEnvelope(envelope);
  const header = decodeHeader(parsed.header);
  if (header.conversationId !== context.conversationId) {
    throw new ContextMismatch("envelope is for another conversation");
  }
  const key = context.keys.get(header.generation);
  const keySet = context.keySets.get(header.generation);
  if (key === undefined || keySet === undefined || key.conversationId !== context.conversationId) {
    throw new WrongGeneration("no conversation key for this generation");
  }
  const certificate = context.senderCertificate;
  if (
    header.senderUserId !== certificate.userId ||
    header.senderDeviceId !== certificate.deviceId
  ) {
    throw new ContextMismatch("sender device certificate does not match the header");
  }
  if (keySet.member(header.senderUserId) === undefined) {
    throw new NotAMember("sender is not a member of this generation");
  }
  return { parsed, header, key, certificate };
}

function decrypt({ parsed, header, key }: PreparedOpen): OpenedMessage {
  const plaintext = aesGcmOpen(
    messageKey(key, header.salt),
    header.nonce,
    parsed.ciphertext,
    parsed.header,
  );
  return new OpenedMessage(header, plaintext);
}

/** Receiver checks of docs/crypto.md §8.4, in order; the counter check is separate. */
export function openEnvelope(envelope: Uint8Array, context: OpenEnvelopeContext): OpenedMessage {
  const prepared = checksBeforeSignature(envelope, context);
  const { parsed, certificate } = prepared;
  certificate.verify(signatureInput(parsed.header, parsed.ciphertext), parsed.signature);
  return decrypt(prepared);
}

/**
 * `openEnvelope` with rule 6 of the signature check delegated to `cofactorless` (WebCrypto
 * Ed25519 in the browser, ~10× faster for a history resync). Same checks, same order, same
 * errors.
 */
export async function openEnvelopeAsync(
  envelope: Uint8Array,
  context: OpenEnvelopeContext,
  cofactorless?: CofactorlessVerify,
): Promise<OpenedMessage> {
  const prepared = checksBeforeSignature(envelope, context);
  const { parsed, certificate } = prepared;
  await certificate.verifyAsync(
    signatureInput(parsed.header, parsed.ciphertext),
    parsed.signature,
    cofactorless,
  );
  return decrypt(prepared);
}

export type CounterVerdict = "in_order" | "gap" | "late";

export interface CounterResult {
  readonly verdict: CounterVerdict;
  /** For `gap`: the counters skipped (dropped or delayed by the server), as [start, end). */
  readonly missing: readonly [start: number, end: number];
}

interface Stream {
  highest: number;
  missing: Set<number>;
}

/** Replay/reorder/drop detection per (sender device, conversation); pure, in memory. */
export class CounterTracker {
  readonly #streams = new Map<string, Stream>();
  readonly #maxMissing: number;

  constructor(maxMissing: number = MAX_MISSING_TRACKED) {
    this.#maxMissing = maxMissing;
  }

  /** Record a verified envelope's counter; throws `ReplayDetected` on a repeat. */
  observe(senderDeviceId: string, conversationId: string, counter: number): CounterResult {
    if (!Number.isSafeInteger(counter) || counter < 1) {
      throw new Malformed("counter starts at 1");
    }
    const id = JSON.stringify([senderDeviceId, conversationId]);
    let stream = this.#streams.get(id);
    if (stream === undefined) {
      stream = { highest: 0, missing: new Set() };
      this.#streams.set(id, stream);
    }
    if (counter === stream.highest + 1) {
      stream.highest = counter;
      return { verdict: "in_order", missing: [0, 0] };
    }
    if (counter > stream.highest + 1) {
      const start = stream.highest + 1;
      for (let c = Math.max(start, counter - this.#maxMissing); c < counter; c++) {
        stream.missing.add(c);
      }
      if (stream.missing.size > this.#maxMissing) {
        const sorted = [...stream.missing].sort((a, b) => a - b);
        for (const old of sorted.slice(0, stream.missing.size - this.#maxMissing)) {
          stream.missing.delete(old);
        }
      }
      stream.highest = counter;
      return { verdict: "gap", missing: [start, counter] };
    }
    if (stream.missing.has(counter)) {
      stream.missing.delete(counter);
      return { verdict: "late", missing: [0, 0] };
    }
    throw new ReplayDetected("envelope counter already seen");
  }

  observeHeader(header: Header): CounterResult {
    return this.observe(header.senderDeviceId, header.conversationId, header.counter);
  }
}
