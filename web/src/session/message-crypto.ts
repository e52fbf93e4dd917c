/**
 * Encrypting on send and decrypting on receive (docs/crypto.md §8.4–§8.5).
 *
 * Sealing: the current key set (`ConversationKeys.forSending`), this device's next persistent
 * counter for the conversation, `sealEnvelope` with the unlocked device key. A refused envelope
 * (`stale_key_generation`) is sealed again with the same client message id and the same counter.
 *
 * Opening: the key set of the envelope's generation (fetched and verified on first use), the
 * sender device's certificate verified under the sender's pinned identity key, `openEnvelope`,
 * then the counter checks of §8.5 per (sender device, conversation) (`CounterLedger`). Work goes
 * in chunks that yield to the event loop, so a 1,000-message history does not freeze the page. A
 * message that fails is never dropped: it is shown with an honest reason and counted
 * (`undecryptable`). Messages the server did not deliver, or delivered out of order, are shown
 * as notices between messages (`notices`) and counted apart (`missingMessages`).
 *
 * Counters after a refused send: a counter is taken from the persistent store when a message is
 * first sealed and stays with that message (its outbox entry) for good: sealed again after
 * `stale_key_generation`, or retried after any failure, it keeps it. It is never given to
 * another message, not even when the server refuses a send permanently and the person discards
 * it. The refusal is only the server's word, and the server holds a validly signed envelope
 * with that counter: if the counter went to the next message, the server could later deliver
 * the withdrawn text in its place and no reader could tell. So a discarded refused message
 * leaves a gap in its device's counters, and readers see "1 message from … could not be
 * delivered by the server", which is what happened; a refused message retried after later ones
 * went through shows as "arrived out of order". Nothing else an honest server and client do
 * produces a notice, except two tabs of one browser sending at the same moment (their counters
 * come from one store, and the server may store them in the other order): also "out of order".
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
import { type CounterNotice, sameNotices } from "@/session/counter-notices";

export type { CounterNotice } from "@/session/counter-notices";

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

/**
 * User Timing for the history benchmark (web/bench/history-render.bench.ts): `hushroom:decrypt`
 * spans one batch's `openAll` (key set and sender checks on first use, the envelopes, the yields
 * between chunks), `detail.messages` its size. Only batches of more than one message (history
 * pages, resumes), so live traffic does not fill the timeline. Nothing waits on it.
 */
function measureBatch(started: number, messages: number): void {
  if (messages < 2 || typeof performance === "undefined") return;
  try {
    performance.measure("hushroom:decrypt", { start: started, detail: { messages } });
  } catch {
    // No User Timing here: nothing to measure.
  }
}

/** Missing and reordered counts, on the document root for tests (no secrets in them). */
function publishOrder(missing: number, reordered: number): void {
  if (typeof document !== "undefined") {
    document.documentElement.dataset.missingMessages = String(missing);
    document.documentElement.dataset.reorderedMessages = String(reordered);
  }
}


/** What was seen at one seq: a verified envelope's signed sender and counter, or nothing sure. */
interface SeenAt {
  readonly senderId: string;
  readonly deviceId: string;
  readonly counter: number;
}

