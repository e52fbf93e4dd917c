/**
 * Which contacts this user verified (compared safety numbers), which identity-key changes were
 * seen, and which are blocking: a change of a *verified* contact's key is never accepted
 * silently — sending to them stops until the user accepts the new key. A change of an
 * unverified contact's key is accepted (re-pinned) at once and shown as a notice.
 *
 * The verified set follows the user to every browser: it lives in the encrypted per-user store
 * on the server (`/api/v1/keys/stores/contacts`), sealed under a key derived from the identity
 * seed of the unlocked vault (docs/crypto.md §6.6). IndexedDB keeps a cache of it (encrypted
 * under the device-local key, `E2eeStore`) and the server's copy as of the last sync.
 *
 * Sync: when the keys are unlocked, the store is fetched, opened and merged with the cache
 * three ways against the last synced copy — what this browser changed since wins, the rest
 * follows the server (so a verification removed elsewhere goes here too); the first sync of a
 * browser is a union in which local entries win. Every local change writes the full map back
 * by compare-and-swap; on `store_conflict` it fetches, merges and retries (a few times). A blob
 * that does not open (the account was reset: another identity seed) is ignored and overwritten
 * by the next write.
 *
 * On a fresh browser nothing is pinned yet: `pinsFor` makes a verified contact's verified key
 * their pin before the first directory fetch, so a contact who changed keys since shows up as a
 * key change — and blocks sending — here too.
 */

import { ApiError } from "@/api/errors";
import type { UserStore, UserStorePut } from "@/api/types";
import { openContactsStore, sealContactsStore } from "@/crypto/contacts-store";
import { b64urlDecode, b64urlEncode, bytesEqual, fromHex, toHex } from "@/crypto/encoding";
import { CryptoError } from "@/crypto/errors";
import type { RandomSource } from "@/crypto/random";
import {
  acceptKeyChange,
  type IdentityKeyChanged,
  type KeyChangeEvent,
  keyChanges,
} from "@/session/contact-keys";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import type { KeyPinStore } from "@/storage/key-pins-store";
import type { E2eeStore, KeyChangeNotice, SyncedVerified } from "@/storage/local-crypto-store";

export interface TrustSnapshot {
  /** contact user id → hex of the identity key they were verified with */
  readonly verified: Readonly<Record<string, string>>;
  readonly notices: readonly KeyChangeNotice[];
  /** Verified contacts whose key changed and was not accepted yet (sending to them is blocked). */
  readonly blocked: Readonly<Record<string, KeyChangeEvent>>;
}

type VerifiedMap = Readonly<Record<string, string>>;

/** What the sync needs of the API client (`ApiClient.contactsStore`, `putContactsStore`). */
export interface ContactsStoreApi {
  contactsStore(): Promise<UserStore>;
  putContactsStore(expectedVersion: number, blob: string): Promise<UserStorePut>;
}

export interface TrustSync {
  readonly api: ContactsStoreApi;
  /** This user's unlocked keys, or null while they are locked. */
  readonly keys: () => UnlockedKeys | null;
  /** Tells when the keys may have changed (the keyring's `subscribe`). */
  readonly subscribe: (listener: () => void) => () => void;
  readonly random: RandomSource;
  /** How long a directory fetch waits for the first sync before going on without it. */
  readonly readyTimeoutMs?: number;
}

const EMPTY: TrustSnapshot = { verified: {}, notices: [], blocked: {} };
const MAX_WRITE_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;

function own(map: VerifiedMap, id: string): string | undefined {
  return Object.hasOwn(map, id) ? map[id] : undefined;
}

function sameMap(a: VerifiedMap, b: VerifiedMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => own(b, k) === own(a, k));
}

/** Three-way merge: where `local` differs from `base` this browser changed it and wins;
 * elsewhere the server's value (or its absence) is taken. */
export function mergeVerified(base: VerifiedMap, local: VerifiedMap, remote: VerifiedMap): Record<string, string> {
  const ids = new Set([...Object.keys(base), ...Object.keys(local), ...Object.keys(remote)]);
  const entries: [string, string][] = [];
  for (const id of ids) {
    const mine = own(local, id);
    const pick = mine === own(base, id) ? own(remote, id) : mine;
    if (pick !== undefined) entries.push([id, pick]);
  }
  return Object.fromEntries(entries);
}

function without(map: VerifiedMap, id: string): Record<string, string> {
  return Object.fromEntries(Object.entries(map).filter(([u]) => u !== id));
}

export class ContactTrust {
  readonly #store: E2eeStore;
  readonly #sync: TrustSync | null;
  #snapshot: TrustSnapshot = EMPTY;
  readonly #listeners = new Set<() => void>();
  readonly #loaded: Promise<void>;
  /** Called after a change was accepted (drop cached directories of that contact). */
  onAccepted: ((userId: string) => void) | null = null;

