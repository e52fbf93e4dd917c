/**
 * Conversation keys of private conversations (docs/crypto.md §8.1–§8.3, decision 0005): the
 * key-set manager that finds, verifies, opens and — when there is no usable current one —
 * creates and uploads the key set of a generation.
 *
 * Trust comes only from pinned identity keys: a creator's device certificate and every member's
 * PUK certificate are verified under the identity key this browser pinned for that user
 * (`ContactDirectories`, on top of `fetchKeyDirectory`). The expected members of a key set come
 * from the DM pair or from the group's verified membership log (`MembershipSource`).
 */

import { ApiError } from "@/api/errors";
import {
  type ConversationKey,
  createKeySet,
  type KeySetStatement,
  openKeySet,
  verifyKeySet,
} from "@/crypto/conversation-key";
import { type DeviceCertificate, verifyDeviceCertificate } from "@/crypto/device";
import { IdentityPublicKey } from "@/crypto/identity";
import { decodeMembershipEntry, verifyMembershipLog } from "@/crypto/membership";
import { b64urlDecode, b64urlEncode, bytesEqual } from "@/crypto/encoding";
import { CryptoError, DecryptionFailed } from "@/crypto/errors";
import { PukKeyPair, type PukCertificate } from "@/crypto/puk";
import type { RandomSource } from "@/crypto/random";
import {
  directoryDevice,
  fetchKeyDirectory,
  IdentityKeyChanged,
  type KeyDirectory,
  type KeyDirectoryApi,
  latestPuk,
  verifyKeyDirectory,
} from "@/session/contact-keys";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import type { KeyPinStore } from "@/storage/key-pins-store";

// --- the wire (decision 0005) --------------------------------------------------------------------

export interface KeySetOut {
  readonly generation: number;
  /** b64url of the signed statement. */
  readonly statement: string;
  /** b64url of the caller's `key-set-box`. */
  readonly box: string;
  readonly creator_user_id: string;
  readonly creator_device_id: string;
  /** The group's membership-log head when the key set was uploaded (null for DMs). */
  readonly membership_index: number | null;
  readonly created_at: number;
}

export interface KeySetListOut {
  readonly key_sets: readonly KeySetOut[];
  readonly current_generation: number;
  readonly stale: boolean;
}

export interface KeySetApi extends KeyDirectoryApi {
  keySets(conversationId: string, after?: number, limit?: number): Promise<KeySetListOut>;
  keySet(conversationId: string, generation: number): Promise<KeySetOut>;
  uploadKeySet(conversationId: string, generation: number, upload: string): Promise<{ generation: number }>;
}

// --- errors --------------------------------------------------------------------------------------

/** This browser holds no key for the generation (no box for us, or a PUK we do not have). */
export class KeysUnavailable extends Error {
  override readonly name = "KeysUnavailable";
}

/** A sender's (or key-set creator's) device could not be verified under the pinned identity key. */
export class SenderUnverified extends Error {
  override readonly name = "SenderUnverified";
}

/**
 * Sending is blocked: a contact of the conversation changed identity key and this user must
 * accept the new key first (a verified contact, whose change is never accepted silently).
 */
export class KeyChangeBlocked extends Error {
  override readonly name = "KeyChangeBlocked";
  constructor(readonly userId: string) {
    super(`the identity key of ${userId} changed; accept the new key before sending`);
  }
}

// --- who should be a member ----------------------------------------------------------------------

export interface MembershipSource {
  /** The members a key set must have: the DM pair, or the group's verified state at `index`. */
  expectedMembers(conversationId: string, membershipIndex: number | null): Promise<ReadonlySet<string>>;
  /** The members a new key set is made for. */
  currentMembers(conversationId: string): Promise<ReadonlySet<string>>;
}

// --- contacts' keys ------------------------------------------------------------------------------

/**
 * What to do when a contact's identity key changed: `true` when the change was accepted (the
 * contact was not verified: a notice is shown and the new key pinned), `false` to block.
 */