/** First index in ascending `values` whose value is ≥ `x` (> `x` with `strict`). */
function bound(values: readonly number[], x: number, strict = false): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = values[mid] ?? 0;
    if (v < x || (strict && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * §8.5 counter tracking that does not depend on the order pages arrive in (history loads
 * backwards, live messages forwards, gaps are filled later). The server numbers each
 * conversation's messages 1, 2, 3 … with no holes, so the ledger remembers, per conversation,
 * every seq it has seen and, for envelopes that passed every check of §8.4, the signed sender
 * device and counter. From that, whatever has been loaded so far:
 *
 * - a counter seen at two seqs is a replay (refused when the second one is opened);
 * - a message whose counter is lower than one its device sent at an earlier seq is *reordered*;
 * - when a device's counter jumps from its highest so far, `h` at seq `a` (0 at the start of the
 *   conversation), to `c > h + 1` at seq `b`, and every seq between `a` and `b` is loaded and
 *   opened (none missing, none that failed: a failed message may be one of the counters, and it
 *   is shown as failed already), the counters in between that were not seen anywhere are
 *   *missing*: the server left them out (or the sender's client never sent them, see above).
 *
 * A range with a seq not loaded yet, or not opened (a locked browser, an own message shown from
 * its acknowledgement) is never judged, so paging never shows a gap that is not there; when a
 * missing counter turns up later it becomes "reordered" instead. The reader's own device is not
 * judged: its own refused sends were shown to it as failed.
 */
export class CounterLedger {
  /** conversation → seq → the verified sender and counter there (null: seen, not verified). */
  readonly #seen = new Map<string, Map<number, SeenAt | null>>();
  /** (sender device, conversation) → counter → seq (replays). */
  readonly #counters = new Map<string, Map<number, number>>();

  #conversation(conversationId: string): Map<number, SeenAt | null> {
    let seen = this.#seen.get(conversationId);
    if (seen === undefined) {
      seen = new Map();
      this.#seen.set(conversationId, seen);
    }
    return seen;
  }

  /**
   * A verified envelope's counter at `seq`; false (and nothing recorded) when the counter was
   * seen at another seq: a replay.
   */
  accept(conversationId: string, seq: number, senderId: string, deviceId: string, counter: number): boolean {
    const stream = `${deviceId}\u0000${conversationId}`;
    let counters = this.#counters.get(stream);
    if (counters === undefined) {
      counters = new Map();
      this.#counters.set(stream, counters);
    }
    const at = counters.get(counter);
    if (at !== undefined && at !== seq) return false;
    const seen = this.#conversation(conversationId);
    const before = seen.get(seq);
    if (before != null && (before.deviceId !== deviceId || before.counter !== counter)) {
      // Another envelope at this seq earlier (a server that changed its answer): the latest counts.
      this.#counters.get(`${before.deviceId}\u0000${conversationId}`)?.delete(before.counter);
    }
    counters.set(counter, seq);
    seen.set(seq, { senderId, deviceId, counter });
    return true;
  }

  /** A message at `seq` that is not a verified envelope (failed, or not an envelope at all). */
  unverified(conversationId: string, seq: number): void {
    const seen = this.#conversation(conversationId);
    // A message verified once stays verified (a refetch that failed for want of the network).
    if (seen.get(seq) == null) seen.set(seq, null);
  }

  /** The notices of one conversation in seq order; `ownDeviceId`'s counters are not judged. */
  notices(conversationId: string, ownDeviceId?: string): CounterNotice[] {
    const seen = this.#seen.get(conversationId);
    if (seen === undefined) return [];
    const seqs = [...seen.keys()].sort((a, b) => a - b);
    // unsure[i]: how many of seqs[0 … i-1] are not verified envelopes.
    const unsure = [0];
    const streams = new Map<string, { senderId: string; at: [number, number][] }>();
    for (const seq of seqs) {
      const here = seen.get(seq) ?? null;
      unsure.push((unsure.at(-1) ?? 0) + (here === null ? 1 : 0));
      if (here === null || here.deviceId === ownDeviceId) continue;
      let stream = streams.get(here.deviceId);
      if (stream === undefined) {
        stream = { senderId: here.senderId, at: [] };
        streams.set(here.deviceId, stream);
      }
      stream.at.push([seq, here.counter]);
    }
    /** Every seq strictly between `from` and `to` loaded, each a verified envelope. */
    const complete = (from: number, to: number): boolean => {
      const i = bound(seqs, from, true);
      const j = bound(seqs, to);
      return j - i === to - from - 1 && (unsure[j] ?? 0) - (unsure[i] ?? 0) === 0;
    };
    const out: CounterNotice[] = [];
    for (const [deviceId, { senderId, at }] of streams) {
      const counters = at.map(([, c]) => c).sort((a, b) => a - b);
      const base = { conversationId, senderId, senderDeviceId: deviceId };
      let highest = 0;
      let highestSeq = 0;
      // A run of late messages in a row (in this device's seq order) is one notice.
      let run: { seq: number; count: number; index: number } | null = null;
      for (let index = 0; index < at.length; index++) {
        const [seq, counter] = at[index] ?? [0, 0];
        if (counter < highest) {
          if (run?.index === index - 1) {
            run.count += 1;
            run.index = index;
          } else {
            if (run !== null) out.push({ ...base, kind: "reordered", seq: run.seq, count: run.count });
            run = { seq, count: 1, index };
          }
          continue;
        }
        if (counter > highest + 1 && complete(highestSeq, seq)) {
          // Counters in between that turned up at later seqs arrived late: not missing.
          const later = bound(counters, counter) - bound(counters, highest, true);
          const missing = counter - highest - 1 - later;
          if (missing > 0) out.push({ ...base, kind: "missing", seq, count: missing });
        }
        highest = counter;
        highestSeq = seq;
      }
      if (run !== null) out.push({ ...base, kind: "reordered", seq: run.seq, count: run.count });
    }
    return out.sort((x, y) => x.seq - y.seq || x.senderDeviceId.localeCompare(y.senderDeviceId));
  }
}

const NO_NOTICES: readonly CounterNotice[] = [];


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
  /** Counters of verified envelopes and the seqs seen, per conversation (§8.5). */
  readonly #ledger = new CounterLedger();
  /** Each conversation's current notices (the same array until they change). */
  readonly #notices = new Map<string, readonly CounterNotice[]>();
  /** Conversations with messages opened since their notices were last worked out. */
  readonly #dirty = new Set<string>();
  readonly #listeners = new Set<() => void>();
  #missing = 0;
  #reordered = 0;
  /** (conversation, seq) of each message that failed, so a refetch does not count it twice. */
  readonly #failed = new Set<string>();
  /** Serialises sealing: counters go out in the order messages were written. */
  #sealing: Promise<unknown> = Promise.resolve();
  #cofactorless: Promise<CofactorlessVerify | undefined> | null = null;

  constructor(options: MessageCryptoOptions) {
    this.#o = options;
    publishCount(0);
    publishOrder(0, 0);
  }

  /** Messages of other devices that the server did not deliver, as far as loaded (§8.5). */
  get missingMessages(): number {
    return this.#missing;
  }

  /** Messages of other devices that arrived after a later one of the same device. */
  get reorderedMessages(): number {
    return this.#reordered;
  }

  /** A conversation's missing / out-of-order notices in seq order (a stable array). */
  notices(conversationId: string): readonly CounterNotice[] {
    return this.#notices.get(conversationId) ?? NO_NOTICES;
  }

  /** Called when any conversation's notices change (for `useSyncExternalStore`). */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };

  /** Work out the notices of the conversations that had messages opened; tell who listens. */
  #refresh(): void {
    if (this.#dirty.size === 0) return;
    const own = this.#o.keys()?.deviceId;
    let changed = false;
    for (const id of this.#dirty) {
      const next = this.#ledger.notices(id, own);
      if (sameNotices(this.notices(id), next)) continue;
      if (next.length === 0) this.#notices.delete(id);
      else this.#notices.set(id, next);
      changed = true;
    }
    this.#dirty.clear();
    if (!changed) return;
    let missing = 0;
    let reordered = 0;
    for (const list of this.#notices.values()) {
      for (const n of list) {
        if (n.kind === "missing") missing += n.count;
        else reordered += n.count;
      }
    }
    this.#missing = missing;
    this.#reordered = reordered;
    publishOrder(missing, reordered);
    for (const listener of [...this.#listeners]) listener();
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
    const started = performance.now();
    const ordered = [...messages].sort((a, b) => a.seq - b.seq);
    const out: ChatMessage[] = [];
    for (let i = 0; i < ordered.length; i += CHUNK) {
      if (i > 0) await yieldToEventLoop();
      const chunk = ordered.slice(i, i + CHUNK);
      out.push(...(await Promise.all(chunk.map((m) => this.#openOne(m)))));
    }
    this.#refresh();
    measureBatch(started, ordered.length);
    return out;
  }

  /** One message: its text, or why it could not be opened. */
  async open(m: Message): Promise<ChatMessage> {
    const out = await this.#openOne(m);
    this.#refresh();
    return out;
  }

  async #openOne(m: Message): Promise<ChatMessage> {
    this.#dirty.add(m.conversation_id);
    const base = {
      id: m.id,
      conversationId: m.conversation_id,
      seq: m.seq,
      senderId: m.sender_id,
      clientMsgId: m.client_msg_id,
      createdAt: m.created_at,
    };
    // Public text, or a public message a moderator removed: nothing to open.
    if (m.body != null || m.removed === true) {
      this.#ledger.unverified(m.conversation_id, m.seq);
      return decodePlain(m);
    }
    try {
      const text = await this.#openEnvelope(m);
      return { ...base, text, encrypted: true };
    } catch (error) {
      this.#ledger.unverified(m.conversation_id, m.seq);
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
   * §8.5, independent of the order pages arrive in (history pages backwards): a (sender device,
   * counter) seen before at another seq is a replay; otherwise the counter goes in the ledger
   * (gaps and reordering are worked out from it after the batch). Counters only of envelopes
   * that passed every check.
   */
  #checkCounter(header: Header, seq: number): void {
    const fresh = this.#ledger.accept(
      header.conversationId,
      seq,
      header.senderUserId,
      header.senderDeviceId,
      header.counter,
    );
    if (!fresh) throw new OpenFailure(FAIL_ALTERED);
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
