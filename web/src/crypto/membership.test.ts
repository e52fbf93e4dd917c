import { describe, expect, it } from "vitest";

import type { DeviceCertificate } from "@/crypto/device";
import { encode, encodeSigned, toHex } from "@/crypto/encoding";
import {
  ADMIN,
  CHANGE_LABEL,
  decodeMembershipEntry,
  MEMBER,
  MEMBERSHIP_LABEL,
  type MembershipAction,
  type MembershipChange,
  membershipEntryHash,
  MembershipState,
  REMOVED,
  signMembershipEntry,
  verifyMembershipLog,
} from "@/crypto/membership";
import { loadPeople, person } from "@/test/people";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("membership.json");
const people = await loadPeople(v.people);
const CONV: string = v.conversation_id;
const LOG: Uint8Array[] = v.log.map((e: { entry: string }) => hex(e.entry));

function lookup(extra: ReadonlyMap<string, DeviceCertificate> = new Map()) {
  return (userId: string, deviceId: string): DeviceCertificate | null => {
    const override = extra.get(`${userId}/${deviceId}`);
    if (override !== undefined) return override;
    const p = people.get(userId);
    return p !== undefined && p.deviceCertificate.deviceId === deviceId ? p.deviceCertificate : null;
  };
}

function stateJson(state: MembershipState) {
  return {
    index: state.index,
    head: toHex(state.head),
    members: Object.fromEntries([...state.members].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}

describe("membership.json: people", () => {
  it("have verified device certificates", () => {
    expect(v.people.map((p: { user_id: string }) => p.user_id)).toEqual([
      "alice",
      "bob",
      "carol",
      "dave",
      "mallory",
    ]);
  });
});

describe("membership.json: log", () => {
  it("signs byte for byte and verifies, state after each entry", async () => {
    let state = MembershipState.empty(CONV);
    for (const e of v.log) {
      const signer = person(people, e.signer);
      const changes: MembershipChange[] = e.changes.map(([userId, role]: [string, string]) => ({
        userId,
        role,
      }));
      const entry = await signMembershipEntry(
        state,
        e.action as MembershipAction,
        changes,
        signer.device,
        signer.deviceCertificate,
        e.created_at,
      );
      expect(toHex(entry)).toBe(e.entry);
      const [next, parsed] = state.apply(entry, lookup());
      state = next;
      expect(parsed.index).toBe(e.index);
      expect(parsed.action).toBe(e.action);
      expect(parsed.signerUserId).toBe(e.signer);
      expect(parsed.createdAt).toBe(e.created_at);
      expect(toHex(parsed.hash)).toBe(e.hash);
      expect(toHex(membershipEntryHash(entry))).toBe(e.hash);
      expect(stateJson(state)).toEqual(e.state);
    }
    const states = verifyMembershipLog(CONV, LOG, lookup());
    expect(states.map(stateJson)).toEqual(v.log.map((e: { state: unknown }) => e.state));
  });
});

describe("membership.json: invalid", () => {
  for (const c of v.invalid) {
    it(`${c.name}: ${c.error}`, async () => {
      const extra = new Map<string, DeviceCertificate>(
        (c.extra_certificates ?? []).map(
          (x: { user_id: string; device_id: string; person: string }) => [
            `${x.user_id}/${x.device_id}`,
            person(people, x.person).deviceCertificate,
          ],
        ),
      );
      const prefix = LOG.slice(0, c.prefix_length);
      const states = verifyMembershipLog(CONV, prefix, lookup());
      const state = states.at(-1) ?? MembershipState.empty(CONV);
      await expectCryptoError(() => state.apply(hex(c.entry), lookup(extra)), c.error);
      await expectCryptoError(
        () => verifyMembershipLog(CONV, [...prefix, hex(c.entry)], lookup(extra)),
        c.error,
      );
    });
  }
});

describe("membership log", () => {
  it("decodes the signer without checking anything", async () => {
    const entry = decodeMembershipEntry(LOG[3]!);
    expect([entry.signerUserId, entry.signerDeviceId]).toEqual(["bob", "bob-dev"]);
    expect(entry.changes).toEqual([{ userId: "carol", role: REMOVED }]);
    expect(toHex(entry.previous)).toBe(toHex(membershipEntryHash(LOG[2]!)));
    await expectCryptoError(() => decodeMembershipEntry(LOG[3]!.slice(0, -1)), "Malformed");
  });

  it("round-trips sign → verify and refuses to sign what it would refuse", async () => {
    const alice = person(people, "alice");
    const bob = person(people, "bob");
    const carol = person(people, "carol");
    const s0 = MembershipState.empty("room-x");
    expect([s0.index, toHex(s0.head), s0.members.size]).toEqual([-1, "00".repeat(32), 0]);
    const e0 = await signMembershipEntry(
      s0,
      "create",
      [{ userId: "alice", role: ADMIN }],
      alice.device,
      alice.deviceCertificate,
      5,
    );
    const [s1] = s0.apply(e0, lookup());
    const e1 = await signMembershipEntry(
      s1,
      "add",
      [
        { userId: "carol", role: MEMBER },
        { userId: "bob", role: ADMIN },
      ],
      alice.device,
      alice.deviceCertificate,
      6,
    );
    const last = verifyMembershipLog("room-x", [e0, e1], lookup()).at(-1)!;
    expect([...last.admins()].sort()).toEqual(["alice", "bob"]);
    expect([...last.memberIds()].sort()).toEqual(["alice", "bob", "carol"]);
    expect(toHex(last.head)).toBe(toHex(membershipEntryHash(e1)));
    (last.members as Map<string, string>).set("mallory", ADMIN);
    expect(last.memberIds().has("mallory")).toBe(false);
    await expectCryptoError(
      () =>
        signMembershipEntry(
          last,
          "remove",
          [{ userId: "bob", role: REMOVED }],
          carol.device,
          carol.deviceCertificate,
          7,
        ),
      "NotAuthorized",
    );
    await expectCryptoError(
      () => signMembershipEntry(last, "leave", [], bob.device, bob.deviceCertificate, 7),
      "Malformed",
    );
    await expectCryptoError(
      () =>
        signMembershipEntry(
          last,
          "leave",
          [{ userId: "bob", role: REMOVED }],
          carol.device,
          bob.deviceCertificate,
          7,
        ),
      "ContextMismatch",
    );
  });

  it("refuses a server-inserted ghost entry", async () => {
    const mallory = person(people, "mallory");
    const head = verifyMembershipLog(CONV, LOG.slice(0, 2), lookup()).at(-1)!;
    const tbs = (signerUser: string, signerDevice: string) =>
      encode(MEMBERSHIP_LABEL, 1, [
        CONV,
        2,
        head.head,
        "add",
        signerUser,
        signerDevice,
        1,
        [encode(CHANGE_LABEL, 1, ["mallory", MEMBER])],
      ]);
    const ghost = tbs("mallory", "mallory-dev");
    await expectCryptoError(
      () =>
        verifyMembershipLog(
          CONV,
          [...LOG.slice(0, 2), encodeSigned(ghost, mallory.device.sign(ghost))],
          lookup(),
        ),
      "NotAuthorized",
    );
    const forged = tbs("alice", "alice-dev");
    await expectCryptoError(
      () => head.apply(encodeSigned(forged, mallory.device.sign(forged)), lookup()),
      "InvalidSignature",
    );
    await expectCryptoError(
      () => verifyMembershipLog(CONV, [LOG[0]!, LOG[2]!], lookup()),
      "ContextMismatch",
    );
  });
});
