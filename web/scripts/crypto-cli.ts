/**
 * Cross-language bridge to the TypeScript crypto core, for `tests/crypto/test_cross_language.py`.
 *
 * Reads one JSON request (or a JSON array of requests) on stdin and writes one JSON response
 * (or an array) on stdout. With `--lines`, it serves newline-delimited requests until stdin
 * closes (one Node start-up for a whole test module). Bytes are lowercase hex, as in `spec/vectors/*.json`. Errors come back
 * as `{"ok": false, "error": "<CryptoError class name>", "message": "…"}`.
 *
 *   echo '{"op":"create_person","user_id":"alice","device_id":"d1"}' | npx tsx scripts/crypto-cli.ts
 *
 * Ops: create_person, verify_device_certificate, verify_puk_certificate, create_key_set,
 * open_key_set, seal_envelope, open_envelope, create_vault (alias seal_vault), unlock_vault
 * (alias open_vault), derive_password_keys, recovery_code, safety_number.
 * Accounts (decision 0003): create_account, rekey_account, open_account.
 * Membership log (docs/crypto.md §8.6): verify_membership_log, sign_membership_entry.
 */

import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

import { createAccountKeys, rekeyAccount, type AccountKeys } from "@/crypto/account";
import {
  createKeySet,
  KeySetUpload,
  openKeySet,
  verifyKeySet,
} from "@/crypto/conversation-key";
import { ConversationKey } from "@/crypto/conversation-key";
import {
  certifyDevice,
  type DeviceCertificate,
  DeviceKey,
  verifyDeviceCertificate,
} from "@/crypto/device";
import { fromHex, fromUtf8, toHex } from "@/crypto/encoding";
import { openEnvelope, sealEnvelope } from "@/crypto/envelope";
import { CryptoError } from "@/crypto/errors";
import { IdentityKey, IdentityPublicKey } from "@/crypto/identity";
import {
  type CertificateLookup,
  type MembershipAction,
  type MembershipRole,
  MembershipState,
  signMembershipEntry,
  verifyMembershipLog,
} from "@/crypto/membership";
import { derivePasswordKeys, KdfParams } from "@/crypto/password";
import type { RandomSource } from "@/crypto/random";
import { Secret } from "@/crypto/secret";
import { certifyPuk, PukKeyPair, verifyPukCertificate } from "@/crypto/puk";
import { deriveRecoveryKey, generateRecoveryCode, parseRecoveryCode } from "@/crypto/recovery";
import { deriveRecoveryAuth } from "@/crypto/recovery";
import { safetyNumber } from "@/crypto/safety-number";
import { createVault, unlockVault, VaultContents, type WrapKind } from "@/crypto/vault";
import { hashWasmArgon2id } from "@/lib/argon2-hash-wasm";

type Json = Record<string, any>;

const random: RandomSource = (n) => webcrypto.getRandomValues(new Uint8Array(n));

function str(req: Json, key: string): string {
  const value = req[key];
  if (typeof value !== "string") throw new TypeError(`missing string field ${key}`);
  return value;
}

function num(req: Json, key: string): number {
  const value = req[key];
  if (typeof value !== "number") throw new TypeError(`missing number field ${key}`);
  return value;
}

function bytes(req: Json, key: string): Uint8Array {
  return fromHex(str(req, key));
}

function deviceCertificate(req: Json, prefix: string) {
  return verifyDeviceCertificate(
    bytes(req, `${prefix}_device_certificate`),
    new IdentityPublicKey(bytes(req, `${prefix}_identity_public`)),
    str(req, `${prefix}_user_id`),
  );
}

async function puks(list: readonly Json[]): Promise<Map<number, PukKeyPair>> {
  const out = new Map<number, PukKeyPair>();
  for (const p of list) {
    out.set(num(p, "generation"), await PukKeyPair.create(num(p, "generation"), bytes(p, "seed")));
  }
  return out;
}

/** The public parts and the kept secrets of an account, as `create_account`/`rekey_account` answer. */
function accountWire(keys: AccountKeys): Json {
  return {
    user_id: keys.userId,
    identity_public: toHex(keys.identity.publicKey),
    identity_seed: toHex(keys.identity.seed.reveal()),
    puk_certificate: toHex(keys.pukCertificate),
    device_certificate: keys.deviceCertificate === null ? null : toHex(keys.deviceCertificate),
    sealed_vault: toHex(keys.vault.sealed),
    password_wrapping: toHex(keys.vault.passwordWrapping),
    recovery_wrapping: toHex(keys.vault.recoveryWrapping),
    vault_key: toHex(keys.vaultKey.reveal()),
    recovery_code: keys.recoveryCode.formatted(),
    recovery_auth: toHex(keys.recoveryAuth),
    puk_seeds: keys.contents.pukSeeds.map(([g, s]) => ({ generation: g, seed: toHex(s.reveal()) })),
  };
}

