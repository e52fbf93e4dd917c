/**
 * Private-group membership from this browser (decision 0005 §4, docs/crypto.md §8.6): every change
 * is an entry of the group's signed, hash-chained log, signed here with the unlocked device key.
 *
 * Each change fetches the whole log, verifies it (each signer's device certificate comes from
 * the signer's key directory, checked against the TOFU pins), signs the next entry on the
 * verified head and appends it. When another admin's entry got there first the server answers
 * `membership_conflict` (409): the log is fetched again and the change rebuilt on the new head
 * (a few times at most). The highest index verified for each group is remembered, so a log the
 * server shortens later is noticed (`MembershipLogTruncated`).
 *
 * The crypto core lives behind this module: the UI loads it on first use (`import()`), not at
 * start-up.
 */
import { ApiError } from "@/api/errors";
import { b64urlDecode, b64urlEncode, compareBytes, utf8 } from "@/crypto/encoding";
import {
  decodeMembershipEntry,
  MembershipState,
  signMembershipEntry,
  type MembershipChange,
} from "@/crypto/membership";
import type { DeviceCertificate } from "@/crypto/device";
import type { MessageSigner } from "@/crypto/ed25519-sign";
import { CryptoError } from "@/crypto/errors";
import type {
  CreateGroupIn,
  MembershipAppendOut,
  MembershipLogOut,
} from "@/features/conversations/wire";
import {
  directoryDevice,
  fetchKeyDirectory,
  type KeyDirectory,
  type KeyDirectoryApi,
} from "@/session/contact-keys";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import { browserKeyPins, type KeyPinStore } from "@/storage/key-pins-store";

export type GroupRole = "admin" | "member";
export type MembershipAction = "create" | "add" | "remove" | "leave" | "role";

/** What these flows need of the API client (`ApiClient` has all of it). */
export interface GroupApi extends KeyDirectoryApi {
  createGroup(body: CreateGroupIn): Promise<unknown>;
  appendMembership(groupId: string, entry: string): Promise<MembershipAppendOut>;
  membershipLog(conversationId: string, after?: number): Promise<MembershipLogOut>;
}

/** What these flows use of the unlocked keys (`UnlockedKeys` has it): who signs, with which key. */
export interface GroupKeys {
  readonly userId: UnlockedKeys["userId"];
  readonly deviceId: UnlockedKeys["deviceId"];
  readonly device: MessageSigner;
}

/** The highest log index verified per (user, group): a shorter log later is a truncation. */
export interface VerifiedHeads {
  get(ownerUserId: string, conversationId: string): number | null;
  set(ownerUserId: string, conversationId: string, index: number): void;
}

export interface GroupOptions {
  /** TOFU pins of the signed-in user (default: this browser's). */
  readonly pins?: KeyPinStore;
  readonly heads?: VerifiedHeads;
  /** Milliseconds since the epoch, for the entries' `created_at`. */
  readonly now?: () => number;
  /** A fresh conversation id (default: `crypto.randomUUID()`, a UUID v4). */
  readonly newId?: () => string;
}

/** How often a change is rebuilt on a log that moved on before giving up. */
export const MAX_ATTEMPTS = 4;

// --- errors -------------------------------------------------------------------------------------

/** The log does not verify: a bad signature, a broken chain, a change its signer may not make. */
export class MembershipLogInvalid extends Error {
  constructor(conversationId: string, message: string, options?: { cause?: unknown }) {
    super(`membership log of ${conversationId}: ${message}`, options);
    this.name = "MembershipLogInvalid";
  }
}

/** The server's log is shorter than one this browser already verified. */
export class MembershipLogTruncated extends Error {
  constructor(
    readonly conversationId: string,
    readonly verifiedIndex: number,
    readonly headIndex: number,
  ) {
    super(`membership log of ${conversationId} ends at ${String(headIndex)}, ${String(verifiedIndex)} was verified`);
    this.name = "MembershipLogTruncated";
  }
}

