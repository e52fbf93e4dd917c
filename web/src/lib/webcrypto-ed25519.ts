/**
 * Rule 6 of docs/crypto.md §4.1 (the cofactorless Ed25519 equation) through WebCrypto, for the
 * crypto core's `openEnvelopeAsync` / `Ed25519Verifier.isValidAsync`. The core still checks
 * rules 1–5 itself; this only replaces the BigInt arithmetic (~10× faster).
 *
 * Engines differ, so `detectWebCryptoCofactorless` first proves on this engine, with torsion
 * vectors from `spec/vectors/ed25519.json`, that WebCrypto computes exactly the cofactorless
 * equation; otherwise it returns `undefined` and the core keeps its own (slower) check.
 */

import { fromHex } from "@/crypto/encoding";
import type { CofactorlessVerify } from "@/crypto/ed25519-verify";

const ED25519 = { name: "Ed25519" } as const;

/** [name, expected, public key, message, signature] — cofactored and cofactorless disagree on the rule6 cases. */
const SELF_TEST: readonly [string, boolean, string, string, string][] = [
  [
    "valid",
    true,
    "9a4fe0509e3f905ceebee446c9306259f4e9c41c5cbc03c5f3bdc01e7303b5f6",
    "68757368726f6f6d2065643235353139207374726963742072756c65",
    "6ad0cb3725cbabf26c93163e15819ffac9c75d81b3aa72d044fcc4510b80c823ad4dd29e35bce4e06affe6ffa34860e8ee352aea96f8878765c0a8bab61cee0c",
  ],
  [
    "rule6_r_with_torsion_cofactored_only",
    false,
    "b8761ad71d6135a52c1f2e30f18ec8f1e21af3aa91f6d04d05bf16a4141bfe85",
    "68757368726f6f6d2065643235353139207374726963742072756c65",
    "5bef8045564a4aec62b579d37086494b17e7ff61c9017cc8c654582eafe12d261c34020457372db26ad0b1cf156c43d1aa4088a77ec73a3ab78cc0e77dcfbe00",
  ],
  [
    "rule6_mixed_order_a_k_not_multiple_of_8",
    false,
    "9d80fe6fd79ebc8aefda7d3fdd255b6a49112daa37de51943c1c43f0e240a727",
    "68757368726f6f6d2065643235353139207374726963742072756c6500000000",
    "91381c3a0d754258707a751c924ef8ed9d07767cdb09e2eccf82e7da1bd09325bff8ee25fcb15f8ca9e6afb1df5614aeba7c38e57f81b001fae9e0511f4fa800",
  ],
  [
    "rule6_mixed_order_a_k_multiple_of_8",
    true,
    "9d80fe6fd79ebc8aefda7d3fdd255b6a49112daa37de51943c1c43f0e240a727",
    "68757368726f6f6d2065643235353139207374726963742072756c650000000f",
    "91381c3a0d754258707a751c924ef8ed9d07767cdb09e2eccf82e7da1bd09325390564ab0a43223295a7debe061114f98e1f9271ff52330c780f7196dbfef003",
  ],
];

const MAX_CACHED_KEYS = 256;

/** WebCrypto Ed25519 verification; imported public keys are cached (by hex) for a resync. */
export function webCryptoCofactorless(subtle: SubtleCrypto = crypto.subtle): CofactorlessVerify {
  const keys = new Map<string, Promise<CryptoKey>>();
  return async (publicKey, message, signature) => {
    const id = Array.from(publicKey, (b) => b.toString(16).padStart(2, "0")).join("");
    let key = keys.get(id);
    if (key === undefined) {
      if (keys.size >= MAX_CACHED_KEYS) keys.clear();
      key = subtle.importKey("raw", publicKey.slice(), ED25519, false, ["verify"]);
      keys.set(id, key);
    }
    return subtle.verify(ED25519, await key, signature.slice(), message.slice());
  };
}

/**
 * The WebCrypto rule-6 verifier if this engine supports Ed25519 and gives the cofactorless
 * answer on every self-test vector; otherwise `undefined` (use the core's own check).
 */
export async function detectWebCryptoCofactorless(
  subtle: SubtleCrypto | null = globalThis.crypto.subtle,
): Promise<CofactorlessVerify | undefined> {
  // `crypto.subtle` is undefined outside secure contexts, whatever the DOM types say.
  const engine = subtle as SubtleCrypto | null | undefined;
  if (engine === null || engine === undefined) return undefined;
  const verify = webCryptoCofactorless(engine);
  try {
    for (const [, expected, pub, msg, sig] of SELF_TEST) {
      const ok = await verify(fromHex(pub), fromHex(msg), fromHex(sig)).catch(() => false);
      if (ok !== expected) return undefined;
    }
  } catch {
    return undefined;
  }
  return verify;
}
