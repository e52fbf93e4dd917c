/**
 * Encrypting on send and decrypting on receive (docs/crypto.md §8.4–§8.5).
 *
 * Sealing: the current key set (`ConversationKeys.forSending`), this device's next persistent
 * counter for the conversation, `sealEnvelope` with the unlocked device key. A refused envelope
 * (`stale_key_generation`) is sealed again with the same client message id and the same counter.
 *
 * Opening: the key set of the envelope's generation (fetched and verified on first use), the
 * sender device's certificate verified under the sender's pinned identity key, `openEnvelope`,
 * then replay detection per (sender device, conversation). Work goes in chunks that yield to the
 * event loop, so a 1,000-message history does not freeze the page. A message that fails is
 * never dropped: it is shown with an honest reason and counted (`undecryptable`).
 */

import type { Message } from "@/api/types";
import type { ConversationKey } from "@/crypto/conversation-key";
import type { CofactorlessVerify } from "@/crypto/ed25519-verify";
import { b64urlDecode, b64urlEncode } from "@/crypto/encoding";
import { decodeEvent, encodeTextEvent } from "@/crypto/event";
import { NotAMember, WrongGeneration } from "@/crypto/errors";
import { openEnvelopeAsync, peekHeader, sealEnvelope, type Header } from "@/crypto/envelope";
import type { RandomSource } from "@/crypto/random";
import {
  type ConversationKeys,
  type ContactDirectories,
  KeysUnavailable,
  SenderUnverified,
} from "@/session/conversation-keys";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import type { E2eeStore } from "@/storage/local-crypto-store";
import { type ChatMessage, decodePlain } from "@/store/pipeline";

export const FAIL_SENDER = "Could not verify the sender";
export const FAIL_ALTERED = "The server altered this message";
export const FAIL_KEYS = "Sent to keys this browser does not have";
export const FAIL_UNAVAILABLE = "Could not open this message right now";
export const UNSUPPORTED_EVENT = "This message needs a newer version of Hushroom";

/** How many messages are opened between two yields to the event loop. */
export const CHUNK = 25;

export interface SealedSend {
  readonly generation: number;
  readonly ciphertext: string;
  readonly counter: number;
}

/** Why a message could not be opened, in the words the bubble shows. */
export class OpenFailure extends Error {
  override readonly name = "OpenFailure";
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The undecryptable count, exposed on the document root for tests (no secrets in it). */
function publishCount(count: number): void {
  if (typeof document !== "undefined") {
    document.documentElement.dataset.undecryptable = String(count);
  }
}

export interface MessageCryptoOptions {
  readonly keys: () => UnlockedKeys | null;
  readonly conversationKeys: ConversationKeys;
  readonly directories: ContactDirectories;
  readonly store: E2eeStore;
  readonly random: RandomSource;
  readonly cofactorless?: () => Promise<CofactorlessVerify | undefined>;
}

export class MessageCrypto {
  readonly #o: MessageCryptoOptions;
  /** (sender device, conversation) → counter → seq where it was seen (replay detection). */
  readonly #seen = new Map<string, Map<number, number>>();
  /** (conversation, seq) of each message that failed, so a refetch does not count it twice. */
  readonly #failed = new Set<string>();
  /** Serialises sealing: counters go out in the order messages were written. */
  #sealing: Promise<unknown> = Promise.resolve();
  #cofactorless: Promise<CofactorlessVerify | undefined> | null = null;

  constructor(options: MessageCryptoOptions) {
    this.#o = options;
    publishCount(0);
  }

  /** Messages that could not be opened on this page (each counted once). */
  get undecryptable(): number {
    return this.#failed.size;
  }

  #unlocked(): UnlockedKeys {
    const keys = this.#o.keys();
    if (keys === null) throw new KeysUnavailable("the account keys are locked");
    return keys;
  }

