import { describe, expect, it } from "vitest";

import { ApiError } from "@/api/errors";
import { createAccountKeys } from "@/crypto/account";
import { DeviceKey, verifyDeviceCertificate } from "@/crypto/device";
import { b64urlDecode, b64urlEncode } from "@/crypto/encoding";
import { IdentityPublicKey } from "@/crypto/identity";
import { decodeMembershipEntry, MembershipState, signMembershipEntry } from "@/crypto/membership";
import { Secret } from "@/crypto/secret";
import type { CreateGroupIn, MembershipLogOut } from "@/features/conversations/wire";
import type { KeyDirectoryOut } from "@/session/contact-keys";
import {
  addMembers,
  createGroup,
  GroupActionRefused,
  leaveGroup,
  MAX_ATTEMPTS,
  MembershipBusy,
  MembershipLogInvalid,
  MembershipLogTruncated,
  removeMember,
  setRole,
  verifiedMembership,
  type GroupApi,
  type GroupKeys,
  type GroupOptions,
  type VerifiedHeads,
} from "@/session/group-membership";
import { MemoryKeyPins } from "@/storage/key-pins-store";

const ALICE = "a11ce000-0000-4000-8000-000000000001";
const BOB = "b0b00000-0000-4000-8000-000000000002";
const CAROL = "ca401000-0000-4000-8000-000000000003";
const DAVE = "da7e0000-0000-4000-8000-000000000004";
const GROUP = "9f0e6c1a-7d2b-4c3e-9a8b-123456789abc";
const T0 = 1_780_000_000_000;

interface Account {
  readonly keys: GroupKeys;
  readonly wire: KeyDirectoryOut;
}

const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

async function account(userId: string): Promise<Account> {
  const deviceId = `${userId.slice(0, 8)}-dev`;
  const device = DeviceKey.generate(random);
  const keys = await createAccountKeys(userId, new Secret(random(32)), T0, { deviceId, publicKey: device.publicKey }, random);
  const certificate = keys.deviceCertificate;
  if (certificate === null) throw new Error("no device certificate");
  return {
    keys: { userId, deviceId, device },
    wire: {
      user_id: userId,
      identity_key: b64urlEncode(keys.identity.publicKey),
      keys_version: 1,
      puks: [{ generation: 1, certificate: b64urlEncode(keys.pukCertificate), created_at: T0 }],
      devices: [{ device_id: deviceId, certificate: b64urlEncode(certificate), created_at: T0, revoked_at: null }],
    },
  };
}

const people = Promise.all([account(ALICE), account(BOB), account(CAROL), account(DAVE)]);

/**
 * A server that keeps the log the way decision 0005 says: it checks each appended entry
 * against its head (a stale one is `membership_conflict`) and its signer's certificate.
 */
class FakeServer implements GroupApi {
  readonly log: Uint8Array[] = [];
  readonly created: CreateGroupIn[] = [];
  readonly calls: string[] = [];
  /** Runs before an append is checked (another admin's entry landing first). */
  beforeAppend: (() => Promise<void>) | null = null;
  /** What GET membership answers instead of the real log. */
  tamper: ((log: MembershipLogOut) => MembershipLogOut) | null = null;
  #state: MembershipState | null = null;

  constructor(readonly directories: Map<string, KeyDirectoryOut>) {}

