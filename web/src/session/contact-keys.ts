/**
 * Contacts' published keys, verified and pinned (issue 11; mirror of the SDK's
 * `hushroom.client.keys`: `verify_key_directory`, `key_directory`, `IdentityKeyChanged`).
 *
 * `GET /api/v1/users/{id}/keys` lists a user's identity key, every PUK certificate and every
 * device certificate (with revocation state). Every certificate must verify under that identity
 * key for that user (and device): one bad certificate makes the whole directory untrustworthy
 * (`KeyDirectoryInvalid`). The identity key is pinned the first time it is seen (trust on first
 * use); a different key later is never silently accepted: `fetchKeyDirectory` throws
 * `IdentityKeyChanged` and `keyChanges` tells its subscribers (the key-change UI), until the user
 * compares safety numbers and `acceptKeyChange` re-pins the key they were shown.
 */

import { verifyDeviceCertificate, type DeviceCertificate } from "@/crypto/device";
import { b64urlDecode, bytesEqual, toHex } from "@/crypto/encoding";
import { CryptoError } from "@/crypto/errors";
import { IdentityPublicKey } from "@/crypto/identity";
import { verifyPukCertificate, type PukCertificate } from "@/crypto/puk";
import type { KeyPinStore } from "@/storage/key-pins-store";

// --- the wire ----------------------------------------------------------------------------------

/** `GET /api/v1/users/{id}/keys` (docs/protocol.md "Keys and devices"); binary is base64url. */
export interface KeyDirectoryOut {
  readonly user_id: string;
  readonly identity_key: string;
  readonly keys_version: number;
  readonly puks: readonly {
    readonly generation: number;
    readonly certificate: string;
    readonly created_at: number;
  }[];
  readonly devices: readonly {
    readonly device_id: string;
    readonly certificate: string;
    readonly created_at: number;
    readonly revoked_at: number | null;
  }[];
}

/** What `fetchKeyDirectory` needs of the API client (`ApiClient.keyDirectory`). */
export interface KeyDirectoryApi {
  keyDirectory(userId: string): Promise<KeyDirectoryOut>;
}

// --- the verified directory --------------------------------------------------------------------

export interface DirectoryDevice {
  readonly deviceId: string;
  readonly publicKey: Uint8Array;
  readonly certificate: DeviceCertificate;
  readonly createdAt: number;
  /** Null while the device is active. */
  readonly revokedAt: number | null;
}

/** A user's published keys; every PUK and device certificate is signed by `identityKey`. */
export interface KeyDirectory {
  readonly userId: string;
  readonly identityKey: IdentityPublicKey;
  readonly keysVersion: number;
  /** Ascending generation; never empty. */
  readonly puks: readonly PukCertificate[];
  readonly devices: readonly DirectoryDevice[];
}

export function latestPuk(directory: KeyDirectory): PukCertificate {
  const last = directory.puks.at(-1);
  if (last === undefined) throw new Error("a verified directory has at least one PUK");
  return last;
}

export function activeDevices(directory: KeyDirectory): DirectoryDevice[] {
  return directory.devices.filter((d) => d.revokedAt === null);
}

export function directoryDevice(
  directory: KeyDirectory,
  deviceId: string,
): DirectoryDevice | undefined {
  return directory.devices.find((d) => d.deviceId === deviceId);
}

// --- errors ------------------------------------------------------------------------------------

/**
 * A directory that does not verify: a certificate not signed by the identity key, for another
 * user or device, a malformed key or answer. `cause` is the crypto core's typed error when there
 * is one.
 */
export class KeyDirectoryInvalid extends Error {
  readonly userId: string;

  constructor(userId: string, message: string, options?: { cause?: unknown }) {
    super(`key directory of ${userId}: ${message}`, options);
    this.name = "KeyDirectoryInvalid";
    this.userId = userId;
  }
}

/**
 * The server presented an identity key for `userId` other than the pinned one. Either the user
 * reset their account or the server is lying: show it and compare safety numbers before trusting
 * the new key (`acceptKeyChange`). `directory` is the new directory, verified under the new key,
 * and must not be used to encrypt until the change is accepted.
 */
export class IdentityKeyChanged extends Error {
  readonly userId: string;
  readonly pinned: Uint8Array;
  readonly presented: Uint8Array;
  readonly directory: KeyDirectory;

  constructor(userId: string, pinned: Uint8Array, presented: Uint8Array, directory: KeyDirectory) {
    super(
      `identity key of ${userId} changed: pinned ${toHex(pinned).slice(0, 16)}…, ` +
        `presented ${toHex(presented).slice(0, 16)}…`,
    );
    this.name = "IdentityKeyChanged";
    this.userId = userId;
    this.pinned = pinned.slice();
    this.presented = presented.slice();
    this.directory = directory;
  }
}

