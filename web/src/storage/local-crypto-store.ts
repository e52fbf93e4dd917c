/**
 * This browser's private-conversation state, per signed-in user, in its own IndexedDB database
 * ("hushroom-e2ee"; a new database so no other store's version has to move):
 *
 * - `local-keys`: a non-extractable AES-GCM key per user (structured-clones into IndexedDB and
 *   stays non-extractable). It encrypts what must not lie on disk in the clear: the text of
 *   private messages waiting in the outbox, and the set of verified contacts.
 * - `counters`: the last envelope counter this device used per conversation (docs/crypto.md
 *   §8.4: counters start at 1 per (device, conversation) and never repeat; a lost counter means
 *   a lost device key, so a fresh browser starts a fresh device at 1).
 * - `verified`: the contacts this user marked as verified, encrypted under the local key — a
 *   cache of the encrypted per-user store on the server (docs/crypto.md §6.6), beside the
 *   server's copy as of the last sync (the base of the next merge, `loadVerifiedBase`).
 * - `notices`: identity-key changes seen (public facts: who and when), shown in conversations.
 * - `devices`: contacts' device certificates once verified under the identity key pinned then
 *   (public), so history they signed still verifies after the device left the directory (an
 *   account reset replaces every device).
 */

import { lazyKeyValueDb, type KeyValueDb } from "@/storage/idb";

const DB_NAME = "hushroom-e2ee";
const LOCAL_KEYS = "local-keys";
const COUNTERS = "counters";
const VERIFIED = "verified";
const NOTICES = "notices";
const DEVICES = "devices";
const STORES = [LOCAL_KEYS, COUNTERS, VERIFIED, NOTICES, DEVICES] as const;

/** Encrypts bytes under a device-local key that script can use but never read out. */
export interface LocalCipher {
  encrypt(plaintext: Uint8Array, context: string): Promise<Uint8Array>;
  /** Throws when the bytes were not sealed by this key for this context. */
  decrypt(sealed: Uint8Array, context: string): Promise<Uint8Array>;
}

const IV_SIZE = 12;

function aad(context: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`hushroom/v1/local\u0000${context}`);
}

/** AES-GCM under `key`: output is iv ‖ ciphertext. */
export function webCryptoCipher(key: CryptoKey, subtle: SubtleCrypto = crypto.subtle): LocalCipher {
  return {
    async encrypt(plaintext, context) {
      const iv = crypto.getRandomValues(new Uint8Array(IV_SIZE));
      const sealed = new Uint8Array(
        await subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(context) }, key, plaintext.slice()),
      );
      const out = new Uint8Array(IV_SIZE + sealed.length);
      out.set(iv, 0);
      out.set(sealed, IV_SIZE);
      return out;
    },
    async decrypt(sealed, context) {
      const iv = sealed.slice(0, IV_SIZE);
      const body = sealed.slice(IV_SIZE);
      return new Uint8Array(
        await subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad(context) }, key, body),
      );
    },
  };
}

/** A device certificate and the (then pinned) identity key it verified under. */
export interface RememberedDevice {
  readonly certificate: Uint8Array;
  readonly identityKey: Uint8Array;
}

export interface KeyChangeNotice {
  readonly contactUserId: string;
  readonly seenAt: number;
  /** Hex of the first bytes of the old and new identity keys (public; for the notice text). */
  readonly oldKey: string;
  readonly newKey: string;
}

/** The server's contacts store as this browser last saw it: its version and verified map. */
export interface SyncedVerified {
  readonly version: number;
  readonly verified: Readonly<Record<string, string>>;
}

/** The per-user state this module keeps (an in-memory twin exists for tests). */
export interface E2eeStore {
  readonly userId: string;
  cipher(): Promise<LocalCipher>;
  /** Reserve the next counter of (this device, conversation): 1, 2, 3 … never twice. */
  nextCounter(deviceId: string, conversationId: string): Promise<number>;
  loadVerified(): Promise<Record<string, string>>;
  saveVerified(verified: Readonly<Record<string, string>>): Promise<void>;
  /** The server's copy of the verified set at the last sync (null before the first). */
  loadVerifiedBase(): Promise<SyncedVerified | null>;
  saveVerifiedBase(base: SyncedVerified): Promise<void>;
  loadNotices(): Promise<KeyChangeNotice[]>;
  addNotice(notice: KeyChangeNotice): Promise<void>;
  rememberDevice(userId: string, deviceId: string, device: RememberedDevice): Promise<void>;
  recallDevice(userId: string, deviceId: string): Promise<RememberedDevice | null>;
}