  #certificateFor = (userId: string, deviceId: string) => {
    const wire = this.directories.get(userId);
    const device = wire?.devices.find((d) => d.device_id === deviceId);
    if (wire === undefined || device === undefined) return null;
    return verifyDeviceCertificate(b64urlDecode(device.certificate), new IdentityPublicKey(b64urlDecode(wire.identity_key)), userId, deviceId);
  };

  keyDirectory(userId: string): Promise<KeyDirectoryOut> {
    this.calls.push(`keys ${userId}`);
    const wire = this.directories.get(userId);
    return wire === undefined ? Promise.reject(new ApiError(404, "not_found", "no user")) : Promise.resolve(wire);
  }

  createGroup(body: CreateGroupIn): Promise<unknown> {
    this.calls.push("create");
    this.created.push(body);
    this.#append(MembershipState.empty(body.conversation_id), b64urlDecode(body.entry));
    return Promise.resolve({ id: body.conversation_id });
  }

  async appendMembership(groupId: string, entry: string) {
    this.calls.push(`append ${groupId}`);
    if (this.beforeAppend !== null) {
      const run = this.beforeAppend;
      this.beforeAppend = null;
      await run();
    }
    const state = this.#state;
    if (state === null) throw new ApiError(404, "not_found", "no group");
    const bytes = b64urlDecode(entry);
    const parsed = decodeMembershipEntry(bytes);
    if (parsed.index !== state.index + 1) throw new ApiError(409, "membership_conflict", "the log moved on");
    this.#append(state, bytes);
    return { index: parsed.index };
  }

  membershipLog(): Promise<MembershipLogOut> {
    this.calls.push("log");
    const log = {
      entries: this.log.map((e, index) => ({ index, entry: b64urlEncode(e) })),
      head_index: this.log.length - 1,
    };
    return Promise.resolve(this.tamper === null ? log : this.tamper(log));
  }

  #append(state: MembershipState, entry: Uint8Array): void {
    [this.#state] = state.apply(entry, this.#certificateFor);
    this.log.push(entry);
  }

  get state(): MembershipState {
    if (this.#state === null) throw new Error("no group yet");
    return this.#state;
  }

  /** Another device appends an entry directly (signed by `who`). */
  async sign(who: Account, action: Parameters<typeof signMembershipEntry>[1], changes: Parameters<typeof signMembershipEntry>[2]) {
    const certificate = this.#certificateFor(who.keys.userId, who.keys.deviceId);
    if (certificate === null) throw new Error("no certificate");
    const entry = await signMembershipEntry(this.state, action, changes, who.keys.device, certificate, T0 + 50);
    this.#append(this.state, entry);
  }
}

function memoryHeads(): VerifiedHeads {
  const heads = new Map<string, number>();
  return {
    get: (owner, id) => heads.get(`${owner}/${id}`) ?? null,
    set: (owner, id, index) => {
      heads.set(`${owner}/${id}`, Math.max(index, heads.get(`${owner}/${id}`) ?? -1));
    },
  };
}

async function setup() {
  const [alice, bob, carol, dave] = await people;
  const server = new FakeServer(new Map([alice, bob, carol, dave].map((a) => [a.keys.userId, a.wire])));
  const options = (owner: Account): GroupOptions => ({
    pins: new MemoryKeyPins(owner.keys.userId),
    heads: memoryHeads(),
    now: () => T0 + 1000,
    newId: () => GROUP,
  });
  return { alice, bob, carol, dave, server, options };
}

describe("createGroup", () => {
  it("signs a create entry with the caller as admin and the others as members, under a UUID v4", async () => {
    const { alice, server } = await setup();
    const id = await createGroup(server, alice.keys, "Trip", [BOB, CAROL, ALICE], {
      pins: new MemoryKeyPins(ALICE),
      heads: memoryHeads(),
    });

    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(server.created).toHaveLength(1);
    expect(server.created[0]?.name).toBe("Trip");
    expect(server.created[0]?.conversation_id).toBe(id);
    const entry = decodeMembershipEntry(b64urlDecode(server.created[0]?.entry ?? ""));
    expect(entry.action).toBe("create");
    expect(entry.signerUserId).toBe(ALICE);
    expect(entry.changes).toEqual([
      { userId: ALICE, role: "admin" },
      { userId: BOB, role: "member" },
      { userId: CAROL, role: "member" },
    ]);
    expect(Object.fromEntries(server.state.members)).toEqual({ [ALICE]: "admin", [BOB]: "member", [CAROL]: "member" });
  });
});

