import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { ConversationKey, KeySetStatement } from "@/crypto/conversation-key";
import { certifyDevice, DeviceKey } from "@/crypto/device";
import { openEnvelope, openEnvelopeAsync, sealEnvelope } from "@/crypto/envelope";
import { IdentityKey } from "@/crypto/identity";
import { type CofactorlessVerify, Ed25519Verifier } from "@/crypto/ed25519-verify";
import { detectWebCryptoCofactorless, webCryptoCofactorless } from "@/lib/webcrypto-ed25519";
import { counterRandom, expectCryptoError, hex, loadVectors } from "@/test/vectors";

describe("WebCrypto rule 6 (Node: OpenSSL)", () => {
  it("passes the self-test on this engine", async () => {
    expect(await detectWebCryptoCofactorless()).toBeTypeOf("function");
  });

  it("refuses an engine that answers like the cofactored equation", async () => {
    const cofactored = {
      importKey: crypto.subtle.importKey.bind(crypto.subtle),
      verify: () => Promise.resolve(true),
    } as unknown as SubtleCrypto;
    expect(await detectWebCryptoCofactorless(cofactored)).toBeUndefined();
    expect(await detectWebCryptoCofactorless(null)).toBeUndefined();
  });

  it("gives the same verdict as the JS verifier on every ed25519.json and Wycheproof vector", async () => {
    const rule6 = webCryptoCofactorless();
    const cases: { pub: string; msg: string; sig: string }[] = [
      ...loadVectors("ed25519.json").verify.map((c: any) => ({
        pub: c.public_key,
        msg: c.message,
        sig: c.signature,
      })),
      ...loadVectors("external/wycheproof/ed25519_test.json").testGroups.flatMap((g: any) =>
        g.tests.map((t: any) => ({ pub: g.publicKey.pk, msg: t.msg, sig: t.sig })),
      ),
    ];
    const differ: string[] = [];
    for (const c of cases) {
      const verifier = new Ed25519Verifier(hex(c.pub));
      const js = verifier.isValid(hex(c.msg), hex(c.sig));
      const wc = await verifier.isValidAsync(hex(c.msg), hex(c.sig), rule6);
      if (js !== wc) differ.push(`${c.pub.slice(0, 8)}… ${c.sig.slice(0, 8)}…: js=${js} webcrypto=${wc}`);
    }
    expect(cases.length).toBeGreaterThan(150);
    expect(differ).toEqual([]);
  });

  it("openEnvelopeAsync opens what openEnvelope opens and rejects the same tampering", async () => {
    const random = counterRandom();
    const identity = IdentityKey.generate(random);
    const device = DeviceKey.generate(random);
    const cert = certifyDevice(identity, "alice", "d1", device.publicKey, 1);
    const key = new ConversationKey("conv", 1, random(32));
    const keySet = new KeySetStatement("conv", 1, "alice", "d1", 0, [
      { userId: "alice", pukGeneration: 1 },
    ], new Uint8Array(32), new Uint8Array(0));
    const context = {
      conversationId: "conv",
      keys: new Map([[1, key]]),
      keySets: new Map([[1, keySet]]),
      senderCertificate: cert,
    };
    const rule6: CofactorlessVerify = webCryptoCofactorless();
    const envelope = await sealEnvelope(key, device, {
      senderUserId: "alice",
      senderDeviceId: "d1",
      clientMessageId: "m",
      timestamp: 1,
      counter: 1,
      plaintext: new TextEncoder().encode("hello"),
      random,
    });
    const sync = openEnvelope(envelope, context);
    const fast = await openEnvelopeAsync(envelope, context, rule6);
    expect(fast.plaintext).toEqual(sync.plaintext);
    const tampered = envelope.slice();
    tampered[tampered.length - 70] = (tampered[tampered.length - 70] ?? 0) ^ 1;
    await expectCryptoError(() => openEnvelopeAsync(tampered, context, rule6), "InvalidSignature");
    await expectCryptoError(() => openEnvelope(tampered, context), "InvalidSignature");
  });

  it("has self-test vectors that are still in spec/vectors/ed25519.json", () => {
    const source = readFileSync(new URL("./webcrypto-ed25519.ts", import.meta.url), "utf8");
    const names = ["valid", "rule6_r_with_torsion_cofactored_only", "rule6_mixed_order_a_k_not_multiple_of_8", "rule6_mixed_order_a_k_multiple_of_8"];
    for (const c of loadVectors("ed25519.json").verify.filter((v: any) => names.includes(v.name))) {
      expect(source).toContain(c.signature);
      expect(source).toContain(c.public_key);
    }
  });
});