function counterKey(userId: string, deviceId: string, conversationId: string): string {
  return `${userId}\u0000${deviceId}\u0000${conversationId}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serialise read-modify-write steps on one key (two sends at once must not share a counter). */
function chain(): <T>(body: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(body: () => Promise<T>) => {
    const run = tail.then(body, body);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** Runs `fn` under a browser-wide Web Lock when the browser has them (tabs share IndexedDB). */
function acrossTabs<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  if (typeof locks?.request !== "function") return fn();
  return locks.request(name, fn);
}

export function indexedDbE2eeStore(
  userId: string,
  factory: () => IDBFactory = () => indexedDB,
  subtle: SubtleCrypto = crypto.subtle,
): E2eeStore {
  const db = lazyKeyValueDb(DB_NAME, STORES, factory);
  const serial = chain();
  let cipher: Promise<LocalCipher> | null = null;

  async function localKey(d: KeyValueDb): Promise<CryptoKey> {
    const stored = await d.get<CryptoKey>(LOCAL_KEYS, userId);
    if (stored !== undefined) return stored;
    const key = await subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    await d.put(LOCAL_KEYS, userId, key);
    return key;
  }

  return {
    userId,
    cipher() {
      cipher ??= serial(async () => webCryptoCipher(await localKey(await db()), subtle)).catch(
        (error: unknown) => {
          cipher = null;
          throw error;
        },
      );
      return cipher;
    },
    nextCounter(deviceId, conversationId) {
      const key = counterKey(userId, deviceId, conversationId);
      // One tab at a time (a Web Lock), one step at a time in this tab: never the same counter twice.
      return serial(() =>
        acrossTabs(`hushroom-counter-${key}`, async () => {
          const d = await db();
          const last = (await d.get<number>(COUNTERS, key)) ?? 0;
          const next = last + 1;
          await d.put(COUNTERS, key, next);
          return next;
        }),
      );
    },
    async loadVerified() {
      const d = await db();
      const sealed = await d.get<Uint8Array>(VERIFIED, userId);
      if (sealed === undefined) return {};
      try {
        const plain = await (await this.cipher()).decrypt(new Uint8Array(sealed), `verified\u0000${userId}`);
        const parsed: unknown = JSON.parse(decoder.decode(plain));
        return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, string>) : {};
      } catch {
        return {};
      }
    },
    async saveVerified(verified) {
      const sealed = await (await this.cipher()).encrypt(
        encoder.encode(JSON.stringify(verified)),
        `verified\u0000${userId}`,
      );
      await (await db()).put(VERIFIED, userId, sealed);
    },
    async loadVerifiedBase() {
      const sealed = await (await db()).get<Uint8Array>(VERIFIED, `${userId}\u0000synced`);
      if (sealed === undefined) return null;
      try {
        const plain = await (await this.cipher()).decrypt(new Uint8Array(sealed), `verified-synced\u0000${userId}`);
        const parsed: unknown = JSON.parse(decoder.decode(plain));
        if (typeof parsed !== "object" || parsed === null) return null;
        const { version, verified } = parsed as Record<string, unknown>;
        if (typeof version !== "number" || typeof verified !== "object" || verified === null) return null;
        return { version, verified: verified as Record<string, string> };
      } catch {
        return null;
      }
    },
    async saveVerifiedBase(base) {
      const sealed = await (await this.cipher()).encrypt(
        encoder.encode(JSON.stringify({ version: base.version, verified: base.verified })),
        `verified-synced\u0000${userId}`,
      );
      await (await db()).put(VERIFIED, `${userId}\u0000synced`, sealed);
    },
    async loadNotices() {
      return (await (await db()).get<KeyChangeNotice[]>(NOTICES, userId)) ?? [];
    },
    addNotice(notice) {
      return serial(async () => {
        const d = await db();
        const list = (await d.get<KeyChangeNotice[]>(NOTICES, userId)) ?? [];
        if (list.some((n) => n.contactUserId === notice.contactUserId && n.newKey === notice.newKey)) return;
        await d.put(NOTICES, userId, [...list, notice]);
      });
    },
    async rememberDevice(contact, deviceId, device) {
      await (await db()).put(DEVICES, `${userId}\u0000${contact}\u0000${deviceId}`, {
        certificate: device.certificate.slice(),
        identityKey: device.identityKey.slice(),
      });
    },
    async recallDevice(contact, deviceId) {
      const found = await (await db()).get<RememberedDevice>(DEVICES, `${userId}\u0000${contact}\u0000${deviceId}`);
      return found === undefined
        ? null
        : { certificate: new Uint8Array(found.certificate), identityKey: new Uint8Array(found.identityKey) };
    },
  };
}

/** In memory (tests, or a browser without IndexedDB). */
export function memoryE2eeStore(userId: string, subtle: SubtleCrypto = crypto.subtle): E2eeStore {
  const counters = new Map<string, number>();
  let verified: Record<string, string> = {};
  let base: SyncedVerified | null = null;
  const notices: KeyChangeNotice[] = [];
  const devices = new Map<string, RememberedDevice>();
  let cipher: Promise<LocalCipher> | null = null;
  return {
    userId,
    cipher() {
      cipher ??= subtle
        .generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"])
        .then((key) => webCryptoCipher(key, subtle));
      return cipher;
    },
    nextCounter(deviceId, conversationId) {
      const key = counterKey(userId, deviceId, conversationId);
      const next = (counters.get(key) ?? 0) + 1;
      counters.set(key, next);
      return Promise.resolve(next);
    },
    loadVerified: () => Promise.resolve({ ...verified }),
    saveVerified: (v) => {
      verified = { ...v };
      return Promise.resolve();
    },
    loadVerifiedBase: () => Promise.resolve(base === null ? null : { ...base, verified: { ...base.verified } }),
    saveVerifiedBase: (b) => {
      base = { version: b.version, verified: { ...b.verified } };
      return Promise.resolve();
    },
    loadNotices: () => Promise.resolve([...notices]),
    addNotice: (n) => {
      if (!notices.some((x) => x.contactUserId === n.contactUserId && x.newKey === n.newKey)) notices.push(n);
      return Promise.resolve();
    },
    rememberDevice: (contact, deviceId, device) => {
      devices.set(`${contact}\u0000${deviceId}`, device);
      return Promise.resolve();
    },
    recallDevice: (contact, deviceId) => Promise.resolve(devices.get(`${contact}\u0000${deviceId}`) ?? null),
  };
}

const stores = new Map<string, E2eeStore>();

/** This browser's store for `userId` (opened on first use; in memory without IndexedDB). */
export function browserE2eeStore(userId: string): E2eeStore {
  let store = stores.get(userId);
  if (store === undefined) {
    store = typeof indexedDB === "undefined" ? memoryE2eeStore(userId) : indexedDbE2eeStore(userId);
    stores.set(userId, store);
  }
  return store;
}
