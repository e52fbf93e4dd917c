/**
 * Conversation keys: key-set generations sealed to members' PUKs and signed by the creating
 * device (docs/crypto.md §8.1–§8.3; mirror of `hushroom.crypto.conversation_key`).
 */

import type { DeviceCertificate } from "./device.ts";
import {
  checkIdent,
  compareBytes,
  decode,
  decodeSigned,
  encode,
  encodeSigned,
  utf8,
} from "./encoding.ts";
import {
  ContextMismatch,
  KeyCommitmentMismatch,
  Malformed,
  NotAMember,
  WrongGeneration,
} from "./errors.ts";
import type { MessageSigner } from "./ed25519-sign.ts";
import { hmacSha256 } from "./hashes.ts";
import { hpkeSeal } from "./hpke.ts";
import { randomBytes, type RandomSource } from "./random.ts";
import { constantTimeEqual, Secret } from "./secret.ts";
import { KEY_SIZE } from "./size.ts";
import type { PukCertificate, PukKeyPair } from "./puk.ts";

export const KEY_SET_LABEL = "hushroom/v1/key-set";
export const MEMBER_LABEL = "hushroom/v1/key-set-member";
export const SEAL_INFO_LABEL = "hushroom/v1/ck-seal";
export const BOX_LABEL = "hushroom/v1/key-set-box";
export const UPLOAD_LABEL = "hushroom/v1/key-set-upload";
export const COMMIT_LABEL = "hushroom/v1/ck-commit";
export const MAX_MEMBERS = 1000;

/** CK of one (conversation, generation). */
export class ConversationKey extends Secret {
  readonly conversationId: string;
  readonly generation: number;

  constructor(conversationId: string, generation: number, key: Uint8Array) {
    if (key.length !== KEY_SIZE) {
      throw new Malformed("conversation key must be 32 bytes");
    }
    super(key);
    this.conversationId = conversationId;
    this.generation = generation;
  }

  commitment(): Uint8Array {
    return keyCommitment(this.reveal());
  }

  override toString(): string {
    return `ConversationKey(conversationId=${JSON.stringify(this.conversationId)}, generation=${this.generation}, key=<redacted>)`;
  }
}

/** `HMAC-SHA256(CK, "hushroom/v1/ck-commit")`. */
export function keyCommitment(key: Uint8Array): Uint8Array {
  return hmacSha256(key, utf8(COMMIT_LABEL));
}

export interface KeySetMember {
  readonly userId: string;
  readonly pukGeneration: number;
}

export function encodeMember(member: KeySetMember): Uint8Array {
  return encode(MEMBER_LABEL, 1, [checkIdent(member.userId), member.pukGeneration]);
}

/** A decoded key-set statement (verified if it came from `verifyKeySet`). */
export class KeySetStatement {
  constructor(
    readonly conversationId: string,
    readonly generation: number,
    readonly creatorUserId: string,
    readonly creatorDeviceId: string,
    readonly createdAt: number,
    readonly members: readonly KeySetMember[],
    readonly commitment: Uint8Array,
    readonly encoded: Uint8Array,
  ) {}

  member(userId: string): KeySetMember | undefined {
    return this.members.find((m) => m.userId === userId);
  }

  get memberIds(): ReadonlySet<string> {
    return new Set(this.members.map((m) => m.userId));
  }
}

/** The signed statement and one HPKE box per member (keyed by user id, member order). */
export class KeySetUpload {
  constructor(
    readonly statement: Uint8Array,
    readonly boxes: ReadonlyMap<string, Uint8Array>,
  ) {}

  encode(): Uint8Array {
    return encode(UPLOAD_LABEL, 1, [this.statement, [...this.boxes.values()]]);
  }

  static decode(data: Uint8Array): KeySetUpload {
    const record = decode(data, UPLOAD_LABEL, 1, 2);
    const boxes = new Map<string, Uint8Array>();
    for (const box of record.items(1)) {
      const [recipient] = decodeBox(box);
      if (boxes.has(recipient)) {
        throw new Malformed("two boxes for one member");
      }
      boxes.set(recipient, box);
    }
    return new KeySetUpload(record.raw(0), boxes);
  }
}

function checkMembers(members: readonly KeySetMember[], creatorUserId: string): void {
  const keys = members.map((m) => utf8(m.userId));
  if (members.length < 1 || members.length > MAX_MEMBERS) {
    throw new Malformed("a key set has 1..1000 members");
  }
  for (let i = 1; i < keys.length; i++) {
    const prev = keys[i - 1];
    const cur = keys[i];
    if (prev !== undefined && cur !== undefined && compareBytes(prev, cur) >= 0) {
      throw new Malformed("members must be sorted by user id and unique");
    }
  }
  if (members.some((m) => m.pukGeneration < 1)) {
    throw new Malformed("PUK generations must be >= 1");
  }
  if (!members.some((m) => m.userId === creatorUserId)) {
    throw new NotAMember("the creator is not a member");
  }
}

/** HPKE `info` binding every piece of context of one box. */
export function sealInfo(
  conversationId: string,
  generation: number,
  recipient: KeySetMember,
  commitment: Uint8Array,
  creatorUserId: string,
  creatorDeviceId: string,
): Uint8Array {
  return encode(SEAL_INFO_LABEL, 1, [
    conversationId,
    generation,
    recipient.userId,
    recipient.pukGeneration,
    commitment,
    creatorUserId,
    creatorDeviceId,
  ]);
}

export function encodeBox(recipientUserId: string, sealed: Uint8Array): Uint8Array {
  return encode(BOX_LABEL, 1, [checkIdent(recipientUserId), sealed]);
}