export type KeyChangeHandler = (error: IdentityKeyChanged) => Promise<boolean>;

/** Where verified device certificates are remembered (`E2eeStore` has this shape). */
export interface DeviceMemory {
  rememberDevice(
    userId: string,
    deviceId: string,
    device: { readonly certificate: Uint8Array; readonly identityKey: Uint8Array },
  ): Promise<void>;
  recallDevice(
    userId: string,
    deviceId: string,
  ): Promise<{ readonly certificate: Uint8Array; readonly identityKey: Uint8Array } | null>;
}

const DIRECTORY_TTL_MS = 30_000;

interface CachedDirectory {
  readonly at: number;
  readonly directory: Promise<KeyDirectory>;
}

/**
 * Verified key directories of contacts (and of the signed-in user, checked against the unlocked
 * identity key), cached briefly. Device certificates once verified under a pinned key are kept
 * for the page's life, so history signed by a device that was revoked (or by an identity that
 * was later replaced and accepted) keeps verifying.
 */
export class ContactDirectories {
  readonly #api: KeyDirectoryApi;
  readonly #pins: KeyPinStore;
  readonly #keys: () => UnlockedKeys | null;
  readonly #onKeyChange: KeyChangeHandler;
  readonly #now: () => number;
  readonly #cache = new Map<string, CachedDirectory>();
  readonly #devices = new Map<string, DeviceCertificate>();
  readonly #memory: DeviceMemory | null;

  constructor(
    api: KeyDirectoryApi,
    pins: KeyPinStore,
    keys: () => UnlockedKeys | null,
    onKeyChange: KeyChangeHandler,
    options: { readonly now?: () => number; readonly memory?: DeviceMemory } = {},
  ) {
    this.#api = api;
    this.#pins = pins;
    this.#keys = keys;
    this.#onKeyChange = onKeyChange;
    this.#now = options.now ?? Date.now;
    this.#memory = options.memory ?? null;
  }

