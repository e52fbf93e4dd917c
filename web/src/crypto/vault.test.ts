import { inspect } from "node:util";

import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { Secret } from "@/crypto/secret";
import {
  createVault,
  openVault,
  rewrapForNewPassword,
  unlockVault,
  unwrapVaultKey,
  VaultContents,
  VaultKey,
  type WrapKind,
} from "@/crypto/vault";
import { scriptedRandom } from "@/test/scripted-random";
import { counterRandom, expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("vault.json");

describe("vault.json: create (byte for byte)", () => {
  for (const c of v.create) {
    it(c.name, () => {
      const contents = VaultContents.create(
        hex(c.identity_seed),
        c.puk_seeds.map((p: any) => [p.generation, hex(p.seed)] as const),
      );
      expect(toHex(contents.encode())).toBe(c.contents);
      const random = scriptedRandom(
        hex(c.vault_key),
        hex(c.vault_nonce),
        hex(c.password_nonce),
        hex(c.recovery_nonce),
      );
      const [vaultKey, sealed] = createVault(
        contents,
        c.user_id,
        new Secret(hex(c.password_key)),
        new Secret(hex(c.recovery_key)),
        random,
      );
      expect(toHex(vaultKey.reveal())).toBe(c.vault_key);
      expect(toHex(sealed.sealed)).toBe(c.sealed_vault);
      expect(toHex(sealed.passwordWrapping)).toBe(c.password_wrapping);
      expect(toHex(sealed.recoveryWrapping)).toBe(c.recovery_wrapping);

      const [, opened] = unlockVault(sealed, c.user_id, new Secret(hex(c.recovery_key)), "recovery");
      expect(toHex(opened.encode())).toBe(c.contents);
      expect(opened.latestPukGeneration).toBe(2);
    });
  }
});

describe("vault.json: unwrap", () => {
  for (const c of v.unwrap) {
    it(c.name, async () => {
      const run = () =>
        unwrapVaultKey(new Secret(hex(c.wrapping_key)), hex(c.wrapped), c.user_id, c.kind as WrapKind);
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        expect(toHex(run().reveal())).toBe(c.vault_key);
      }
    });
  }
});

describe("vault.json: open", () => {
  for (const c of v.open) {
    it(c.name, async () => {
      const run = () => openVault(new VaultKey(hex(c.vault_key)), hex(c.sealed_vault), c.user_id);
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        expect(toHex(run().encode())).toBe(c.contents);
      }
    });
  }
});

describe("vault.json: contents_decode", () => {
  for (const c of v.contents_decode) {
    it(c.name, async () => {
      await expectCryptoError(() => VaultContents.decode(hex(c.contents)), c.error);
    });
  }
});

describe("vault operations", () => {
  it("password change keeps the vault key and contents", () => {
    const random = counterRandom();
    const contents = VaultContents.create(new Uint8Array(32).fill(1), [[1, new Uint8Array(32)]]);
    const oldKey = new Secret(new Uint8Array(32).fill(2));
    const newKey = new Secret(new Uint8Array(32).fill(3));
    const [vk, vault] = createVault(contents, "u", oldKey, new Secret(new Uint8Array(32)), random);
    const rewrapped = rewrapForNewPassword(vault.passwordWrapping, "u", oldKey, newKey, random);
    const [vk2, opened] = unlockVault({ ...vault, passwordWrapping: rewrapped }, "u", newKey);
    expect(vk2.equals(vk)).toBe(true);
    expect(toHex(opened.encode())).toBe(toHex(contents.encode()));
    expect(() => unlockVault({ ...vault, passwordWrapping: rewrapped }, "u", oldKey)).toThrow();
  });

  it("never prints seeds or keys", () => {
    const contents = VaultContents.create(new Uint8Array(32).fill(0xcd), [
      [1, new Uint8Array(32).fill(0xcd)],
    ]).withPuk(2, new Uint8Array(32).fill(0xcd));
    const vk = new VaultKey(new Uint8Array(32).fill(0xcd));
    for (const thing of [contents, vk]) {
      const text = String(thing) + JSON.stringify(thing) + inspect(thing, { depth: 9 });
      expect(text).not.toContain("cdcdcd");
      expect(text).not.toContain("205,205");
    }
    expect(String(contents)).toContain("pukGenerations=[1, 2]");
  });
});