  /**
   * Encrypt `text` for `conversationId`. `counter` is given when sealing again a message that
   * already has one (the refused envelope was never stored: recipients see no gap).
   */
  seal(conversationId: string, clientMsgId: string, text: string, counter?: number): Promise<SealedSend> {
    const run = this.#sealing.then(async () => {
      const keys = this.#unlocked();
      const { key } = await this.#o.conversationKeys.forSending(conversationId);
      const c = counter ?? (await this.#o.store.nextCounter(keys.deviceId, conversationId));
      const envelope = await sealEnvelope(key, keys.device, {
        senderUserId: keys.userId,
        senderDeviceId: keys.deviceId,
        clientMessageId: clientMsgId,
        timestamp: Date.now(),
        counter: c,
        plaintext: encodeTextEvent(text),
        random: this.#o.random,
      });
      return { generation: key.generation, ciphertext: b64urlEncode(envelope), counter: c };
    });
    this.#sealing = run.catch(() => undefined);
    return run;
  }

  /** Open a batch (a page, a resume, one live frame) in seq order, yielding between chunks. */
  async openAll(messages: readonly Message[]): Promise<ChatMessage[]> {
    const ordered = [...messages].sort((a, b) => a.seq - b.seq);
    const out: ChatMessage[] = [];
    for (let i = 0; i < ordered.length; i += CHUNK) {
      if (i > 0) await yieldToEventLoop();
      const chunk = ordered.slice(i, i + CHUNK);
      out.push(...(await Promise.all(chunk.map((m) => this.open(m)))));
    }
    return out;
  }

  /** One message: its text, or why it could not be opened. */
  async open(m: Message): Promise<ChatMessage> {
    const base = {
      id: m.id,
      conversationId: m.conversation_id,
      seq: m.seq,
      senderId: m.sender_id,
      clientMsgId: m.client_msg_id,
      createdAt: m.created_at,
    };
    // Public text, or a public message a moderator removed: nothing to open.
    if (m.body != null || m.removed === true) return decodePlain(m);
    try {
      const text = await this.#openEnvelope(m);
      return { ...base, text, encrypted: true };
    } catch (error) {
      const reason = describeFailure(error);
      const id = `${m.conversation_id}\u0000${String(m.seq)}`;
      if (!this.#failed.has(id)) {
        this.#failed.add(id);
        publishCount(this.#failed.size);
      }
      return { ...base, text: reason, encrypted: true, failure: reason };
    }
  }

  async #openEnvelope(m: Message): Promise<string> {
    if (m.ciphertext == null || m.generation == null) throw new OpenFailure(FAIL_ALTERED);
    let bytes: Uint8Array;
    let header: Header;
    try {
      bytes = b64urlDecode(m.ciphertext);
      header = peekHeader(bytes);
    } catch {
      throw new OpenFailure(FAIL_ALTERED);
    }
    // What the server says about the message must be what the sender signed.
    if (
      header.conversationId !== m.conversation_id ||
      header.generation !== m.generation ||
      header.senderUserId !== m.sender_id ||
      header.senderDeviceId !== m.sender_device_id ||
      header.clientMessageId !== m.client_msg_id
    ) {
      throw new OpenFailure(FAIL_ALTERED);
    }
    this.#unlocked();
    const opened = await this.#o.conversationKeys.keyFor(m.conversation_id, header.generation);
    const certificate = await this.#o.directories.deviceCertificate(header.senderUserId, header.senderDeviceId);
    this.#cofactorless ??= this.#o.cofactorless?.().catch(() => undefined) ?? Promise.resolve(undefined);
    const keys = new Map<number, ConversationKey>([[header.generation, opened.key]]);
    const message = await openEnvelopeAsync(
      bytes,
      {
        conversationId: m.conversation_id,
        keys,
        keySets: new Map([[header.generation, opened.statement]]),
        senderCertificate: certificate,
      },
      await this.#cofactorless,
    );
    this.#checkCounter(message.header, m.seq);
    let event;
    try {
      event = decodeEvent(message.plaintext);
    } catch {
      throw new OpenFailure(FAIL_ALTERED);
    }
    // A kind of event this version does not know yet (a later reply, edit, reaction…).
    return event.body ?? UNSUPPORTED_EVENT;
  }

  /**
   * §8.5 replay detection, independent of the order pages arrive in (history pages backwards):
   * a (sender device, counter) seen before at another seq is a replay. Counters only of
   * envelopes that passed every check.
   */
  #checkCounter(header: Header, seq: number): void {
    const stream = `${header.senderDeviceId}\u0000${header.conversationId}`;
    let seen = this.#seen.get(stream);
    if (seen === undefined) {
      seen = new Map();
      this.#seen.set(stream, seen);
    }
    const at = seen.get(header.counter);
    if (at !== undefined && at !== seq) throw new OpenFailure(FAIL_ALTERED);
    seen.set(header.counter, seq);
  }
}

/** The reason a person sees for an error thrown while opening a message. */
export function describeFailure(error: unknown): string {
  if (error instanceof OpenFailure) return error.message;
  if (error instanceof KeysUnavailable || error instanceof WrongGeneration) return FAIL_KEYS;
  if (error instanceof SenderUnverified) return FAIL_SENDER;
  if (error instanceof NotAMember) return FAIL_SENDER;
  if (error instanceof Error && error.name === "KeyDirectoryInvalid") return FAIL_SENDER;
  if (error instanceof Error && (error.name === "ApiError" || error.name === "NetworkError")) {
    return FAIL_UNAVAILABLE;
  }
  // Malformed, InvalidSignature, DecryptionFailed, ContextMismatch, KeyCommitmentMismatch …
  return FAIL_ALTERED;
}
