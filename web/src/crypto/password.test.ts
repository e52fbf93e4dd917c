import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { deriveMaster, derivePasswordKeys, KdfParams, normalizePassword } from "@/crypto/password";
import { hashWasmArgon2id } from "@/lib/argon2-hash-wasm";
import { expectCryptoError, loadVectors } from "@/test/vectors";

const v = loadVectors("password.json");

describe("password.json: derive (Argon2id m=64 MiB t=3 p=1 via hash-wasm)", () => {
  for (const c of v.derive) {
    it(c.name, async () => {
      const params = KdfParams.fromJSON(c.params);
      const master = await deriveMaster(c.password, params, hashWasmArgon2id);
      expect(toHex(master.reveal())).toBe(c.master);
      const keys = await derivePasswordKeys(c.password, params, () => Promise.resolve(master.reveal()));
      expect(toHex(keys.passwordKey.reveal())).toBe(c.password_key);
      expect(toHex(keys.authSecret.reveal())).toBe(c.auth_secret);
      expect(JSON.stringify(keys)).not.toContain(c.auth_secret.slice(0, 16));
    });
  }
});

describe("password.json: params", () => {
  for (const c of v.params) {
    it(c.name, async () => {
      if (c.error) {
        await expectCryptoError(() => KdfParams.fromJSON(c.params), c.error);
      } else {
        expect(KdfParams.fromJSON(c.params).toJSON()).toEqual(c.params);
      }
    });
  }
});

describe("password rules", () => {
  it("refuses an empty password before running Argon2id", async () => {
    await expectCryptoError(() => normalizePassword(""), "Malformed");
  });

  it("never calls Argon2id with weak parameters", async () => {
    let called = false;
    const weak = new KdfParams({ salt: new Uint8Array(16), memoryKib: 1024 });
    await expectCryptoError(
      () =>
        deriveMaster("pw", weak, () => {
          called = true;
          return Promise.resolve(new Uint8Array(32));
        }),
      "WeakParameters",
    );
    expect(called).toBe(false);
  });
});