  // -- server sync --
  /** The server's copy at the last sync (the merge base), null before the first. */
  #base: SyncedVerified | null = null;
  /** The server's version as last seen; null: fetch before writing. */
  #remoteVersion: number | null = null;
  #queue: Promise<void> = Promise.resolve();
  #lastKeys: UnlockedKeys | null = null;
  readonly #ready: Promise<void>;
  #markReady: () => void = () => undefined;

  constructor(store: E2eeStore, sync: TrustSync | null = null) {
    this.#store = store;
    this.#sync = sync;
    this.#loaded = (async () => {
      const [verified, notices, base] = await Promise.all([
        store.loadVerified(),
        store.loadNotices(),
        store.loadVerifiedBase(),
      ]);
      this.#base = base;
      this.#set({ ...this.#snapshot, verified: { ...verified, ...this.#snapshot.verified }, notices: [...notices, ...this.#snapshot.notices] });
    })().catch(() => undefined);
    if (sync === null) {
      this.#ready = this.#loaded;
      return;
    }
    // The first sync, or the time limit: a directory fetch never waits longer than that.
    this.#ready = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, sync.readyTimeoutMs ?? READY_TIMEOUT_MS);
      this.#markReady = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    sync.subscribe(() => {
      this.#keysChanged();
    });
    this.#keysChanged();
  }

  get loaded(): Promise<void> {
    return this.#loaded;
  }

  /** The local cache is loaded and the first sync with the server is done (or gave up). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Resolves once every sync started so far has finished (tests). */
  settled(): Promise<void> {
    return this.#queue;
  }

  getSnapshot = (): TrustSnapshot => this.#snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };

  #set(next: TrustSnapshot): void {
    this.#snapshot = next;
    for (const listener of [...this.#listeners]) listener();
  }

  /** Verified with exactly this key (a verification of an older key does not count). */
  isVerified(userId: string, identityKey: Uint8Array): boolean {
    const hex = own(this.#snapshot.verified, userId.toLowerCase());
    return hex !== undefined && bytesEqual(fromHex(hex), identityKey);
  }

  async markVerified(userId: string, identityKey: Uint8Array): Promise<void> {
    await this.#loaded;
    await this.#changeVerified({ ...this.#snapshot.verified, [userId.toLowerCase()]: toHex(identityKey) });
  }

  async unmarkVerified(userId: string): Promise<void> {
    await this.#loaded;
    await this.#changeVerified(without(this.#snapshot.verified, userId.toLowerCase()));
  }

  async #changeVerified(verified: VerifiedMap): Promise<void> {
    this.#set({ ...this.#snapshot, verified });
    await this.#store.saveVerified(verified);
    this.#enqueue((keys) => this.#write(keys));
  }

  /**
   * A contact's directory showed another identity key (`fetchKeyDirectory` already reported it
   * to `keyChanges`). True when it was accepted (unverified contact), false when it blocks.
   */
  async handleKeyChange(error: IdentityKeyChanged): Promise<boolean> {
    await this.#loaded;
    const userId = error.userId.toLowerCase();
    await this.#notice(userId, error.pinned, error.presented);
    if (this.isVerified(userId, error.pinned)) {
      const event = keyChanges.pendingFor(userId);
      if (event !== undefined) {
        this.#set({ ...this.#snapshot, blocked: { ...this.#snapshot.blocked, [userId]: event } });
      }
      return false;
    }
    await acceptKeyChange(userId);
    return true;
  }

  /** The user compared the new safety number (or chose to trust it): re-pin, unblock. */
  async accept(userId: string): Promise<void> {
    const id = userId.toLowerCase();
    // The new key is not verified: the old verification was for the old key. Dropped before
    // the re-pin, so `pinsFor` never puts the old key back in between.
    const blocked = Object.fromEntries(Object.entries(this.#snapshot.blocked).filter(([u]) => u !== id));
    const verified = without(this.#snapshot.verified, id);
    this.#set({ ...this.#snapshot, blocked, verified });
    if (keyChanges.pendingFor(id) !== undefined) await acceptKeyChange(id);
    await this.#store.saveVerified(verified);
    this.#enqueue((keys) => this.#write(keys));
    this.onAccepted?.(id);
  }

  /**
   * `pins` as the directories should use them: once the first sync is done (or gave up), a
   * verified contact's pin is the key they were verified with. On a fresh browser that pins the
   * verified key before the first fetch, so a key changed since is a key change here too.
   */
  pinsFor(pins: KeyPinStore): KeyPinStore {
    return {
      ownerUserId: pins.ownerUserId,
      get: async (contactUserId) => {
        await this.#ready;
        const pin = await pins.get(contactUserId);
        const verified = own(this.#snapshot.verified, contactUserId.toLowerCase());
        if (verified === undefined || (pin !== null && toHex(pin.identityKey) === verified)) return pin;
        const identityKey = fromHex(verified);
        const firstSeenAt = pin?.firstSeenAt ?? Date.now();
        await pins.pin(contactUserId, identityKey, firstSeenAt);
        return { identityKey, firstSeenAt };
      },
      pin: (contactUserId, identityKey, seenAt) => pins.pin(contactUserId, identityKey, seenAt),
    };
  }

  async #notice(userId: string, pinned: Uint8Array, presented: Uint8Array): Promise<void> {
    const notice: KeyChangeNotice = {
      contactUserId: userId,
      seenAt: Date.now(),
      oldKey: toHex(pinned.subarray(0, 8)),
      newKey: toHex(presented.subarray(0, 8)),
    };
    if (this.#snapshot.notices.some((n) => n.contactUserId === userId && n.newKey === notice.newKey)) return;
    this.#set({ ...this.#snapshot, notices: [...this.#snapshot.notices, notice] });
    await this.#store.addNotice(notice).catch(() => undefined);
  }

  // -- server sync ------------------------------------------------------------------------------

  #keys(): UnlockedKeys | null {
    return this.#sync?.keys() ?? null;
  }

  /** New keys (unlocked, restored, re-keyed): fetch and merge. */
  #keysChanged(): void {
    const keys = this.#keys();
    if (keys === null || keys === this.#lastKeys) return;
    this.#lastKeys = keys;
    this.#enqueue(async (k) => {
      this.#remoteVersion = null;
      await this.#write(k);
    }, true);
  }

  /** Runs `step` after the ones before it, with the current keys (nothing while locked). */
  #enqueue(step: (keys: UnlockedKeys) => Promise<void>, first = false): void {
    if (this.#sync === null) return;
    this.#queue = this.#queue
      .then(async () => {
        await this.#loaded;
        const keys = this.#keys();
        if (keys !== null) await step(keys);
      })
      .catch(() => {
        // Offline or refused: the next change or unlock tries again; the cache stays.
      })
      .finally(() => {
        if (first) this.#markReady();
      });
  }

  /**
   * Fetch the server's store and merge it into the local set. True when the server lacks
   * something of the result (a write is due).
   */
  async #pull(api: ContactsStoreApi, keys: UnlockedKeys): Promise<boolean> {
    const stored = await api.contactsStore();
    const remote = this.#open(keys, stored);
    this.#remoteVersion = stored.version;
    const local = this.#snapshot.verified;
    if (remote === null) {
      // Nothing there, or nothing this identity can open (left as it is until the next write):
      // this browser's set is the truth.
      return Object.keys(local).length > 0;
    }
    // Merged against the copy of the last sync (the base), then that base moves to `remote`.
    const merged = mergeVerified(this.#base?.verified ?? {}, local, remote);
    const changed = !sameMap(merged, local);
    if (changed) this.#set({ ...this.#snapshot, verified: merged });
    await this.#setBase({ version: stored.version, verified: remote });
    if (changed) await this.#store.saveVerified(merged);
    return !sameMap(this.#snapshot.verified, remote);
  }

  #open(keys: UnlockedKeys, stored: UserStore): VerifiedMap | null {
    if (stored.blob === null || stored.version < 1) return null;
    // A server that went back to an older version than we synced is not followed.
    if (this.#base !== null && stored.version < this.#base.version) return null;
    try {
      return openContactsStore(keys.contents.identitySeed, keys.userId.toLowerCase(), stored.version, b64urlDecode(stored.blob));
    } catch (error) {
      if (error instanceof CryptoError) return null;
      throw error;
    }
  }

  async #setBase(base: SyncedVerified): Promise<void> {
    this.#base = base;
    await this.#store.saveVerifiedBase(base);
  }

  /** Write the full verified map by compare-and-swap, merging and retrying on a conflict. */
  async #write(keys: UnlockedKeys): Promise<void> {
    const sync = this.#sync;
    if (sync === null) return;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      if (this.#remoteVersion === null && !(await this.#pull(sync.api, keys))) return;
      const expected = this.#remoteVersion ?? 0;
      const verified = this.#snapshot.verified;
      if (this.#base !== null && this.#base.version === expected && sameMap(this.#base.verified, verified)) return;
      const blob = sealContactsStore(
        keys.contents.identitySeed,
        keys.userId.toLowerCase(),
        expected + 1,
        verified,
        sync.random,
      );
      try {
        const { version } = await sync.api.putContactsStore(expected, b64urlEncode(blob));
        this.#remoteVersion = version;
        await this.#setBase({ version, verified });
        return;
      } catch (error) {
        if (!(error instanceof ApiError && error.code === "store_conflict")) throw error;
        this.#remoteVersion = null;
      }
    }
  }
}
