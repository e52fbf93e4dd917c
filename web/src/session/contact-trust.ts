/**
 * Which contacts this user verified (compared safety numbers), which identity-key changes were
 * seen, and which are blocking: a change of a *verified* contact's key is never accepted
 * silently — sending to them stops until the user accepts the new key. A change of an
 * unverified contact's key is accepted (re-pinned) at once and shown as a notice.
 *
 * The verified set lives in IndexedDB encrypted under the device-local key (`E2eeStore`); there
 * is no encrypted per-user store on the server yet, so it does not follow the user to another
 * browser.
 */

import { bytesEqual, fromHex, toHex } from "@/crypto/encoding";
import {
  acceptKeyChange,
  type IdentityKeyChanged,
  type KeyChangeEvent,
  keyChanges,
} from "@/session/contact-keys";
import type { E2eeStore, KeyChangeNotice } from "@/storage/local-crypto-store";

export interface TrustSnapshot {
  /** contact user id → hex of the identity key they were verified with */
  readonly verified: Readonly<Record<string, string>>;
  readonly notices: readonly KeyChangeNotice[];
  /** Verified contacts whose key changed and was not accepted yet (sending to them is blocked). */
  readonly blocked: Readonly<Record<string, KeyChangeEvent>>;
}

const EMPTY: TrustSnapshot = { verified: {}, notices: [], blocked: {} };

export class ContactTrust {
  readonly #store: E2eeStore;
  #snapshot: TrustSnapshot = EMPTY;
  readonly #listeners = new Set<() => void>();
  readonly #loaded: Promise<void>;
  /** Called after a change was accepted (drop cached directories of that contact). */
  onAccepted: ((userId: string) => void) | null = null;

  constructor(store: E2eeStore) {
    this.#store = store;
    this.#loaded = (async () => {
      const [verified, notices] = await Promise.all([store.loadVerified(), store.loadNotices()]);
      this.#set({ ...this.#snapshot, verified: { ...verified, ...this.#snapshot.verified }, notices: [...notices, ...this.#snapshot.notices] });
    })().catch(() => undefined);
  }

  get loaded(): Promise<void> {
    return this.#loaded;
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
    const hex = this.#snapshot.verified[userId.toLowerCase()];
    return hex !== undefined && bytesEqual(fromHex(hex), identityKey);
  }

  async markVerified(userId: string, identityKey: Uint8Array): Promise<void> {
    await this.#loaded;
    const verified = { ...this.#snapshot.verified, [userId.toLowerCase()]: toHex(identityKey) };
    this.#set({ ...this.#snapshot, verified });
    await this.#store.saveVerified(verified);
  }

  async unmarkVerified(userId: string): Promise<void> {
    await this.#loaded;
    const verified = Object.fromEntries(
      Object.entries(this.#snapshot.verified).filter(([u]) => u !== userId.toLowerCase()),
    );
    this.#set({ ...this.#snapshot, verified });
    await this.#store.saveVerified(verified);
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
    if (keyChanges.pendingFor(id) !== undefined) await acceptKeyChange(id);
    const blocked = Object.fromEntries(Object.entries(this.#snapshot.blocked).filter(([u]) => u !== id));
    // The new key is not verified: the old verification was for the old key.
    const verified = Object.fromEntries(Object.entries(this.#snapshot.verified).filter(([u]) => u !== id));
    this.#set({ ...this.#snapshot, blocked, verified });
    await this.#store.saveVerified(verified);
    this.onAccepted?.(id);
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
}
