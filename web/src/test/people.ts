/** Test-only: the "people" records of key_set.json / envelope.json as ready-made keys. */

import { DeviceKey, verifyDeviceCertificate, type DeviceCertificate } from "@/crypto/device";
import { IdentityKey, IdentityPublicKey } from "@/crypto/identity";
import { PukKeyPair, verifyPukCertificate, type PukCertificate } from "@/crypto/puk";

import { hex } from "./vectors";

export interface Person {
  readonly userId: string;
  readonly identity: IdentityKey;
  readonly identityPublic: IdentityPublicKey;
  readonly device: DeviceKey;
  readonly deviceCertificate: DeviceCertificate;
  readonly puk: PukKeyPair;
  readonly pukCertificate: PukCertificate;
}

export async function loadPeople(records: readonly any[]): Promise<Map<string, Person>> {
  const people = new Map<string, Person>();
  for (const r of records) {
    const identityPublic = new IdentityPublicKey(hex(r.identity_public));
    people.set(r.user_id, {
      userId: r.user_id,
      identity: IdentityKey.fromSeed(hex(r.identity_seed)),
      identityPublic,
      device: new DeviceKey(hex(r.device_seed)),
      deviceCertificate: verifyDeviceCertificate(
        hex(r.device_certificate),
        identityPublic,
        r.user_id,
        r.device_id,
      ),
      puk: await PukKeyPair.create(r.puk_generation, hex(r.puk_seed)),
      pukCertificate: verifyPukCertificate(hex(r.puk_certificate), identityPublic, r.user_id),
    });
  }
  return people;
}

export function person(people: Map<string, Person>, userId: string): Person {
  const p = people.get(userId);
  if (p === undefined) throw new Error(`no person ${userId} in vectors`);
  return p;
}
