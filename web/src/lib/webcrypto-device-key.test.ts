import { describe, expect, it } from "vitest";

import { ConversationKey } from "@/crypto/conversation-key";
import { certifyDevice } from "@/crypto/device";
import { openEnvelope, sealEnvelope } from "@/crypto/envelope";
import { IdentityKey } from "@/crypto/identity";
import { ed25519IsValid } from "@/crypto/ed25519-verify";
import { KeySetStatement } from "@/crypto/conversation-key";
import { WebCryptoDeviceKey } from "@/lib/webcrypto-device-key";
import { counterRandom } from "@/test/vectors";

describe("WebCrypto device key (non-extractable Ed25519)", () => {
  it("cannot be exported, and its signatures pass the strict verifier", async () => {
    const device = await WebCryptoDeviceKey.generate();
    await expect(crypto.subtle.exportKey("pkcs8", device.keyPair.privateKey)).rejects.toThrow();
    const message = new TextEncoder().encode("hushroom");
    expect(ed25519IsValid(device.publicKey, message, await device.sign(message))).toBe(true);
  });

  it("seals envelopes that open under its certificate", async () => {
    const random = counterRandom();
    const device = await WebCryptoDeviceKey.generate();
    const identity = IdentityKey.generate(random);
    const cert = certifyDevice(identity, "alice", "browser-1", device.publicKey, 1);
    const key = new ConversationKey("conv", 1, random(32));
    const envelope = await sealEnvelope(key, device, {
      senderUserId: "alice",
      senderDeviceId: "browser-1",
      clientMessageId: "m1",
      timestamp: 1,
      counter: 1,
      plaintext: new TextEncoder().encode("hi"),
      random,
    });
    const keySet = new KeySetStatement("conv", 1, "alice", "browser-1", 0, [
      { userId: "alice", pukGeneration: 1 },
    ], new Uint8Array(32), new Uint8Array(0));
    const opened = openEnvelope(envelope, {
      conversationId: "conv",
      keys: new Map([[1, key]]),
      keySets: new Map([[1, keySet]]),
      senderCertificate: cert,
    });
    expect(new TextDecoder().decode(opened.plaintext)).toBe("hi");
  });
});
