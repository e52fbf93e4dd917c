/**
 * The unlocked account keys of this browser: the one place later features (encrypted chat)
 * read them from. The session publishes them after login, registration, set-up, recovery or a
 * reload (restored from IndexedDB), replaces them after a re-key, and clears them on logout or a
 * lost session.
 *
 * Types only from the crypto core, so this module stays in the start-up chunk without pulling in
 * the core itself.
 */
import { useSyncExternalStore } from "react";

import type { IdentityKey } from "@/crypto/identity";
import type { Secret } from "@/crypto/secret";
import type { VaultContents, VaultKey } from "@/crypto/vault";
import type { WebCryptoDeviceKey } from "@/lib/webcrypto-device-key";

export interface UnlockedKeys {
  readonly userId: string;
  readonly deviceId: string;
  /** The identity key (signs PUK and device certificates). */
  readonly identity: IdentityKey;
  /** The vault's plaintext: identity seed and every PUK generation's seed. */
  readonly contents: VaultContents;
  readonly vaultKey: VaultKey;
  /** For compare-and-swap re-keys; refreshed after each one this browser makes. */
  readonly vaultVersion: number;
  /** This browser's non-extractable device signing key (a `MessageSigner`). */
  readonly device: WebCryptoDeviceKey;
}

/** The seed of PUK generation `generation`, or undefined when the vault has none. */
export function pukSeed(keys: UnlockedKeys, generation: number): Secret | undefined {
  return keys.contents.pukSeed(generation);
}

export function latestPukGeneration(keys: UnlockedKeys): number {
  return keys.contents.latestPukGeneration;
}

let current: UnlockedKeys | null = null;
const listeners = new Set<() => void>();

export const keyring = {
  /** The unlocked keys, or null when signed out or still locked. */
  current: (): UnlockedKeys | null => current,
  subscribe: (listener: () => void): (() => void) => {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
  /** Session-internal: publish (or clear with null). */
  publish: (keys: UnlockedKeys | null): void => {
    if (keys === current) return;
    current = keys;
    for (const listener of listeners) listener();
  },
};

/** The unlocked keys for components inside the signed-in app (null outside it). */
export function useUnlockedKeys(): UnlockedKeys | null {
  return useSyncExternalStore(keyring.subscribe, keyring.current, keyring.current);
}
