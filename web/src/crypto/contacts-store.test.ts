import { describe, expect, it } from "vitest";

import {
  contactsStoreKey,
  decodeContacts,
  encodeContacts,
  MAX_STORE_BYTES,
  openContactsStore,
  sealContactsStore,
  storeAad,
} from "@/crypto/contacts-store";
import { toHex } from "@/crypto/encoding";
import { seededRandom } from "@/crypto/random";
import { Secret } from "@/crypto/secret";
import { scriptedRandom } from "@/test/scripted-random";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("contacts_store.json");

describe("contacts_store.json", () => {
  for (const c of v.key) {
    it(`key ${c.name}`, () => {
      expect(toHex(contactsStoreKey(new Secret(hex(c.identity_seed))).reveal())).toBe(c.key);
    });
  }

  for (const c of v.seal) {
    it(`seal ${c.name} (byte for byte)`, () => {
      const seed = new Secret(hex(c.identity_seed));
      expect(toHex(encodeContacts(c.verified))).toBe(c.plaintext);
      expect(toHex(storeAad(c.user_id, c.version))).toBe(c.aad);
      const blob = sealContactsStore(seed, c.user_id, c.version, c.verified, scriptedRandom(hex(c.nonce)));
      expect(toHex(blob)).toBe(c.blob);
      expect(openContactsStore(seed, c.user_id, c.version, blob)).toEqual(c.verified);
    });
  }

  for (const c of v.open) {
    it(`open ${c.name}`, async () => {
      const run = () => openContactsStore(new Secret(hex(c.identity_seed)), c.user_id, c.version, hex(c.blob));
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        expect(run()).toEqual(c.expected);
      }
    });
  }

  for (const c of v.decode) {
    it(`decode ${c.name}`, async () => {
      const run = () => decodeContacts(hex(c.plaintext));
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        expect(run()).toEqual(c.expected);
      }
    });
  }
});

describe("contacts store", () => {
  it("uses a fresh nonce each time and refuses more than the server stores", async () => {
    const random = seededRandom(new Uint8Array([1, 2, 3]));
    const seed = new Secret(random(32));
    const verified = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`user-${String(i).padStart(5, "0")}`, toHex(random(32))]),
    );
    const first = sealContactsStore(seed, "alice", 5, verified, random);
    const second = sealContactsStore(seed, "alice", 5, verified, random);
    expect(toHex(first)).not.toBe(toHex(second));
    expect(openContactsStore(seed, "alice", 5, second)).toEqual(verified);
    await expectCryptoError(() => openContactsStore(new Secret(random(32)), "alice", 5, first), "DecryptionFailed");
    const tooMany = Object.fromEntries(
      Array.from({ length: MAX_STORE_BYTES / 100 }, (_, i) => [String(i).padStart(36, "0"), "ab".repeat(32)]),
    );
    await expectCryptoError(() => sealContactsStore(seed, "alice", 6, tooMany, random), "Malformed");
  });

  it("keeps an id named __proto__ as an ordinary entry", () => {
    const decoded = decodeContacts(encodeContacts(JSON.parse(`{"__proto__":"${"cd".repeat(32)}"}`)));
    expect(Object.keys(decoded)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it("refuses other store names and versions below one", async () => {
    await expectCryptoError(() => storeAad("alice", 1, "devices"), "Malformed");
    await expectCryptoError(() => storeAad("alice", 0), "Malformed");
  });
});