  /** `userId`'s verified directory; `fresh` skips the cache. Throws `KeyChangeBlocked`. */
  directory(userId: string, fresh = false): Promise<KeyDirectory> {
    const id = userId.toLowerCase();
    const cached = this.#cache.get(id);
    if (!fresh && cached !== undefined && this.#now() - cached.at < DIRECTORY_TTL_MS) {
      return cached.directory;
    }
    const directory = this.#load(id);
    this.#cache.set(id, { at: this.#now(), directory });
    directory.then(
      (d) => {
        for (const device of d.devices) {
          const key = `${id}\u0000${device.deviceId}`;
          if (this.#devices.has(key)) continue;
          this.#devices.set(key, device.certificate);
          void this.#memory
            ?.rememberDevice(id, device.deviceId, { certificate: device.certificate.encoded, identityKey: d.identityKey.key })
            .catch(() => undefined);
        }
      },
      () => {
        if (this.#cache.get(id)?.directory === directory) this.#cache.delete(id);
      },
    );
    return directory;
  }

  async #load(userId: string): Promise<KeyDirectory> {
    const keys = this.#keys();
    if (keys !== null && userId === keys.userId.toLowerCase()) {
      // Our own keys: checked against the identity key we hold, not a pin.
      const own = verifyKeyDirectory(await this.#api.keyDirectory(userId), userId);
      if (!bytesEqual(own.identityKey.key, keys.identity.publicKey)) {
        throw new SenderUnverified("the server shows another identity key for this account");
      }
      return own;
    }
    try {
      return await fetchKeyDirectory(this.#api, userId, this.#pins);
    } catch (error) {
      if (!(error instanceof IdentityKeyChanged)) throw error;
      if (await this.#onKeyChange(error)) return error.directory;
      throw new KeyChangeBlocked(userId);
    }
  }

  /** Forget the cached directory of `userId` (a key change was accepted, a device is unknown). */
  forget(userId: string): void {
    this.#cache.delete(userId.toLowerCase());
  }

  /** The certificate of `userId`'s device `deviceId`, verified under the pinned identity key. */
  async deviceCertificate(userId: string, deviceId: string): Promise<DeviceCertificate> {
    const id = userId.toLowerCase();
    const key = `${id}\u0000${deviceId}`;
    const known = this.#devices.get(key);
    if (known !== undefined) return known;
    let directory: KeyDirectory | null = null;
    let failure: unknown = null;
    try {
      directory = await this.directory(id);
      if (directoryDevice(directory, deviceId) === undefined) directory = await this.directory(id, true);
    } catch (error) {
      // A key change not accepted yet (KeyChangeBlocked): the new identity's devices are not
      // verifiable until it is; the old identity's remembered devices still are.
      failure = error;
    }
    const device = directory === null ? undefined : directoryDevice(directory, deviceId);
    if (device !== undefined) {
      this.#devices.set(key, device.certificate);
      return device.certificate;
    }
    const remembered = await this.#recall(id, deviceId);
    if (remembered !== null) return remembered;
    if (failure instanceof SenderUnverified) throw failure;
    throw new SenderUnverified(failure instanceof Error ? failure.message : "unknown device");
  }

  /** A certificate verified earlier under the identity key pinned then (history after a reset). */
  async #recall(userId: string, deviceId: string): Promise<DeviceCertificate | null> {
    const found = await this.#memory?.recallDevice(userId, deviceId).catch(() => null);
    if (found == null) return null;
    try {
      const certificate = verifyDeviceCertificate(
        found.certificate,
        new IdentityPublicKey(found.identityKey),
        userId,
        deviceId,
      );
      this.#devices.set(`${userId}\u0000${deviceId}`, certificate);
      return certificate;
    } catch {
      return null;
    }
  }
}

// --- key sets ------------------------------------------------------------------------------------

export interface OpenedKeySet {
  readonly key: ConversationKey;
  readonly statement: KeySetStatement;
}

const MAX_CREATE_ATTEMPTS = 5;

/** Key directories fetched at once when making a key set (100 members: 13 round trips, not 100). */
export const DIRECTORY_CONCURRENCY = 8;

/**
 * `work` on every item, at most `limit` at a time; the results in the items' order. The first
 * failure rejects (and no further item is started); work already running finishes unobserved.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}

/** Main-thread time building a key set may take before it lets the page run (ms). */
const KEY_SET_SLICE_MS = 10;

/** Back to the event loop: `scheduler.yield` where there is one (it keeps its place), else a task. */
function yieldToMain(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof scheduler?.yield === "function") return scheduler.yield();
  return new Promise((resolve) => {
    setTimeout(resolve, 0);
  });
}

/**
 * `createKeySet`'s pause: once `sliceMs` of work has run, let the page paint and handle input
 * (sealing to 100 members is about a second of X-Wing). Not in a hidden tab: no one waits on its
 * frames, and its timers are throttled.
 */
export function timeSlicer(sliceMs = KEY_SET_SLICE_MS): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < sliceMs) return;
    if (typeof document === "undefined" || document.visibilityState !== "hidden") await yieldToMain();
    since = performance.now();
  };
}

/**
 * User Timing for the key-set benchmark (web/bench/group-key-set.bench.ts), `detail.members`
 * the member count: `hushroom:key-set` is building the set (a fresh key, HPKE X-Wing seal to
 * every member's PUK, the device's signature), `hushroom:key-set-create` the whole creation
 * (members, their key directories, building, upload, check). Nothing waits on it.
 */
function measureKeySet(name: string, start: number, members: number): void {
  try {
    performance.measure(name, { start, detail: { members } });
  } catch {
    // No User Timing here: nothing to measure.
  }
}

export class ConversationKeys {
  readonly #api: KeySetApi;
  readonly #keys: () => UnlockedKeys | null;
  readonly #directories: ContactDirectories;
  readonly #membership: MembershipSource;
  readonly #random: RandomSource;
  readonly #opened = new Map<string, Promise<OpenedKeySet>>();
  #puks: { readonly of: UnlockedKeys; readonly pairs: Promise<Map<number, PukKeyPair>> } | null = null;