// --- verification ------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(data: Record<string, unknown>, name: string): unknown {
  if (!(name in data)) throw new TypeError(`missing ${name}`);
  return data[name];
}

function text(data: Record<string, unknown>, name: string): string {
  const value = field(data, name);
  if (typeof value !== "string") throw new TypeError(`${name} is not a string`);
  return value;
}

function integer(data: Record<string, unknown>, name: string): number {
  const value = field(data, name);
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(`${name} is not an integer`);
  }
  return value;
}

function list(data: Record<string, unknown>, name: string): Record<string, unknown>[] {
  const value = field(data, name);
  if (!Array.isArray(value) || !value.every(isRecord)) {
    throw new TypeError(`${name} is not a list of objects`);
  }
  return value;
}

/**
 * Parse a key directory answer and check every certificate against its identity key, for
 * `expectedUserId` (ids compare ignoring case: the server sends lower-case UUIDs). Throws
 * `KeyDirectoryInvalid` on any failure.
 */
export function verifyKeyDirectory(data: unknown, expectedUserId: string): KeyDirectory {
  const expected = expectedUserId.toLowerCase();
  try {
    if (!isRecord(data)) throw new TypeError("not an object");
    const userId = text(data, "user_id");
    if (userId.toLowerCase() !== expected) {
      throw new TypeError("directory of another user");
    }
    const identityKey = new IdentityPublicKey(b64urlDecode(text(data, "identity_key")));
    const keysVersion = integer(data, "keys_version");

    const puks: PukCertificate[] = [];
    for (const entry of list(data, "puks")) {
      const cert = verifyPukCertificate(b64urlDecode(text(entry, "certificate")), identityKey, userId);
      if (cert.generation !== integer(entry, "generation")) {
        throw new TypeError("listed PUK generation differs from its certificate");
      }
      puks.push(cert);
    }
    const generations = new Set(puks.map((p) => p.generation));
    if (puks.length === 0 || generations.size !== puks.length) {
      throw new TypeError("PUK generations must be present and unique");
    }
    puks.sort((a, b) => a.generation - b.generation);

    const devices: DirectoryDevice[] = [];
    for (const entry of list(data, "devices")) {
      const deviceId = text(entry, "device_id");
      const certificate = verifyDeviceCertificate(
        b64urlDecode(text(entry, "certificate")),
        identityKey,
        userId,
        deviceId,
      );
      const revoked = entry.revoked_at ?? null;
      devices.push({
        deviceId,
        publicKey: certificate.publicKey,
        certificate,
        createdAt: integer(entry, "created_at"),
        revokedAt: revoked === null ? null : integer(entry, "revoked_at"),
      });
    }
    if (new Set(devices.map((d) => d.deviceId)).size !== devices.length) {
      throw new TypeError("device ids must be unique");
    }
    return { userId, identityKey, keysVersion, puks, devices };
  } catch (error) {
    if (error instanceof CryptoError) {
      throw new KeyDirectoryInvalid(expected, `${error.name}: ${error.message}`, { cause: error });
    }
    if (error instanceof TypeError) {
      throw new KeyDirectoryInvalid(expected, `malformed answer: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

// --- key-change events -------------------------------------------------------------------------

/** A contact's identity key differs from the pinned one (what the key-change UI shows). */
export interface KeyChangeEvent {
  /** The signed-in user whose pin it contradicts. */
  readonly ownerUserId: string;
  /** The contact whose key changed. */
  readonly userId: string;
  readonly pinned: Uint8Array;
  readonly pinnedAt: number;
  readonly presented: Uint8Array;
  /** The new directory, verified under `presented` (not to be used until accepted). */
  readonly directory: KeyDirectory;
  readonly seenAt: number;
}

export type KeyChangeListener = (event: KeyChangeEvent) => void;

interface Pending {
  readonly event: KeyChangeEvent;
  readonly pins: KeyPinStore;
}

/**
 * The unresolved key changes and who listens for them. Listeners are called on each change seen
 * (again on a later fetch that still sees it); `pending()` lists what is still unresolved, so a
 * view opened later can show it too.
 */
export class KeyChanges {
  readonly #pending = new Map<string, Pending>();
  readonly #listeners = new Set<KeyChangeListener>();

  subscribe(listener: KeyChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Unresolved changes, oldest first. */
  pending(): KeyChangeEvent[] {
    return [...this.#pending.values()].map((p) => p.event);
  }

  /** The unresolved change for `userId`, if any. */
  pendingFor(userId: string): KeyChangeEvent | undefined {
    return this.#pending.get(userId.toLowerCase())?.event;
  }

  /** Forget every unresolved change (logout); nothing is re-pinned. */
  clear(): void {
    this.#pending.clear();
  }

  /** Internal (fetchKeyDirectory). */
  report(event: KeyChangeEvent, pins: KeyPinStore): void {
    this.#pending.delete(event.userId);
    this.#pending.set(event.userId, { event, pins });
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        // A broken listener must not hide the change from the others (or from the caller).
        console.error("key-change listener failed", error);
      }
    }
  }

  /** Internal: `userId` presented its pinned key again; an unresolved change no longer applies. */
  resolve(userId: string): void {
    this.#pending.delete(userId);
  }

  /** Internal (acceptKeyChange): the unresolved change of `userId` with the pins it contradicts. */
  entry(userId: string): Pending | undefined {
    return this.#pending.get(userId);
  }

  /** Internal (acceptKeyChange): `entry` was accepted; a newer report stays unresolved. */
  settle(userId: string, entry: Pending): void {
    if (this.#pending.get(userId) === entry) this.#pending.delete(userId);
  }
}

/** This app's key changes: the key-change UI subscribes here. */
export const keyChanges = new KeyChanges();

// --- fetching ----------------------------------------------------------------------------------

export interface FetchKeyDirectoryOptions {
  /** Where changes are reported (default: `keyChanges`). */
  readonly changes?: KeyChanges;
  /** The clock for first-seen times (default: `Date.now`). */
  readonly now?: () => number;
}

// One pin decision at a time per (pins, contact): two first fetches racing must not both pin.
const inFlight = new WeakMap<KeyPinStore, Map<string, Promise<unknown>>>();

function serialised<T>(pins: KeyPinStore, userId: string, body: () => Promise<T>): Promise<T> {
  let chains = inFlight.get(pins);
  if (chains === undefined) {
    chains = new Map();
    inFlight.set(pins, chains);
  }
  const before = chains.get(userId) ?? Promise.resolve();
  const run = before.then(body, body);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  chains.set(userId, tail);
  void tail.then(() => {
    if (chains.get(userId) === tail) chains.delete(userId);
  });
  return run;
}

/**
 * `userId`'s key directory, verified (`KeyDirectoryInvalid` otherwise). The identity key is
 * pinned in `pins` the first time it is seen; a different key than the pinned one throws
 * `IdentityKeyChanged` and is reported to `keyChanges` (nothing is re-pinned until
 * `acceptKeyChange`).
 */
export async function fetchKeyDirectory(
  api: KeyDirectoryApi,
  userId: string,
  pins: KeyPinStore,
  options: FetchKeyDirectoryOptions = {},
): Promise<KeyDirectory> {
  const changes = options.changes ?? keyChanges;
  const now = options.now ?? (() => Date.now());
  const directory = verifyKeyDirectory(await api.keyDirectory(userId), userId);
  const contact = directory.userId.toLowerCase();
  const presented = directory.identityKey.key;
  return serialised(pins, contact, async () => {
    const pinned = await pins.get(contact);
    if (pinned === null) {
      await pins.pin(contact, presented, now());
      return directory;
    }
    if (bytesEqual(pinned.identityKey, presented)) {
      changes.resolve(contact);
      return directory;
    }
    const event: KeyChangeEvent = {
      ownerUserId: pins.ownerUserId,
      userId: contact,
      pinned: pinned.identityKey.slice(),
      pinnedAt: pinned.firstSeenAt,
      presented: presented.slice(),
      directory,
      seenAt: now(),
    };
    changes.report(event, pins);
    throw new IdentityKeyChanged(contact, pinned.identityKey, presented, directory);
  });
}

/**
 * The user compared safety numbers and trusts `userId`'s new identity key: re-pin exactly the key
 * the change reported (not whatever the server shows next). Returns the directory verified under
 * it. Throws when there is no unresolved change for `userId`.
 */
export async function acceptKeyChange(
  userId: string,
  options: FetchKeyDirectoryOptions = {},
): Promise<KeyDirectory> {
  const changes = options.changes ?? keyChanges;
  const now = options.now ?? (() => Date.now());
  const contact = userId.toLowerCase();
  const pending = changes.entry(contact);
  if (pending === undefined) {
    throw new Error(`no unresolved key change for ${contact}`);
  }
  const { event, pins } = pending;
  // Kept unresolved until the pin is stored: a failed write leaves the change to accept again.
  await serialised(pins, contact, () => pins.pin(contact, event.presented, now()));
  changes.settle(contact, pending);
  return event.directory;
}
