/**
 * The end-to-end encryption of one signed-in user in this tab, put together: pinned contact
 * directories, the verified set, the key-set manager and message sealing/opening. Loaded on first
 * use (a private conversation opened or written to); the chat engine and the verification UI
 * share one instance per (API client, user).
 */

import type { ApiClient } from "@/api/client";
import { ApiError, NetworkError } from "@/api/errors";
import { ContactTrust } from "@/session/contact-trust";
import { detectWebCryptoCofactorless } from "@/lib/webcrypto-ed25519";
import { browserRandom } from "@/session/account-crypto";
import {
  ContactDirectories,
  ConversationKeys,
  KeyChangeBlocked,
  KeysUnavailable,
  SenderUnverified,
  serverMembership,
  verifiedGroupMembers,
} from "@/session/conversation-keys";
import { storageHeads } from "@/session/group-membership";
import { MessageCrypto } from "@/session/message-crypto";
import { keyring } from "@/session/unlocked-keys";
import { browserKeyPins } from "@/storage/key-pins-store";
import { browserE2eeStore } from "@/storage/local-crypto-store";
import type { PrivateMessaging } from "@/store/chat-engine";
import type { OutboxEntry } from "@/transport/outbox";

export interface E2ee extends PrivateMessaging {
  readonly userId: string;
  readonly crypto: MessageCrypto;
  readonly trust: ContactTrust;
  readonly directories: ContactDirectories;
  readonly conversationKeys: ConversationKeys;
}

/** Why a private message could not be sealed, in words for the person who wrote it. */
export function describeSendError(error: unknown): string {
  if (error instanceof KeyChangeBlocked) return "a contact's identity key changed: accept the new key to send";
  if (error instanceof SenderUnverified) return "this browser's keys could not be verified";
  if (error instanceof KeysUnavailable) return "the account keys are locked";
  if (error instanceof NetworkError) return "the server could not be reached";
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.name === "KeyDirectoryInvalid") return "a member's published keys are invalid";
  return "it could not be encrypted";
}

const instances = new WeakMap<ApiClient, Map<string, E2ee>>();

export function privateMessagingFor(api: ApiClient, userId: string): E2ee {
  let perApi = instances.get(api);
  if (perApi === undefined) {
    perApi = new Map();
    instances.set(api, perApi);
  }
  const existing = perApi.get(userId);
  if (existing !== undefined) return existing;

  const store = browserE2eeStore(userId);
  const keys = () => {
    const current = keyring.current();
    return current !== null && current.userId === userId ? current : null;
  };
  // The verified set follows the user to every browser: synced with the encrypted contacts store.
  const trust = new ContactTrust(store, { api, keys, subscribe: keyring.subscribe, random: browserRandom });
  const directories = new ContactDirectories(
    api,
    trust.pinsFor(browserKeyPins(userId)),
    keys,
    (error) => trust.handleKeyChange(error),
    { memory: store },
  );
  trust.onAccepted = (id) => {
    directories.forget(id);
  };
  const groupMembers = verifiedGroupMembers(api, directories, {
    get: (conversationId) => storageHeads.get(userId, conversationId),
    set: (conversationId, index) => {
      storageHeads.set(userId, conversationId, index);
    },
  });
  const conversationKeys = new ConversationKeys(
    api,
    keys,
    directories,
    serverMembership(api, groupMembers),
    browserRandom,
  );
  let cofactorless: ReturnType<typeof detectWebCryptoCofactorless> | null = null;
  const crypto = new MessageCrypto({
    keys,
    conversationKeys,
    directories,
    store,
    random: browserRandom,
    cofactorless: () => (cofactorless ??= detectWebCryptoCofactorless()),
  });

  const e2ee: E2ee = {
    userId,
    crypto,
    trust,
    directories,
    conversationKeys,
    decode: (messages) => crypto.openAll(messages),
    async seal(entry: OutboxEntry): Promise<OutboxEntry> {
      try {
        const sealed = await crypto.seal(entry.conversationId, entry.clientMsgId, entry.body, entry.counter);
        return {
          ...entry,
          counter: sealed.counter,
          envelope: { generation: sealed.generation, ciphertext: sealed.ciphertext },
        };
      } catch (error) {
        const failure = new Error(describeSendError(error), { cause: error });
        const transient =
          error instanceof NetworkError ||
          (error instanceof ApiError && (error.status >= 500 || error.status === 429));
        throw Object.assign(failure, { transient });
      }
    },
  };
  perApi.set(userId, e2ee);
  return e2ee;
}
