/**
 * The signed, hash-chained membership log of a private group (docs/crypto.md §8.6; mirror of
 * `hushroom.crypto.membership`).
 *
 * Each entry is a statement signed by a member device (`create`, `add`, `remove`, `leave`,
 * `role`) that names its index and the SHA-256 of the previous entry. Replaying the log from the
 * empty state gives the member set and roles; every entry is checked against the state before it.
 */

import type { DeviceCertificate } from "./device.ts";
import {
  bytesEqual,
  checkIdent,
  compareBytes,
  decode,
  decodeSigned,
  encode,
  encodeSigned,
  toHex,
  utf8,
} from "./encoding.ts";
import { ContextMismatch, Malformed, NotAuthorized } from "./errors.ts";
import type { MessageSigner } from "./ed25519-sign.ts";
import { sha256 } from "./hashes.ts";

export const MEMBERSHIP_LABEL = "hushroom/v1/membership";
export const CHANGE_LABEL = "hushroom/v1/membership-change";
export const MAX_CHANGES = 1000;
export const HASH_SIZE = 32;

export const ADMIN = "admin";
export const MEMBER = "member";
export const REMOVED = "removed";
export type MembershipRole = typeof ADMIN | typeof MEMBER | typeof REMOVED;
/** A current member's role (removed users are not in the state). */
export type MemberRole = typeof ADMIN | typeof MEMBER;

export const CREATE = "create";
export const ADD = "add";
export const REMOVE = "remove";
export const LEAVE = "leave";
export const ROLE = "role";
export type MembershipAction =
  | typeof CREATE
  | typeof ADD
  | typeof REMOVE
  | typeof LEAVE
  | typeof ROLE;

/** Returns the signer's device certificate, already verified under the pinned identity key. */
export type CertificateLookup = (
  userId: string,
  deviceId: string,
) => DeviceCertificate | null | undefined;

function isRole(value: string): value is MembershipRole {
  return value === ADMIN || value === MEMBER || value === REMOVED;
}

function isAction(value: string): value is MembershipAction {
  return (
    value === CREATE || value === ADD || value === REMOVE || value === LEAVE || value === ROLE
  );
}

/** `SHA-256(entry)`: the `previous` of the next entry. */
export function membershipEntryHash(entry: Uint8Array): Uint8Array {
  return sha256(entry);
}

/** One user's new role. */
export interface MembershipChange {
  readonly userId: string;
  readonly role: MembershipRole;
}

export function encodeChange(change: MembershipChange): Uint8Array {
  return encode(CHANGE_LABEL, 1, [checkIdent(change.userId), change.role]);
}

/** A decoded membership-log entry (verified if it came from `MembershipState.apply`). */
export class MembershipEntry {
  constructor(
    readonly conversationId: string,
    readonly index: number,
    readonly previous: Uint8Array,
    readonly action: MembershipAction,
    readonly signerUserId: string,
    readonly signerDeviceId: string,
    readonly createdAt: number,
    readonly changes: readonly MembershipChange[],
    readonly encoded: Uint8Array,
  ) {}

  get hash(): Uint8Array {
    return membershipEntryHash(this.encoded);
  }
}

function decodeEntry(entry: Uint8Array): [MembershipEntry, Uint8Array, Uint8Array] {
  const [tbs, signature] = decodeSigned(entry);
  const record = decode(tbs, MEMBERSHIP_LABEL, 1, 8);
  const action = record.text(3);
  if (!isAction(action)) {
    throw new Malformed("unknown membership action");
  }
  const changes = record.items(7).map((item): MembershipChange => {
    const change = decode(item, CHANGE_LABEL, 1, 2);
    const role = change.text(1);
    if (!isRole(role)) {
      throw new Malformed("unknown membership role");
    }
    return { userId: change.ident(0), role };
  });
  const parsed = new MembershipEntry(
    record.ident(0),
    record.integer(1),
    record.fixed(2, HASH_SIZE),
    action,
    record.ident(4),
    record.ident(5),
    record.integer(6),
    changes,
    entry.slice(),
  );
  return [parsed, tbs, signature];
}