export function decodeBox(box: Uint8Array): [string, Uint8Array] {
  const record = decode(box, BOX_LABEL, 1, 2);
  return [record.ident(0), record.raw(1)];
}

export interface CreateKeySetOptions {
  /**
   * Awaited after each member's box is sealed (HPKE X-Wing, milliseconds each): the caller may
   * let the page run there, so a big group's key set does not hold the main thread for a whole
   * second. Time and scheduling stay with the caller.
   */
  readonly pause?: () => Promise<void>;
}

/**
 * Create generation `generation` for `members` (verified PUK certificates, one each).
 * Throws `NotAMember` if the creator is not among `members`.
 */
export async function createKeySet(
  conversationId: string,
  generation: number,
  creatorDevice: MessageSigner,
  creatorCertificate: DeviceCertificate,
  members: readonly PukCertificate[],
  createdAt: number,
  random: RandomSource,
  options: CreateKeySetOptions = {},
): Promise<[ConversationKey, KeySetUpload]> {
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new Malformed("generation must be >= 1");
  }
  if (!constantTimeEqual(creatorDevice.publicKey, creatorCertificate.publicKey)) {
    throw new ContextMismatch("device key does not match its certificate");
  }
  const ordered = [...members].sort((a, b) => compareBytes(utf8(a.userId), utf8(b.userId)));
  const entries: KeySetMember[] = ordered.map((c) => ({
    userId: c.userId,
    pukGeneration: c.generation,
  }));
  const creatorUserId = creatorCertificate.userId;
  const creatorDeviceId = creatorCertificate.deviceId;
  checkMembers(entries, creatorUserId);
  const key = new ConversationKey(
    checkIdent(conversationId),
    generation,
    randomBytes(random, KEY_SIZE),
  );
  const commitment = key.commitment();
  const tbs = encode(KEY_SET_LABEL, 1, [
    conversationId,
    generation,
    creatorUserId,
    creatorDeviceId,
    createdAt,
    entries.map(encodeMember),
    commitment,
  ]);
  const statement = encodeSigned(tbs, await creatorDevice.sign(tbs));
  const boxes = new Map<string, Uint8Array>();
  for (const [i, entry] of entries.entries()) {
    const certificate = ordered[i];
    if (certificate === undefined) throw new Malformed("member list changed");
    const info = sealInfo(
      conversationId,
      generation,
      entry,
      commitment,
      creatorUserId,
      creatorDeviceId,
    );
    const sealed = await hpkeSeal(certificate.publicKey, info, key.reveal(), random);
    boxes.set(entry.userId, encodeBox(entry.userId, sealed));
    await options.pause?.();
  }
  return [key, new KeySetUpload(statement, boxes)];
}

/**
 * Receiver checks of docs/crypto.md §8.3 (everything but opening a box). `creatorCertificate`
 * must already be verified under the creator's pinned identity key; `expectedMembers` comes
 * from the verified membership log.
 */
export function verifyKeySet(
  statement: Uint8Array,
  creatorCertificate: DeviceCertificate,
  conversationId: string,
  generation: number,
  expectedMembers: Iterable<string>,
): KeySetStatement {
  const [tbs, signature] = decodeSigned(statement);
  creatorCertificate.verify(tbs, signature);
  const record = decode(tbs, KEY_SET_LABEL, 1, 7);
  const members = record.items(5).map((item): KeySetMember => {
    const entry = decode(item, MEMBER_LABEL, 1, 2);
    return { userId: entry.ident(0), pukGeneration: entry.integer(1) };
  });
  const parsed = new KeySetStatement(
    record.ident(0),
    record.integer(1),
    record.ident(2),
    record.ident(3),
    record.integer(4),
    members,
    record.fixed(6, 32),
    statement.slice(),
  );
  if (
    parsed.creatorUserId !== creatorCertificate.userId ||
    parsed.creatorDeviceId !== creatorCertificate.deviceId
  ) {
    throw new ContextMismatch("key set was signed by another device");
  }
  if (parsed.conversationId !== conversationId) {
    throw new ContextMismatch("key set is for another conversation");
  }
  if (parsed.generation !== generation) {
    throw new WrongGeneration("key set is for another generation");
  }
  checkMembers(parsed.members, parsed.creatorUserId);
  const expected = new Set(expectedMembers);
  const actual = parsed.memberIds;
  if (expected.size !== actual.size || [...expected].some((id) => !actual.has(id))) {
    throw new NotAMember("key set members differ from the membership log");
  }
  return parsed;
}

/** Open the receiver's box of a verified key set and check the key commitment. */
export async function openKeySet(
  statement: KeySetStatement,
  box: Uint8Array,
  userId: string,
  puks: ReadonlyMap<number, PukKeyPair>,
): Promise<ConversationKey> {
  const member = statement.member(userId);
  if (member === undefined) {
    throw new NotAMember("not a member of this key set");
  }
  const puk = puks.get(member.pukGeneration);
  if (puk === undefined) {
    throw new WrongGeneration("sealed to a PUK generation this user does not hold");
  }
  const [recipient, sealed] = decodeBox(box);
  if (recipient !== userId) {
    throw new Malformed("box is for another member");
  }
  const info = sealInfo(
    statement.conversationId,
    statement.generation,
    member,
    statement.commitment,
    statement.creatorUserId,
    statement.creatorDeviceId,
  );
  const key = await puk.open(sealed, info);
  if (key.length !== KEY_SIZE) {
    throw new Malformed("sealed conversation key must be 32 bytes");
  }
  if (!constantTimeEqual(keyCommitment(key), statement.commitment)) {
    throw new KeyCommitmentMismatch("conversation key does not match the signed commitment");
  }
  return new ConversationKey(statement.conversationId, statement.generation, key);
}