  constructor(
    api: KeySetApi,
    keys: () => UnlockedKeys | null,
    directories: ContactDirectories,
    membership: MembershipSource,
    random: RandomSource,
  ) {
    this.#api = api;
    this.#keys = keys;
    this.#directories = directories;
    this.#membership = membership;
    this.#random = random;
  }

  #unlocked(): UnlockedKeys {
    const keys = this.#keys();
    if (keys === null) throw new KeysUnavailable("the account keys are locked");
    return keys;
  }

  /** Every PUK generation this user holds, as key pairs (derived once per unlocked keyring). */
  #pukPairs(): Promise<Map<number, PukKeyPair>> {
    const keys = this.#unlocked();
    if (this.#puks?.of !== keys) {
      const pairs = (async () => {
        const out = new Map<number, PukKeyPair>();
        for (const [generation, seed] of keys.contents.pukSeeds) {
          out.set(generation, await PukKeyPair.create(generation, seed));
        }
        return out;
      })();
      this.#puks = { of: keys, pairs };
    }
    return this.#puks.pairs;
  }

  /** The verified, opened key set of `generation` (for receiving). */
  keyFor(conversationId: string, generation: number): Promise<OpenedKeySet> {
    const id = `${conversationId}\u0000${String(generation)}`;
    let opened = this.#opened.get(id);
    if (opened === undefined) {
      opened = this.#fetchAndOpen(conversationId, generation);
      this.#opened.set(id, opened);
      opened.catch(() => {
        // A failure is not remembered: keys may arrive later (another device, a retry).
        if (this.#opened.get(id) === opened) this.#opened.delete(id);
      });
    }
    return opened;
  }

  async #fetchAndOpen(conversationId: string, generation: number): Promise<OpenedKeySet> {
    let item: KeySetOut;
    try {
      item = await this.#api.keySet(conversationId, generation);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
        throw new KeysUnavailable("no key set for this browser at this generation");
      }
      throw error;
    }
    return this.#verifyAndOpen(conversationId, item);
  }

  async #verifyAndOpen(conversationId: string, item: KeySetOut): Promise<OpenedKeySet> {
    const keys = this.#unlocked();
    const creator = await this.#directories.deviceCertificate(item.creator_user_id, item.creator_device_id);
    const expected = await this.#membership.expectedMembers(conversationId, item.membership_index);
    const statement = verifyKeySet(
      b64urlDecode(item.statement),
      creator,
      conversationId,
      item.generation,
      expected,
    );
    const member = statement.member(keys.userId);
    const puks = await this.#pukPairs();
    if (member !== undefined && !puks.has(member.pukGeneration)) {
      throw new KeysUnavailable("sealed to a PUK generation this browser does not hold");
    }
    try {
      const key = await openKeySet(statement, b64urlDecode(item.box), keys.userId, puks);
      return { key, statement };
    } catch (error) {
      if (error instanceof DecryptionFailed && member !== undefined) {
        // Sealed before this account's PUK of that generation existed (an account reset made
        // new keys with the same generation number): keys this browser never had.
        const own = await this.#directories.directory(keys.userId);
        const certificate = own.puks.find((p) => p.generation === member.pukGeneration);
        if (certificate !== undefined && statement.createdAt < certificate.createdAt) {
          throw new KeysUnavailable("sealed to an earlier key of this account");
        }
      }
      throw error;
    }
  }

  /**
   * The key to seal a new message with: the current generation when it is usable (not stale,
   * a box for us), otherwise a new generation for the current members, uploaded here. Two
   * browsers racing: the loser gets `key_generation_taken` and builds on the winner.
   */
  async forSending(conversationId: string): Promise<OpenedKeySet> {
    for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
      const list = await this.#api.keySets(conversationId, 0, 1);
      const current = list.current_generation;
      if (current > 0 && !list.stale) {
        try {
          return await this.keyFor(conversationId, current);
        } catch (error) {
          // No box for us (our PUK rotated), or a key set we can't trust (its creator can't be
          // verified, it does not verify): seal nothing with it, make the next generation.
          if (!(error instanceof KeysUnavailable || error instanceof SenderUnverified || error instanceof CryptoError)) {
            throw error;
          }
        }
      }
      const created = await this.#create(conversationId, current + 1);
      if (created !== null) return created;
    }
    throw new Error("could not agree on a conversation key generation");
  }

  /** Create and upload `generation`; null when another upload took it first. */
  async #create(conversationId: string, generation: number): Promise<OpenedKeySet | null> {
    const started = performance.now();
    const keys = this.#unlocked();
    const me = keys.userId.toLowerCase();
    const members = await this.#membership.currentMembers(conversationId);
    // A few at a time, each verified as before. Throws KeyChangeBlocked for a verified contact
    // whose key changed.
    const certificates: PukCertificate[] = await mapConcurrently(
      [...members],
      DIRECTORY_CONCURRENCY,
      async (userId) => latestPuk(await this.#directories.directory(userId, true)),
    );
    const own = await this.#directories.directory(me);
    const device = directoryDevice(own, keys.deviceId);
    if (device === undefined || device.revokedAt !== null) {
      throw new SenderUnverified("this browser's device is not certified");
    }
    const building = performance.now();
    const [key, upload] = await createKeySet(
      conversationId,
      generation,
      keys.device,
      device.certificate,
      certificates,
      Date.now(),
      this.#random,
      { pause: timeSlicer() },
    );
    measureKeySet("hushroom:key-set", building, certificates.length);
    try {
      await this.#api.uploadKeySet(conversationId, generation, b64urlEncode(upload.encode()));
    } catch (error) {
      // Lost a race, or a member's PUK rotated meanwhile (`key_set_outdated`): look again.
      if (error instanceof ApiError && (error.code === "key_generation_taken" || error.code === "key_set_outdated")) {
        return null;
      }
      throw error;
    }
    const statement = verifyKeySet(upload.statement, device.certificate, conversationId, generation, members);
    const opened: OpenedKeySet = { key, statement };
    this.#opened.set(`${conversationId}\u0000${String(generation)}`, Promise.resolve(opened));
    measureKeySet("hushroom:key-set-create", started, certificates.length);
    return opened;
  }
}