/** Decode an entry's structure only (no signature, chain or rights check). */
export function decodeMembershipEntry(entry: Uint8Array): MembershipEntry {
  return decodeEntry(entry)[0];
}

function checkChanges(changes: readonly MembershipChange[]): void {
  if (changes.length < 1 || changes.length > MAX_CHANGES) {
    throw new Malformed("an entry has 1..1000 changes");
  }
  const keys = changes.map((c) => utf8(c.userId));
  for (let i = 1; i < keys.length; i++) {
    const prev = keys[i - 1];
    const cur = keys[i];
    if (prev !== undefined && cur !== undefined && compareBytes(prev, cur) >= 0) {
      throw new Malformed("changes must be sorted by user id and unique");
    }
  }
}

/** Members and roles after the entry `index` (−1: the empty state); `head` is its hash. */
export class MembershipState {
  readonly conversationId: string;
  readonly index: number;
  readonly head: Uint8Array;
  readonly #members: Map<string, MemberRole>;

  constructor(
    conversationId: string,
    index: number,
    head: Uint8Array,
    members: ReadonlyMap<string, MemberRole>,
  ) {
    this.conversationId = conversationId;
    this.index = index;
    this.head = head.slice();
    this.#members = new Map(members);
  }

  static empty(conversationId: string): MembershipState {
    return new MembershipState(checkIdent(conversationId), -1, new Uint8Array(HASH_SIZE), new Map());
  }

