/**
 * Trust on first use of contacts' identity keys (issue 11; mirror of the SDK's `KeyPinStore`):
 * the identity key this browser first saw for each contact, per signed-in user, and when. A
 * different key later is a key change (`@/session/contact-keys`), never silently re-pinned.
 *
 * Pins live in their own IndexedDB database ("hushroom-key-pins"), not beside the unlocked state:
 * adding a store to that database would need a version bump its other users would trip over.
 * Pins are public keys, so they are stored as they are; they outlive logout (a key change must
 * still be noticed after signing in again).
 */

import { lazyKeyValueDb } from "@/storage/idb";

const DB_NAME = "hushroom-key-pins";
const STORE = "pins";
const RECORD_VERSION = 1;

export interface KeyPin {
  /** The contact's 32-byte Ed25519 identity public key. */
  readonly identityKey: Uint8Array;
  /** When this key was first seen (or accepted after a change), in ms since the epoch. */
  readonly firstSeenAt: number;
}

/** The pins of one signed-in user (`ownerUserId`): contact user id → pinned identity key. */
export interface KeyPinStore {
  readonly ownerUserId: string;
  get(contactUserId: string): Promise<KeyPin | null>;
  /** Pin (or re-pin, after the user accepted a change) `contactUserId`'s identity key. */
  pin(contactUserId: string, identityKey: Uint8Array, seenAt: number): Promise<void>;
}

interface StoredPin {
  readonly v: number;
  readonly owner: string;
  readonly contact: string;
  readonly identityKey: Uint8Array;
  readonly firstSeenAt: number;
}

function recordKey(owner: string, contact: string): string {
  return `${owner}\u0000${contact}`;
}

/** Pins in IndexedDB (this browser's are `browserKeyPins(userId)`). */
export function indexedDbKeyPins(
  ownerUserId: string,
  factory: () => IDBFactory = () => indexedDB,
): KeyPinStore {
  const db = lazyKeyValueDb(DB_NAME, [STORE], factory);

  return {
    ownerUserId,
    async get(contactUserId) {
      const record = await (await db()).get<StoredPin>(STORE, recordKey(ownerUserId, contactUserId));
      if (record?.v !== RECORD_VERSION) return null;
      if (record.owner !== ownerUserId || record.contact !== contactUserId) return null;
      return { identityKey: new Uint8Array(record.identityKey), firstSeenAt: record.firstSeenAt };
    },
    async pin(contactUserId, identityKey, seenAt) {
      const record: StoredPin = {
        v: RECORD_VERSION,
        owner: ownerUserId,
        contact: contactUserId,
        identityKey: identityKey.slice(),
        firstSeenAt: seenAt,
      };
      await (await db()).put(STORE, recordKey(ownerUserId, contactUserId), record);
    },
  };
}

/** An in-memory twin (tests, and anywhere nothing should persist). */
export class MemoryKeyPins implements KeyPinStore {
  readonly ownerUserId: string;
  readonly #pins = new Map<string, KeyPin>();

  constructor(ownerUserId: string) {
    this.ownerUserId = ownerUserId;
  }

  get size(): number {
    return this.#pins.size;
  }

  get(contactUserId: string): Promise<KeyPin | null> {
    const pin = this.#pins.get(contactUserId);
    return Promise.resolve(
      pin === undefined ? null : { identityKey: pin.identityKey.slice(), firstSeenAt: pin.firstSeenAt },
    );
  }

  pin(contactUserId: string, identityKey: Uint8Array, seenAt: number): Promise<void> {
    this.#pins.set(contactUserId, { identityKey: identityKey.slice(), firstSeenAt: seenAt });
    return Promise.resolve();
  }
}

const browserStores = new Map<string, KeyPinStore>();

/** This browser's pins for the signed-in user `ownerUserId` (database opened on first use). */
export function browserKeyPins(ownerUserId: string): KeyPinStore {
  let store = browserStores.get(ownerUserId);
  if (store === undefined) {
    store = indexedDbKeyPins(ownerUserId);
    browserStores.set(ownerUserId, store);
  }
  return store;
}