/** This device has no certificate in the signed-in user's own key directory. */
export class DeviceNotCertifiedHere extends Error {
  override readonly name = "DeviceNotCertifiedHere";
}

export type RefusalReason =
  | "not_admin"
  | "not_member"
  | "already_member"
  | "last_admin"
  | "no_members";

/** A change the verified log says this user cannot make (checked before signing). */
export class GroupActionRefused extends Error {
  override readonly name = "GroupActionRefused";
  constructor(readonly reason: RefusalReason) {
    super(reason);
  }
}

/** The log moved on `MAX_ATTEMPTS` times in a row. */
export class MembershipBusy extends Error {
  override readonly name = "MembershipBusy";
}

// --- remembered heads ---------------------------------------------------------------------------

function headKey(owner: string, conversationId: string): string {
  return `hushroom-membership-head:${owner}:${conversationId}`;
}

/** Remembered in localStorage (public facts about the log; nothing secret). */
export const storageHeads: VerifiedHeads = {
  get(owner, conversationId) {
    try {
      const raw = localStorage.getItem(headKey(owner, conversationId));
      const value = raw === null ? NaN : Number(raw);
      return Number.isSafeInteger(value) ? value : null;
    } catch {
      return null;
    }
  },
  set(owner, conversationId, index) {
    try {
      const known = this.get(owner, conversationId);
      if (known === null || index > known) localStorage.setItem(headKey(owner, conversationId), String(index));
    } catch {
      // Storage full or denied: the check is best effort.
    }
  },
};

// --- the verified log ---------------------------------------------------------------------------

/** A verified log: the state at its head and when each current member (last) joined. */
export interface VerifiedMembership {
  readonly state: MembershipState;
  /** Log index of the entry that made each current member a member (smaller: longer standing). */
  readonly joinedAt: ReadonlyMap<string, number>;
  /** The signed-in user's own device certificate (the signer of the next entry). */
  readonly ownCertificate: DeviceCertificate;
}

function settings(options: GroupOptions, keys: GroupKeys) {
  return {
    pins: options.pins ?? browserKeyPins(keys.userId),
    heads: options.heads ?? storageHeads,
    now: options.now ?? (() => Date.now()),
    newId: options.newId ?? (() => crypto.randomUUID()),
  };
}

type Settings = ReturnType<typeof settings>;

async function ownCertificate(api: GroupApi, keys: GroupKeys, s: Settings, directories: Map<string, KeyDirectory>) {
  const directory = await directoryOf(api, keys.userId, s, directories);
  const device = directoryDevice(directory, keys.deviceId);
  if (device === undefined || device.revokedAt !== null) {
    throw new DeviceNotCertifiedHere("this device is not in your key directory");
  }
  return device.certificate;
}

async function directoryOf(
  api: GroupApi,
  userId: string,
  s: Settings,
  directories: Map<string, KeyDirectory>,
): Promise<KeyDirectory> {
  const id = userId.toLowerCase();
  let directory = directories.get(id);
  if (directory === undefined) {
    directory = await fetchKeyDirectory(api, id, s.pins);
    directories.set(id, directory);
  }
  return directory;
}

