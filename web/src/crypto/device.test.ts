import { describe, expect, it } from "vitest";

import { certifyDevice, DeviceKey, verifyDeviceCertificate } from "@/crypto/device";
import { toHex } from "@/crypto/encoding";
import { IdentityKey, IdentityPublicKey } from "@/crypto/identity";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("device.json");

describe("device.json: certify (byte for byte)", () => {
  for (const c of v.certify) {
    it(c.name, () => {
      const identity = IdentityKey.fromSeed(hex(c.identity_seed));
      expect(toHex(identity.publicKey)).toBe(c.identity_public);
      const device = new DeviceKey(hex(c.device_seed));
      expect(toHex(device.publicKey)).toBe(c.device_public);
      const cert = certifyDevice(identity, c.user_id, c.device_id, device.publicKey, c.created_at);
      expect(toHex(cert.encoded)).toBe(c.certificate);
    });
  }
});

describe("device.json: verify", () => {
  for (const c of v.verify) {
    it(c.name, async () => {
      const run = () =>
        verifyDeviceCertificate(
          hex(c.certificate),
          new IdentityPublicKey(hex(c.identity_public)),
          c.user_id,
          c.device_id,
        );
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        const cert = run();
        expect(cert.deviceId).toBe(c.device_id);
      }
    });
  }
});

describe("device keys", () => {
  it("refuses to certify a small-order device key", async () => {
    const identity = IdentityKey.fromSeed(new Uint8Array(32).fill(1));
    const smallOrder = hex("0100000000000000000000000000000000000000000000000000000000000000");
    await expectCryptoError(() => certifyDevice(identity, "u", "d", smallOrder, 0), "InvalidPublicKey");
  });

  it("refuses an identity public key of small order", async () => {
    await expectCryptoError(() => new IdentityPublicKey(new Uint8Array(32)), "InvalidPublicKey");
  });
});
