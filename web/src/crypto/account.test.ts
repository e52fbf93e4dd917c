import { describe, expect, it } from "vitest";

import { createAccountKeys, rekeyAccount } from "@/crypto/account";
import { verifyDeviceCertificate } from "@/crypto/device";
import { DeviceKey } from "@/crypto/device";
import { toHex } from "@/crypto/encoding";
import { IdentityPublicKey } from "@/crypto/identity";
import { Secret } from "@/crypto/secret";
import { verifyPukCertificate } from "@/crypto/puk";
import { parseRecoveryCode } from "@/crypto/recovery";
import { unlockVault } from "@/crypto/vault";
import { counterRandom, expectCryptoError } from "@/test/vectors";

const USER = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const DEVICE = "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed";

describe("createAccountKeys", () => {
  it("makes a vault that opens with the password key and with the recovery code", async () => {
    const random = counterRandom();
    const passwordKey = new Secret(random(32));
    const device = DeviceKey.generate(random);
    const keys = await createAccountKeys(
      USER,
      passwordKey,
      1_700_000_000_000,
      { deviceId: DEVICE, publicKey: device.publicKey },
      random,
    );
    const ik = new IdentityPublicKey(keys.identity.publicKey);

    const [vk, contents] = unlockVault(keys.vault, USER, passwordKey);
    expect(toHex(vk.reveal())).toBe(toHex(keys.vaultKey.reveal()));
    expect(toHex(contents.identitySeed.reveal())).toBe(toHex(keys.identity.seed.reveal()));
    expect(contents.pukSeeds.map(([g]) => g)).toEqual([1]);

    const code = parseRecoveryCode(keys.recoveryCode.formatted());
    const [, viaRecovery] = unlockVault(keys.vault, USER, code.recoveryKey(), "recovery");
    expect(toHex(viaRecovery.encode())).toBe(toHex(contents.encode()));
    expect(toHex(keys.recoveryAuth)).toBe(toHex(code.recoveryAuth()));

    const puk = verifyPukCertificate(keys.pukCertificate, ik, USER);
    expect(puk.generation).toBe(1);
    expect(keys.deviceCertificate).not.toBeNull();
    const cert = verifyDeviceCertificate(keys.deviceCertificate!, ik, USER, DEVICE);
    expect(toHex(cert.publicKey)).toBe(toHex(device.publicKey));
  });

  it("certifies no device when none is given, and binds the user id", async () => {
    const random = counterRandom();
    const passwordKey = new Secret(random(32));
    const keys = await createAccountKeys(USER, passwordKey, 1, null, random);
    expect(keys.deviceCertificate).toBeNull();
    await expectCryptoError(() => unlockVault(keys.vault, "someone-else", passwordKey), "DecryptionFailed");
  });
});

describe("rekeyAccount", () => {
  it("keeps the identity, appends the next PUK generation, changes the vault key and code", async () => {
    const random = counterRandom();
    const passwordKey = new Secret(random(32));
    const first = await createAccountKeys(USER, passwordKey, 1, null, random);
    const second = await rekeyAccount(USER, first.contents, passwordKey, 2, random);

    expect(toHex(second.identity.publicKey)).toBe(toHex(first.identity.publicKey));
    expect(toHex(second.vaultKey.reveal())).not.toBe(toHex(first.vaultKey.reveal()));
    expect(second.recoveryCode.formatted()).not.toBe(first.recoveryCode.formatted());
    expect(second.deviceCertificate).toBeNull();

    const [, contents] = unlockVault(second.vault, USER, passwordKey);
    expect(contents.pukSeeds.map(([g]) => g)).toEqual([1, 2]);
    // The old generation's seed is kept: old history stays readable.
    expect(toHex(contents.pukSeed(1)!.reveal())).toBe(toHex(first.contents.pukSeed(1)!.reveal()));
    const cert = verifyPukCertificate(
      second.pukCertificate,
      new IdentityPublicKey(first.identity.publicKey),
      USER,
    );
    expect(cert.generation).toBe(2);

    // The old recovery code no longer opens the new vault.
    await expectCryptoError(
      () => unlockVault(second.vault, USER, first.recoveryCode.recoveryKey(), "recovery"),
      "DecryptionFailed",
    );
    const third = await rekeyAccount(USER, contents, passwordKey, 3, random);
    expect(third.contents.pukSeeds.map(([g]) => g)).toEqual([1, 2, 3]);
  });
});