describe("changes on the verified log", () => {
  it("adds members, and rebuilds on the new head after a membership_conflict", async () => {
    const { alice, bob, server, options } = await setup();
    await createGroup(server, alice.keys, "Trip", [BOB], options(alice));
    await setRole(server, alice.keys, GROUP, BOB, "admin", options(alice));
    // Bob (now admin) adds Carol at the moment Alice's entry is on its way.
    server.beforeAppend = () => server.sign(bob, "add", [{ userId: CAROL, role: "member" }]);

    await addMembers(server, alice.keys, GROUP, [DAVE, CAROL], options(alice));

    expect(server.calls.filter((c) => c.startsWith("append"))).toHaveLength(3);
    expect(server.state.index).toBe(3);
    expect(Object.fromEntries(server.state.members)).toEqual({
      [ALICE]: "admin",
      [BOB]: "admin",
      [CAROL]: "member",
      [DAVE]: "member",
    });
  });

  it("gives up after MAX_ATTEMPTS conflicts in a row", async () => {
    const { alice, server, options } = await setup();
    await createGroup(server, alice.keys, "Trip", [BOB], options(alice));
    const realAppend = server.appendMembership.bind(server);
    let appends = 0;
    server.appendMembership = () => {
      appends++;
      return Promise.reject(new ApiError(409, "membership_conflict", "moved"));
    };
    await expect(addMembers(server, alice.keys, GROUP, [CAROL], options(alice))).rejects.toBeInstanceOf(MembershipBusy);
    expect(appends).toBe(MAX_ATTEMPTS);
    server.appendMembership = realAppend;
  });

  it("removes a member; a member who is not an admin is refused before anything is signed", async () => {
    const { alice, bob, server, options } = await setup();
    await createGroup(server, alice.keys, "Trip", [BOB, CAROL], options(alice));

    await expect(removeMember(server, bob.keys, GROUP, CAROL, options(bob))).rejects.toMatchObject({
      name: "GroupActionRefused",
      reason: "not_admin",
    });
    expect(server.calls.filter((c) => c.startsWith("append"))).toHaveLength(0);

    await removeMember(server, alice.keys, GROUP, CAROL, options(alice));
    expect(server.state.members.has(CAROL)).toBe(false);
    expect(decodeMembershipEntry(server.log.at(-1)!).action).toBe("remove");
  });

  it("the last admin leaving names the longest-standing member as admin", async () => {
    const { alice, server, options } = await setup();
    await createGroup(server, alice.keys, "Trip", [CAROL], options(alice));
    await addMembers(server, alice.keys, GROUP, [BOB], options(alice));

    await leaveGroup(server, alice.keys, GROUP, options(alice));

    const entry = decodeMembershipEntry(server.log.at(-1)!);
    expect(entry.action).toBe("leave");
    // Carol was in the group from the start, Bob joined later: Carol becomes admin.
    expect(entry.changes).toEqual([
      { userId: ALICE, role: "removed" },
      { userId: CAROL, role: "admin" },
    ]);
    expect(Object.fromEntries(server.state.members)).toEqual({ [BOB]: "member", [CAROL]: "admin" });
  });

  it("a member leaves without naming anyone; the last admin cannot step down", async () => {
    const { alice, bob, server, options } = await setup();
    await createGroup(server, alice.keys, "Trip", [BOB], options(alice));

    await expect(setRole(server, alice.keys, GROUP, ALICE, "member", options(alice))).rejects.toEqual(
      new GroupActionRefused("last_admin"),
    );
    await leaveGroup(server, bob.keys, GROUP, options(bob));
    expect(decodeMembershipEntry(server.log.at(-1)!).changes).toEqual([{ userId: BOB, role: "removed" }]);
  });
});

describe("verifiedMembership", () => {
  it("refuses a log whose entry was altered", async () => {
    const { alice, server, options } = await setup();
    await createGroup(server, alice.keys, "Trip", [BOB], options(alice));
    server.tamper = (log) => {
      const bytes = b64urlDecode(log.entries[0]!.entry);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
      return { ...log, entries: [{ index: 0, entry: b64urlEncode(bytes) }] };
    };
    await expect(verifiedMembership(server, alice.keys, GROUP, options(alice))).rejects.toBeInstanceOf(
      MembershipLogInvalid,
    );
  });

  it("notices a log shorter than one verified before", async () => {
    const { alice, server } = await setup();
    const opts: GroupOptions = { pins: new MemoryKeyPins(ALICE), heads: memoryHeads(), newId: () => GROUP };
    await createGroup(server, alice.keys, "Trip", [BOB], opts);
    await addMembers(server, alice.keys, GROUP, [CAROL], opts);
    expect((await verifiedMembership(server, alice.keys, GROUP, opts)).state.index).toBe(1);

    server.tamper = (log) => ({ entries: log.entries.slice(0, 1), head_index: 0 });
    await expect(verifiedMembership(server, alice.keys, GROUP, opts)).rejects.toBeInstanceOf(MembershipLogTruncated);
  });
});
