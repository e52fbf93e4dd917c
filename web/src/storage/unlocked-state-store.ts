/**
 * What keeps this browser unlocked across reloads without the password (decision 0003): the
 * device key pair (non-extractable; a `CryptoKeyPair` structured-clones into IndexedDB and stays
 * non-extractable) and the vault key, encrypted under a device-local non-extractable AES-GCM key
 * stored beside it. Script on the page can use the keys while it runs but can never read their
 * bytes out; a copied profile directory yields only the wrapped vault key, not the vault.
 *
 * One record per browser profile: signing in as someone else replaces it; logging out or losing
 * the session deletes it.
 */

import { lazyKeyValueDb } from "@/storage/idb";

const DB_NAME = "hushroom";
const STORE = "unlocked";
const KEY = "current";
const RECORD_VERSION = 1;

export interface UnlockedState {
  readonly userId: string;
  readonly deviceId: string;
  readonly deviceKeyPair: CryptoKeyPair;
  /** Null when the stored copy could not be decrypted (then the password unlocks again). */
  readonly vaultKey: Uint8Array | null;
}

interface StoredRecord {
  readonly v: number;
  readonly userId: string;
  readonly deviceId: string;
  readonly deviceKeyPair: CryptoKeyPair;
  readonly wrapKey: CryptoKey;
  readonly iv: Uint8Array;
  readonly wrappedVaultKey: Uint8Array;
}

export interface UnlockedStateStore {
  save(state: UnlockedState & { readonly vaultKey: Uint8Array }): Promise<void>;
  load(): Promise<UnlockedState | null>;
  clear(): Promise<void>;
}

/** The vault key's AAD binds it to this user and device, so a record can't be swapped around. */
function aad(userId: string, deviceId: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`hushroom/v1/local-vault-key\u0000${userId}\u0000${deviceId}`);
}

export function unlockedStateStore(
  factory: () => IDBFactory = () => indexedDB,
  subtle: SubtleCrypto = crypto.subtle,
): UnlockedStateStore {
  const db = lazyKeyValueDb(DB_NAME, [STORE], factory);

  return {
    async save(state) {
      const wrapKey = await subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
        "encrypt",
        "decrypt",
      ]);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const wrapped = await subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: aad(state.userId, state.deviceId) },
        wrapKey,
        state.vaultKey.slice(),
      );
      const record: StoredRecord = {
        v: RECORD_VERSION,
        userId: state.userId,
        deviceId: state.deviceId,
        deviceKeyPair: state.deviceKeyPair,
        wrapKey,
        iv,
        wrappedVaultKey: new Uint8Array(wrapped),
      };
      await (await db()).put(STORE, KEY, record);
    },

    async load() {
      const record = await (await db()).get<StoredRecord>(STORE, KEY);
      if (record?.v !== RECORD_VERSION) return null;
      let vaultKey: Uint8Array | null;
      try {
        vaultKey = new Uint8Array(
          await subtle.decrypt(
            {
              name: "AES-GCM",
              iv: record.iv.slice(),
              additionalData: aad(record.userId, record.deviceId),
            },
            record.wrapKey,
            record.wrappedVaultKey.slice(),
          ),
        );
      } catch {
        vaultKey = null;
      }
      return {
        userId: record.userId,
        deviceId: record.deviceId,
        deviceKeyPair: record.deviceKeyPair,
        vaultKey,
      };
    },

    async clear() {
      await (await db()).delete(STORE, KEY);
    },
  };
}

/** This browser's store (opened on first use). */
export const browserUnlockedState: UnlockedStateStore = unlockedStateStore();
