/**
 * Micro-benchmark of the TypeScript crypto core in Node (hash-wasm Argon2id, noble, @hpke).
 * Prints one JSON document. `npm run bench:crypto` (optionally `-- --quick`).
 *
 * Figures: envelope seal/open per message; key-set creation (seal CK to every member) and the
 * receiver's verify + open for 2/10/100 members; vault unlock (Argon2id m=64 MiB t=3 p=1 + HKDF
 * + unwrap + open); safety number.
 */

import { webcrypto } from "node:crypto";
import { performance } from "node:perf_hooks";

import {
  createKeySet,
  KeySetUpload,
  openKeySet,
  verifyKeySet,
} from "@/crypto/conversation-key";
import { certifyDevice, DeviceKey, type DeviceCertificate } from "@/crypto/device";
import { openEnvelope, openEnvelopeAsync, sealEnvelope } from "@/crypto/envelope";
import { IdentityKey } from "@/crypto/identity";
import { derivePasswordKeys, KdfParams } from "@/crypto/password";
import type { RandomSource } from "@/crypto/random";
import { certifyPuk, PukKeyPair, type PukCertificate } from "@/crypto/puk";
import { deriveRecoveryKey, generateRecoveryCode } from "@/crypto/recovery";
import { safetyNumber } from "@/crypto/safety-number";
import { createVault, unlockVault, VaultContents } from "@/crypto/vault";
import { hashWasmArgon2id } from "@/lib/argon2-hash-wasm";
import { detectWebCryptoCofactorless } from "@/lib/webcrypto-ed25519";

const random: RandomSource = (n) => webcrypto.getRandomValues(new Uint8Array(n));
const quick = process.argv.includes("--quick");

interface Stats {
  n: number;
  mean_ms: number;
  p50_ms: number;
  p95_ms: number;
  per_second: number;
}

async function measure(n: number, fn: () => unknown): Promise<Stats> {
  for (let i = 0; i < Math.min(3, n); i++) await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / n;
  const at = (q: number) => times[Math.min(n - 1, Math.floor(q * n))] ?? 0;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n,
    mean_ms: round(mean),
    p50_ms: round(at(0.5)),
    p95_ms: round(at(0.95)),
    per_second: Math.round(1000 / mean),
  };
}

interface Member {
  userId: string;
  device: DeviceKey;
  deviceCertificate: DeviceCertificate;
  puk: PukKeyPair;
  pukCertificate: PukCertificate;
}

async function member(i: number): Promise<Member> {
  const userId = `user-${String(i).padStart(4, "0")}`;
  const identity = IdentityKey.generate(random);
  const device = DeviceKey.generate(random);
  const puk = await PukKeyPair.generate(1, random);
  return {
    userId,
    device,
    deviceCertificate: certifyDevice(identity, userId, "dev", device.publicKey, 0),
    puk,
    pukCertificate: certifyPuk(identity, userId, puk, 0),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const everyone = await Promise.all(Array.from({ length: 100 }, (_, i) => member(i)));
  const alice = everyone[0]!;
  const bob = everyone[1]!;

  // --- envelopes --------------------------------------------------------------------------
  const [key, upload] = await createKeySet(
    "conv", 1, alice.device, alice.deviceCertificate, [alice.pukCertificate, bob.pukCertificate], 0, random,
  );
  const statement = verifyKeySet(upload.statement, alice.deviceCertificate, "conv", 1, [
    alice.userId,
    bob.userId,
  ]);
  const plaintext = new TextEncoder().encode(
    JSON.stringify({ type: "text", body: "x".repeat(200) }),
  );
  let counter = 0;
  const seal = () =>
    sealEnvelope(key, alice.device, {
      senderUserId: alice.userId,
      senderDeviceId: "dev",
      clientMessageId: `m-${counter}`,
      timestamp: 1764201600000,
      counter: ++counter,
      plaintext,
      random,
    });
  const envelope = await seal();
  const context = {
    conversationId: "conv",
    keys: new Map([[1, key]]),
    keySets: new Map([[1, statement]]),
    senderCertificate: alice.deviceCertificate,
  };
  const messages = quick ? 100 : 1000;
  const envelopeSeal = await measure(messages, seal);
  const envelopeOpen = await measure(messages, () => openEnvelope(envelope, context));
  const rule6 = await detectWebCryptoCofactorless();
  const envelopeOpenWebCrypto =
    rule6 === undefined
      ? null
      : await measure(messages, () => openEnvelopeAsync(envelope, context, rule6));

  // --- key sets -----------------------------------------------------------------------------
  const keySets: Record<string, { create: Stats; verify_and_open: Stats; upload_bytes: number }> =
    {};
  for (const size of [2, 10, 100]) {
    const members = everyone.slice(0, size);
    const certs = members.map((m) => m.pukCertificate);
    const ids = members.map((m) => m.userId);
    const runs = quick ? 3 : size === 100 ? 5 : 20;
    const create = () =>
      createKeySet("conv", 2, alice.device, alice.deviceCertificate, certs, 0, random);
    const [, made] = await create();
    const encoded = made.encode();
    const receiver = members[members.length - 1]!;
    const puks = new Map([[1, receiver.puk]]);
    keySets[String(size)] = {
      create: await measure(runs, create),
      verify_and_open: await measure(quick ? 5 : 20, async () => {
        const decoded = KeySetUpload.decode(encoded);
        const verified = verifyKeySet(decoded.statement, alice.deviceCertificate, "conv", 2, ids);
        await openKeySet(verified, decoded.boxes.get(receiver.userId)!, receiver.userId, puks);
      }),
      upload_bytes: encoded.length,
    };
  }

  // --- vault unlock -------------------------------------------------------------------------
  const params = KdfParams.generate(random);
  const password = "correct horse battery staple";
  const passwordKeys = await derivePasswordKeys(password, params, hashWasmArgon2id);
  const code = generateRecoveryCode(random);
  const contents = VaultContents.create(random(32), [
    [1, random(32)],
    [2, random(32)],
  ]);
  const [, vault] = createVault(contents, "user", passwordKeys.passwordKey, deriveRecoveryKey(code), random);
  const unlockRuns = quick ? 2 : 5;
  const vaultUnlock = await measure(unlockRuns, async () => {
    const keys = await derivePasswordKeys(password, params, hashWasmArgon2id);
    unlockVault(vault, "user", keys.passwordKey);
  });
  const vaultOpenOnly = await measure(quick ? 20 : 200, () =>
    unlockVault(vault, "user", passwordKeys.passwordKey),
  );

  const [a, b] = [IdentityKey.generate(random).public(), IdentityKey.generate(random).public()];
  const safety = await measure(quick ? 5 : 20, () => safetyNumber(a, b));

  const report = {
    runtime: `node ${process.version}`,
    quick,
    envelope: {
      plaintext_bytes: plaintext.length,
      envelope_bytes: envelope.length,
      seal: envelopeSeal,
      open: envelopeOpen,
      open_webcrypto_rule6: envelopeOpenWebCrypto,
    },
    key_set: keySets,
    vault: {
      argon2id: { m_kib: params.memoryKib, t: params.iterations, p: params.parallelism },
      unlock_with_argon2id: vaultUnlock,
      unwrap_and_open_only: vaultOpenOnly,
    },
    safety_number: safety,
    total_seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