  /** user id → role (a copy: the state is immutable). */
  get members(): ReadonlyMap<string, MemberRole> {
    return new Map(this.#members);
  }

  admins(): ReadonlySet<string> {
    return new Set([...this.#members].filter(([, role]) => role === ADMIN).map(([u]) => u));
  }

  memberIds(): ReadonlySet<string> {
    return new Set(this.#members.keys());
  }

  /**
   * Verify `entry` as the next entry of this state and return the new state.
   * `certificateFor(userId, deviceId)` returns the signer's device certificate, already verified
   * under the user's pinned identity key, or null/undefined if there is none.
   */
  apply(entry: Uint8Array, certificateFor: CertificateLookup): [MembershipState, MembershipEntry] {
    const [parsed, tbs, signature] = decodeEntry(entry);
    const certificate = certificateFor(parsed.signerUserId, parsed.signerDeviceId);
    if (certificate === null || certificate === undefined) {
      throw new NotAuthorized("unknown signer device");
    }
    if (
      certificate.userId !== parsed.signerUserId ||
      certificate.deviceId !== parsed.signerDeviceId
    ) {
      throw new ContextMismatch("entry signer differs from the device certificate");
    }
    certificate.verify(tbs, signature);
    if (parsed.conversationId !== this.conversationId) {
      throw new ContextMismatch("entry is for another conversation");
    }
    if (parsed.index !== this.index + 1) {
      throw new ContextMismatch("entry index does not follow the head");
    }
    if (!bytesEqual(parsed.previous, this.head)) {
      throw new ContextMismatch("entry does not chain to the head");
    }
    checkChanges(parsed.changes);
    const members = nextMembers(new Map(this.#members), parsed);
    const state = new MembershipState(this.conversationId, parsed.index, parsed.hash, members);
    return [state, parsed];
  }

  toString(): string {
    const members = Object.fromEntries(this.#members);
    return `MembershipState(conversationId=${JSON.stringify(this.conversationId)}, index=${this.index}, head=${toHex(this.head)}, members=${JSON.stringify(members)})`;
  }
}

/** Rights and consistency rules of each action (§8.6 step 6); returns the new members. */
function nextMembers(
  members: Map<string, MemberRole>,
  entry: MembershipEntry,
): Map<string, MemberRole> {
  const signer = entry.signerUserId;
  const changes = entry.changes;
  if ((entry.action === CREATE) !== (entry.index === 0)) {
    throw new Malformed("the log starts with create, and only there");
  }
  const isAdmin = members.get(signer) === ADMIN;
  switch (entry.action) {
    case CREATE:
      if (changes.some((c) => c.role === REMOVED)) {
        throw new Malformed("create lists admins and members only");
      }
      if (!changes.some((c) => c.userId === signer && c.role === ADMIN)) {
        throw new NotAuthorized("the creator must list itself as an admin");
      }
      break;
    case ADD:
      if (!isAdmin) throw new NotAuthorized("only an admin adds members");
      if (changes.some((c) => members.has(c.userId) || c.role === REMOVED)) {
        throw new Malformed("add takes new users as admins or members");
      }
      break;
    case REMOVE:
      if (!isAdmin) throw new NotAuthorized("only an admin removes members");
      if (changes.some((c) => !members.has(c.userId) || c.userId === signer || c.role !== REMOVED)) {
        throw new Malformed("remove takes other current members to removed");
      }
      break;
    case LEAVE:
      if (!members.has(signer)) throw new NotAuthorized("only a member can leave");
      checkLeave(members, signer, isAdmin, changes);
      break;
    case ROLE:
      if (!isAdmin) throw new NotAuthorized("only an admin changes roles");
      for (const c of changes) {
        const current = members.get(c.userId);
        if (current === undefined || c.role === REMOVED || c.role === current) {
          throw new Malformed("role changes a current member's role");
        }
      }
      break;
  }
  for (const c of changes) {
    if (c.role === REMOVED) {
      members.delete(c.userId);
    } else {
      members.set(c.userId, c.role);
    }
  }
  if (entry.action === ROLE && ![...members.values()].includes(ADMIN)) {
    throw new Malformed("at least one admin must remain");
  }
  return members;
}

function checkLeave(
  members: ReadonlyMap<string, MemberRole>,
  signer: string,
  isAdmin: boolean,
  changes: readonly MembershipChange[],
): void {
  const own = changes.filter((c) => c.userId === signer);
  const others = changes.filter((c) => c.userId !== signer);
  if (own.length !== 1 || own[0]?.role !== REMOVED || others.length > 1) {
    throw new Malformed("leave removes the signer and names at most one successor");
  }
  const successor = others[0];
  if (successor !== undefined) {
    if (members.get(successor.userId) !== MEMBER || successor.role !== ADMIN) {
      throw new Malformed("the successor must be a member who becomes an admin");
    }
    if (!isAdmin) throw new NotAuthorized("only an admin names a successor");
    return;
  }
  const remaining = [...members].filter(([u]) => u !== signer);
  const otherAdmins = remaining.filter(([, role]) => role === ADMIN);
  if (isAdmin && remaining.length > 0 && otherAdmins.length === 0) {
    throw new Malformed("the last admin must name a successor");
  }
}

/**
 * Sign the next entry after `state` (changes are sorted here). The result is checked by applying
 * it to `state`, so an entry that would be refused throws the same typed error here instead.
 */
export async function signMembershipEntry(
  state: MembershipState,
  action: MembershipAction,
  changes: readonly MembershipChange[],
  deviceKey: MessageSigner,
  certificate: DeviceCertificate,
  createdAt: number,
): Promise<Uint8Array> {
  if (!bytesEqual(deviceKey.publicKey, certificate.publicKey)) {
    throw new ContextMismatch("device key does not match its certificate");
  }
  const ordered = [...changes].sort((a, b) => compareBytes(utf8(a.userId), utf8(b.userId)));
  const tbs = encode(MEMBERSHIP_LABEL, 1, [
    state.conversationId,
    state.index + 1,
    state.head,
    action,
    checkIdent(certificate.userId),
    checkIdent(certificate.deviceId),
    createdAt,
    ordered.map(encodeChange),
  ]);
  const entry = encodeSigned(tbs, await deviceKey.sign(tbs));
  state.apply(entry, (userId, deviceId) =>
    userId === certificate.userId && deviceId === certificate.deviceId ? certificate : null,
  );
  return entry;
}

/** Replay a whole log from the empty state; `states[i]` is the state after entry `i`. */
export function verifyMembershipLog(
  conversationId: string,
  entries: readonly Uint8Array[],
  certificateFor: CertificateLookup,
): MembershipState[] {
  let state = MembershipState.empty(conversationId);
  const states: MembershipState[] = [];
  for (const entry of entries) {
    [state] = state.apply(entry, certificateFor);
    states.push(state);
  }
  return states;
}