async function verify(
  api: GroupApi,
  keys: GroupKeys,
  conversationId: string,
  s: Settings,
): Promise<VerifiedMembership> {
  const log = await api.membershipLog(conversationId);
  const entries = [...log.entries].sort((a, b) => a.index - b.index);
  if (entries.some((e, i) => e.index !== i) || log.head_index !== entries.length - 1) {
    throw new MembershipLogInvalid(conversationId, "entries are not numbered 0..head");
  }
  const known = s.heads.get(keys.userId, conversationId);
  if (known !== null && log.head_index < known) {
    throw new MembershipLogTruncated(conversationId, known, log.head_index);
  }
  const directories = new Map<string, KeyDirectory>();
  const certificate = await ownCertificate(api, keys, s, directories);
  let state = MembershipState.empty(conversationId);
  const joinedAt = new Map<string, number>();
  try {
    const raw = entries.map((e) => b64urlDecode(e.entry));
    // Directories first (network, pins), then the replay, which needs them synchronously.
    for (const entry of raw) {
      await directoryOf(api, decodeMembershipEntry(entry).signerUserId, s, directories);
    }
    const certificateFor = (userId: string, deviceId: string) => {
      const directory = directories.get(userId.toLowerCase());
      return directory === undefined ? null : (directoryDevice(directory, deviceId)?.certificate ?? null);
    };
    for (const [index, entry] of raw.entries()) {
      const before = state.members;
      [state] = state.apply(entry, certificateFor);
      for (const userId of state.members.keys()) {
        if (!before.has(userId)) joinedAt.set(userId, index);
      }
      for (const userId of before.keys()) {
        if (!state.members.has(userId)) joinedAt.delete(userId);
      }
    }
  } catch (error) {
    // A bad entry (signature, chain, rights, encoding); key-directory trouble and network
    // errors keep their own types.
    if (error instanceof CryptoError) {
      throw new MembershipLogInvalid(conversationId, `${error.name}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  s.heads.set(keys.userId, conversationId, state.index);
  return { state, joinedAt, ownCertificate: certificate };
}

/** The group's membership log, verified against the pinned identity keys of its signers. */
export function verifiedMembership(
  api: GroupApi,
  keys: GroupKeys,
  conversationId: string,
  options: GroupOptions = {},
): Promise<VerifiedMembership> {
  return verify(api, keys, conversationId, settings(options, keys));
}

// --- changes ------------------------------------------------------------------------------------

interface Change {
  readonly action: MembershipAction;
  readonly changes: readonly MembershipChange[];
}

function roleOf(state: MembershipState, userId: string): string | undefined {
  return state.members.get(userId);
}

/**
 * Fetch and verify the log, let `build` decide the change on it (null: nothing to do), sign it
 * and append it; rebuilt on the new head after a `membership_conflict`.
 */
async function change(
  api: GroupApi,
  keys: GroupKeys,
  conversationId: string,
  options: GroupOptions,
  build: (log: VerifiedMembership) => Change | null,
): Promise<void> {
  const s = settings(options, keys);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const log = await verify(api, keys, conversationId, s);
    const next = build(log);
    if (next === null) return;
    const entry = await signMembershipEntry(
      log.state,
      next.action,
      next.changes,
      keys.device,
      log.ownCertificate,
      s.now(),
    );
    try {
      await api.appendMembership(conversationId, b64urlEncode(entry));
      s.heads.set(keys.userId, conversationId, log.state.index + 1);
      return;
    } catch (error) {
      if (error instanceof ApiError && error.code === "membership_conflict") continue;
      throw error;
    }
  }
  throw new MembershipBusy("the member list kept changing");
}

function requireAdmin(log: VerifiedMembership, me: string): void {
  const role = roleOf(log.state, me);
  if (role === undefined) throw new GroupActionRefused("not_member");
  if (role !== "admin") throw new GroupActionRefused("not_admin");
}

/** Users sorted as the entries sort them (UTF-8 bytes of the id). */
function byId<T extends { readonly userId: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compareBytes(utf8(a.userId), utf8(b.userId)));
}

/**
 * Create a group named `name` with the caller as its admin and `memberIds` as members: a fresh
 * UUID v4 conversation id and the signed `create` entry. Returns the new conversation's id.
 */
export async function createGroup(
  api: GroupApi,
  keys: GroupKeys,
  name: string,
  memberIds: readonly string[],
  options: GroupOptions = {},
): Promise<string> {
  const s = settings(options, keys);
  const certificate = await ownCertificate(api, keys, s, new Map());
  const others = [...new Set(memberIds.map((id) => id.toLowerCase()))].filter((id) => id !== keys.userId);
  const changes = byId([
    { userId: keys.userId, role: "admin" as const },
    ...others.map((userId) => ({ userId, role: "member" as const })),
  ]);
  const conversationId = s.newId();
  const entry = await signMembershipEntry(
    MembershipState.empty(conversationId),
    "create",
    changes,
    keys.device,
    certificate,
    s.now(),
  );
  await api.createGroup({ conversation_id: conversationId, name, entry: b64urlEncode(entry) });
  s.heads.set(keys.userId, conversationId, 0);
  return conversationId;
}

/** Add `userIds` as members (admins only); people already in the group are skipped. */
export function addMembers(
  api: GroupApi,
  keys: GroupKeys,
  groupId: string,
  userIds: readonly string[],
  options: GroupOptions = {},
): Promise<void> {
  return change(api, keys, groupId, options, (log) => {
    requireAdmin(log, keys.userId);
    const fresh = [...new Set(userIds.map((id) => id.toLowerCase()))].filter(
      (id) => roleOf(log.state, id) === undefined,
    );
    if (fresh.length === 0) return null;
    return { action: "add", changes: byId(fresh.map((userId) => ({ userId, role: "member" }))) };
  });
}

/** Remove another member (admins only); to remove yourself, `leaveGroup`. */
export function removeMember(
  api: GroupApi,
  keys: GroupKeys,
  groupId: string,
  userId: string,
  options: GroupOptions = {},
): Promise<void> {
  const target = userId.toLowerCase();
  if (target === keys.userId) return leaveGroup(api, keys, groupId, options);
  return change(api, keys, groupId, options, (log) => {
    requireAdmin(log, keys.userId);
    if (roleOf(log.state, target) === undefined) return null;
    return { action: "remove", changes: [{ userId: target, role: "removed" }] };
  });
}

/**
 * Make a member an admin or an admin a member (admins only). The last admin cannot step down
 * (`last_admin`): make someone else admin first, or leave (which names a successor).
 */
export function setRole(
  api: GroupApi,
  keys: GroupKeys,
  groupId: string,
  userId: string,
  role: GroupRole,
  options: GroupOptions = {},
): Promise<void> {
  const target = userId.toLowerCase();
  return change(api, keys, groupId, options, (log) => {
    requireAdmin(log, keys.userId);
    const current = roleOf(log.state, target);
    if (current === undefined) throw new GroupActionRefused("not_member");
    if (current === role) return null;
    if (role === "member" && successorNeeded(log, target)) throw new GroupActionRefused("last_admin");
    return { action: "role", changes: [{ userId: target, role }] };
  });
}

/** True when `userId` is the only admin and others remain. */
function successorNeeded(log: VerifiedMembership, userId: string): boolean {
  const members = log.state.members;
  if (members.get(userId) !== "admin") return false;
  const others = [...members.entries()].filter(([id]) => id !== userId);
  return others.length > 0 && !others.some(([, role]) => role === "admin");
}

/** The member who has been in the group longest (ties: the smaller id), other than `leaving`. */
export function longestStanding(log: VerifiedMembership, leaving: string): string | null {
  let best: [number, string] | null = null;
  for (const userId of log.state.members.keys()) {
    if (userId === leaving) continue;
    const joined = log.joinedAt.get(userId) ?? Number.MAX_SAFE_INTEGER;
    if (best === null || joined < best[0] || (joined === best[0] && compareBytes(utf8(userId), utf8(best[1])) < 0)) {
      best = [joined, userId];
    }
  }
  return best?.[1] ?? null;
}

/**
 * Leave the group. The last admin hands admin on to the longest-standing member in the same
 * signed entry, so a group is never left without anyone able to manage it.
 */
export function leaveGroup(
  api: GroupApi,
  keys: GroupKeys,
  groupId: string,
  options: GroupOptions = {},
): Promise<void> {
  return change(api, keys, groupId, options, (log) => {
    if (roleOf(log.state, keys.userId) === undefined) throw new GroupActionRefused("not_member");
    const changes: MembershipChange[] = [{ userId: keys.userId, role: "removed" }];
    if (successorNeeded(log, keys.userId)) {
      const successor = longestStanding(log, keys.userId);
      if (successor !== null) changes.push({ userId: successor, role: "admin" });
    }
    return { action: "leave", changes: byId(changes) };
  });
}