function vaultContents(req: Json): VaultContents {
  return VaultContents.create(
    bytes(req, "identity_seed"),
    (req.puk_seeds as Json[]).map((p) => [num(p, "generation"), bytes(p, "seed")] as const),
  );
}

/** `certificates: [{user_id, identity_public, device_certificate}]`, each verified here. */
function membershipLookup(req: Json): CertificateLookup {
  const certs = new Map<string, DeviceCertificate>();
  for (const c of req.certificates as Json[]) {
    const cert = verifyDeviceCertificate(
      bytes(c, "device_certificate"),
      new IdentityPublicKey(bytes(c, "identity_public")),
      str(c, "user_id"),
    );
    certs.set(JSON.stringify([cert.userId, cert.deviceId]), cert);
  }
  return (userId, deviceId) => certs.get(JSON.stringify([userId, deviceId])) ?? null;
}

function membershipStates(req: Json, lookup: CertificateLookup): MembershipState[] {
  return verifyMembershipLog(
    str(req, "conversation_id"),
    (req.entries as string[]).map((e) => fromHex(e)),
    lookup,
  );
}

function membershipStateWire(state: MembershipState): Json {
  return {
    index: state.index,
    head: toHex(state.head),
    members: Object.fromEntries([...state.members].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}

const ops: Record<string, (req: Json) => Promise<Json> | Json> = {
  verify_membership_log(req) {
    return { states: membershipStates(req, membershipLookup(req)).map(membershipStateWire) };
  },

  async sign_membership_entry(req) {
    // Signs the entry after `entries` as `signer_user_id`/`signer_device_id` (from `certificates`).
    const lookup = membershipLookup(req);
    const state =
      membershipStates(req, lookup).at(-1) ?? MembershipState.empty(str(req, "conversation_id"));
    const certificate = lookup(str(req, "signer_user_id"), str(req, "signer_device_id"));
    if (certificate === null || certificate === undefined) {
      throw new TypeError("no certificate for the signer");
    }
    const entry = await signMembershipEntry(
      state,
      str(req, "action") as MembershipAction,
      (req.changes as [string, string][]).map(([userId, role]) => ({
        userId,
        role: role as MembershipRole,
      })),
      new DeviceKey(bytes(req, "device_seed")),
      certificate,
      num(req, "created_at"),
    );
    return { entry: toHex(entry) };
  },

  async create_person(req) {
    const createdAt = typeof req.created_at === "number" ? req.created_at : 1764201600000;
    const userId = str(req, "user_id");
    const identity = IdentityKey.generate(random);
    const device = DeviceKey.generate(random);
    const puk = await PukKeyPair.generate(
      typeof req.puk_generation === "number" ? req.puk_generation : 1,
      random,
    );
    return {
      user_id: userId,
      device_id: str(req, "device_id"),
      identity_seed: toHex(identity.seed.reveal()),
      identity_public: toHex(identity.publicKey),
      device_seed: toHex(device.seed.reveal()),
      device_certificate: toHex(
        certifyDevice(identity, userId, str(req, "device_id"), device.publicKey, createdAt).encoded,
      ),
      puk_generation: puk.generation,
      puk_seed: toHex(puk.seed.reveal()),
      puk_certificate: toHex(certifyPuk(identity, userId, puk, createdAt).encoded),
    };
  },

  verify_device_certificate(req) {
    const cert = verifyDeviceCertificate(
      bytes(req, "certificate"),
      new IdentityPublicKey(bytes(req, "identity_public")),
      str(req, "user_id"),
      typeof req.device_id === "string" ? req.device_id : undefined,
    );
    return {
      user_id: cert.userId,
      device_id: cert.deviceId,
      public_key: toHex(cert.publicKey),
      created_at: cert.createdAt,
    };
  },

  verify_puk_certificate(req) {
    const cert = verifyPukCertificate(
      bytes(req, "certificate"),
      new IdentityPublicKey(bytes(req, "identity_public")),
      str(req, "user_id"),
    );
    return {
      user_id: cert.userId,
      generation: cert.generation,
      public_key: toHex(cert.publicKey),
      created_at: cert.createdAt,
    };
  },

  async create_key_set(req) {
    const creator = deviceCertificate(req, "creator");
    const members = (req.members as Json[]).map((m) =>
      verifyPukCertificate(
        bytes(m, "puk_certificate"),
        new IdentityPublicKey(bytes(m, "identity_public")),
        str(m, "user_id"),
      ),
    );
    const [key, upload] = await createKeySet(
      str(req, "conversation_id"),
      num(req, "generation"),
      new DeviceKey(bytes(req, "creator_device_seed")),
      creator,
      members,
      num(req, "created_at"),
      random,
    );
    return {
      conversation_key: toHex(key.reveal()),
      commitment: toHex(key.commitment()),
      statement: toHex(upload.statement),
      upload: toHex(upload.encode()),
      boxes: Object.fromEntries([...upload.boxes].map(([id, box]) => [id, toHex(box)])),
    };
  },

  async open_key_set(req) {
    const upload = KeySetUpload.decode(bytes(req, "upload"));
    const statement = verifyKeySet(
      upload.statement,
      deviceCertificate(req, "creator"),
      str(req, "conversation_id"),
      num(req, "generation"),
      req.expected_members as string[],
    );
    const userId = str(req, "user_id");
    const box = upload.boxes.get(userId) ?? new Uint8Array(0);
    const key = await openKeySet(statement, box, userId, await puks(req.puk_seeds as Json[]));
    return {
      conversation_key: toHex(key.reveal()),
      members: statement.members.map((m) => [m.userId, m.pukGeneration]),
      created_at: statement.createdAt,
    };
  },

  async seal_envelope(req) {
    const key = new ConversationKey(
      str(req, "conversation_id"),
      num(req, "generation"),
      bytes(req, "conversation_key"),
    );
    const envelope = await sealEnvelope(key, new DeviceKey(bytes(req, "device_seed")), {
      senderUserId: str(req, "sender_user_id"),
      senderDeviceId: str(req, "sender_device_id"),
      clientMessageId: str(req, "client_message_id"),
      timestamp: num(req, "timestamp"),
      counter: num(req, "counter"),
      plaintext: bytes(req, "plaintext"),
      random,
    });
    return { envelope: toHex(envelope) };
  },

  open_envelope(req) {
    const conversationId = str(req, "conversation_id");
    const generation = num(req, "generation");
    const upload = KeySetUpload.decode(bytes(req, "key_set_upload"));
    const keySet = verifyKeySet(
      upload.statement,
      deviceCertificate(req, "creator"),
      conversationId,
      generation,
      req.expected_members as string[],
    );
    const opened = openEnvelope(bytes(req, "envelope"), {
      conversationId,
      keys: new Map([
        [generation, new ConversationKey(conversationId, generation, bytes(req, "conversation_key"))],
      ]),
      keySets: new Map([[generation, keySet]]),
      senderCertificate: deviceCertificate(req, "sender"),
    });
    const h = opened.header;
    return {
      plaintext: toHex(opened.plaintext),
      header: {
        conversation_id: h.conversationId,
        generation: h.generation,
        sender_user_id: h.senderUserId,
        sender_device_id: h.senderDeviceId,
        client_message_id: h.clientMessageId,
        timestamp: h.timestamp,
        counter: h.counter,
      },
    };
  },

  create_vault(req) {
    const contents = VaultContents.create(
      bytes(req, "identity_seed"),
      (req.puk_seeds as Json[]).map((p) => [num(p, "generation"), bytes(p, "seed")] as const),
    );
    const [vaultKey, vault] = createVault(
      contents,
      str(req, "user_id"),
      new Secret(bytes(req, "password_key")),
      new Secret(bytes(req, "recovery_key")),
      random,
    );
    return {
      vault_key: toHex(vaultKey.reveal()),
      sealed_vault: toHex(vault.sealed),
      password_wrapping: toHex(vault.passwordWrapping),
      recovery_wrapping: toHex(vault.recoveryWrapping),
    };
  },

  unlock_vault(req) {
    const kind = (req.kind ?? "password") as WrapKind;
    const [vaultKey, contents] = unlockVault(
      {
        sealed: bytes(req, "sealed_vault"),
        passwordWrapping: fromHex(typeof req.password_wrapping === "string" ? req.password_wrapping : ""),
        recoveryWrapping: fromHex(typeof req.recovery_wrapping === "string" ? req.recovery_wrapping : ""),
      },
      str(req, "user_id"),
      new Secret(bytes(req, "wrapping_key")),
      kind,
    );
    return {
      vault_key: toHex(vaultKey.reveal()),
      identity_seed: toHex(contents.identitySeed.reveal()),
      puk_seeds: contents.pukSeeds.map(([g, s]) => ({ generation: g, seed: toHex(s.reveal()) })),
    };
  },

  async derive_password_keys(req) {
    const keys = await derivePasswordKeys(
      str(req, "password"),
      KdfParams.fromJSON(req.params),
      hashWasmArgon2id,
    );
    return {
      password_key: toHex(keys.passwordKey.reveal()),
      auth_secret: toHex(keys.authSecret.reveal()),
    };
  },

  recovery_code(req) {
    const code =
      typeof req.code === "string" ? parseRecoveryCode(req.code) : generateRecoveryCode(random);
    return {
      canonical: fromUtf8(code.reveal()),
      formatted: code.formatted(),
      recovery_key: toHex(deriveRecoveryKey(code).reveal()),
      recovery_auth: toHex(deriveRecoveryAuth(code)),
    };
  },

  async create_account(req) {
    // A device key made here unless the caller certifies its own (`device_public`).
    const device = typeof req.device_public === "string" ? null : DeviceKey.generate(random);
    const keys = await createAccountKeys(
      str(req, "user_id"),
      new Secret(bytes(req, "password_key")),
      typeof req.created_at === "number" ? req.created_at : 1764201600000,
      typeof req.device_id === "string"
        ? {
            deviceId: req.device_id,
            publicKey: device === null ? bytes(req, "device_public") : device.publicKey,
          }
        : null,
      random,
    );
    return {
      ...accountWire(keys),
      device_seed: device === null ? null : toHex(device.seed.reveal()),
    };
  },

  async rekey_account(req) {
    const keys = await rekeyAccount(
      str(req, "user_id"),
      vaultContents(req),
      new Secret(bytes(req, "password_key")),
      num(req, "created_at"),
      random,
    );
    return accountWire(keys);
  },

  open_account(req) {
    // What a client (or the server) checks of an uploaded account: every certificate under the
    // identity key, the vault under both wrappings, the recovery authenticator of the code.
    const userId = str(req, "user_id");
    const identity = new IdentityPublicKey(bytes(req, "identity_public"));
    const puk = verifyPukCertificate(bytes(req, "puk_certificate"), identity, userId);
    const device =
      typeof req.device_certificate === "string"
        ? verifyDeviceCertificate(
            bytes(req, "device_certificate"),
            identity,
            userId,
            typeof req.device_id === "string" ? req.device_id : undefined,
          )
        : null;
    const vault = {
      sealed: bytes(req, "sealed_vault"),
      passwordWrapping: bytes(req, "password_wrapping"),
      recoveryWrapping: bytes(req, "recovery_wrapping"),
    };
    const [vaultKey, contents] = unlockVault(
      vault,
      userId,
      new Secret(bytes(req, "password_key")),
      "password",
    );
    const code = parseRecoveryCode(str(req, "recovery_code"));
    const [recoveryVaultKey, recovered] = unlockVault(vault, userId, code.recoveryKey(), "recovery");
    return {
      puk_generation: puk.generation,
      puk_public: toHex(puk.publicKey),
      device_id: device === null ? null : device.deviceId,
      device_public: device === null ? null : toHex(device.publicKey),
      vault_key: toHex(vaultKey.reveal()),
      recovery_vault_key: toHex(recoveryVaultKey.reveal()),
      identity_seed: toHex(contents.identitySeed.reveal()),
      identity_matches: toHex(IdentityKey.fromSeed(contents.identitySeed).publicKey) ===
        toHex(identity.key),
      recovered_identity_seed: toHex(recovered.identitySeed.reveal()),
      puk_seeds: contents.pukSeeds.map(([g, s]) => ({ generation: g, seed: toHex(s.reveal()) })),
      recovery_auth: toHex(deriveRecoveryAuth(code)),
    };
  },

  safety_number(req) {
    const number = safetyNumber(
      new IdentityPublicKey(bytes(req, "identity_a")),
      new IdentityPublicKey(bytes(req, "identity_b")),
    );
    return { digits: number.digits, qr_payload: toHex(number.qrPayload) };
  },
};
ops.seal_vault = ops.create_vault!;
ops.open_vault = ops.unlock_vault!;

async function handle(req: Json): Promise<Json> {
  const op = ops[String(req.op)];
  if (op === undefined) {
    return { ok: false, error: "UnknownOp", message: `unknown op ${String(req.op)}` };
  }
  try {
    return { ok: true, ...(await op(req)) };
  } catch (error) {
    if (error instanceof CryptoError) {
      return { ok: false, error: error.constructor.name, message: error.message };
    }
    return { ok: false, error: "InternalError", message: String(error) };
  }
}

async function serveLines(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    const input: unknown = JSON.parse(line);
    const output = Array.isArray(input)
      ? await Promise.all(input.map((r) => handle(r as Json)))
      : await handle(input as Json);
    process.stdout.write(`${JSON.stringify(output)}\n`);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("--lines")) {
    await serveLines();
    return;
  }
  const input: unknown = JSON.parse(readFileSync(0, "utf8"));
  const output = Array.isArray(input)
    ? await Promise.all(input.map((r) => handle(r as Json)))
    : await handle(input as Json);
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

await main();