// --- the default membership source ---------------------------------------------------------------

export interface MembershipApi {
  conversation(id: string): Promise<{ readonly kind: "room" | "dm" | "group" }>;
  members(id: string): Promise<{ readonly members: readonly { readonly user_id: string }[] }>;
}

/**
 * The verified state of a group's membership log (docs/crypto.md §8.6), supplied by the group
 * module: the member user ids at log index `index` (the head when null).
 */
export type GroupMembers = (conversationId: string, index: number | null) => Promise<ReadonlySet<string>>;

/**
 * DMs: the pair, as the server listed it when the DM was first seen (a DM's members never
 * change). Groups: `groupMembers` (the verified log) when given; without it, the server's member
 * list — weaker (the server could add a ghost), used until the log verifier is wired in.
 */
export function serverMembership(api: MembershipApi, groupMembers?: GroupMembers): MembershipSource {
  const kinds = new Map<string, Promise<"room" | "dm" | "group">>();
  const pairs = new Map<string, Promise<ReadonlySet<string>>>();
  const kindOf = (id: string) => {
    let kind = kinds.get(id);
    if (kind === undefined) {
      kind = api.conversation(id).then((c) => c.kind);
      kinds.set(id, kind);
      kind.catch(() => kinds.delete(id));
    }
    return kind;
  };
  const listed = async (id: string) =>
    new Set((await api.members(id)).members.map((m) => m.user_id.toLowerCase())) as ReadonlySet<string>;
  const members = async (id: string, index: number | null, fresh: boolean) => {
    const kind = await kindOf(id);
    if (kind === "dm") {
      let pair = pairs.get(id);
      if (pair === undefined) {
        pair = listed(id);
        pairs.set(id, pair);
        pair.catch(() => pairs.delete(id));
      }
      return pair;
    }
    if (kind === "group" && groupMembers !== undefined) return groupMembers(id, fresh ? null : index);
    return listed(id);
  };
  return {
    expectedMembers: (id, index) => members(id, index, false),
    currentMembers: (id) => members(id, null, true),
  };
}

// --- private groups: members from the verified membership log ------------------------------------

export interface MembershipLogApi {
  membershipLog(
    conversationId: string,
    after?: number,
  ): Promise<{ readonly entries: readonly { readonly index: number; readonly entry: string }[]; readonly head_index: number }>;
}

/** The group's log does not verify (bad signature, broken chain, a shortened log). */
export class GroupLogInvalid extends Error {
  override readonly name = "GroupLogInvalid";
}

/**
 * `GroupMembers` from the group's signed, hash-chained log (docs/crypto.md §8.6): the whole log
 * is fetched and replayed with `verifyMembershipLog`, each signer's device certificate verified
 * under that signer's pinned identity key. The states are cached until a later index is asked
 * for (or the head, when creating a key set). A log shorter than one verified before throws.
 */
export function verifiedGroupMembers(
  api: MembershipLogApi,
  directories: ContactDirectories,
  heads: { get(conversationId: string): number | null; set(conversationId: string, index: number): void },
): GroupMembers {
  const cached = new Map<string, Promise<readonly ReadonlySet<string>[]>>();
  const load = async (conversationId: string): Promise<readonly ReadonlySet<string>[]> => {
    const log = await api.membershipLog(conversationId);
    const entries = [...log.entries].sort((a, b) => a.index - b.index);
    if (entries.some((e, i) => e.index !== i) || log.head_index !== entries.length - 1) {
      throw new GroupLogInvalid("membership entries are not numbered 0..head");
    }
    const known = heads.get(conversationId);
    if (known !== null && log.head_index < known) throw new GroupLogInvalid("the membership log got shorter");
    const raw = entries.map((e) => b64urlDecode(e.entry));
    const signers = new Map<string, { readonly userId: string; readonly deviceId: string }>();
    for (const entry of raw) {
      const decoded = decodeMembershipEntry(entry);
      const id = `${decoded.signerUserId.toLowerCase()}\u0000${decoded.signerDeviceId}`;
      if (!signers.has(id)) signers.set(id, { userId: decoded.signerUserId, deviceId: decoded.signerDeviceId });
    }
    // Each signer's device verified under their pinned key, a few signers at a time.
    const certificates = new Map<string, DeviceCertificate>(
      await mapConcurrently([...signers], DIRECTORY_CONCURRENCY, async ([id, signer]) => {
        const certificate = await directories.deviceCertificate(signer.userId, signer.deviceId);
        return [id, certificate] as const;
      }),
    );
    const states = verifyMembershipLog(
      conversationId,
      raw,
      (userId, deviceId) => certificates.get(`${userId.toLowerCase()}\u0000${deviceId}`) ?? null,
    );
    heads.set(conversationId, log.head_index);
    return states.map((s) => new Set([...s.members.keys()].map((u) => u.toLowerCase())));
  };
  return async (conversationId, index) => {
    let states = cached.get(conversationId);
    const need = async () => {
      const fresh = load(conversationId);
      cached.set(conversationId, fresh);
      fresh.catch(() => cached.delete(conversationId));
      return fresh;
    };
    if (states === undefined || index === null) states = need();
    let list = await states;
    if (index !== null && index >= list.length) list = await need();
    const at = index === null ? list.at(-1) : list[index];
    if (at === undefined) throw new GroupLogInvalid("no membership state at that index");
    return at;
  };
}
