/**
 * Digits of one's own identity key: the same per-key fingerprint a safety number is built from
 * (docs/crypto.md §9), 6 groups of 5 digits. Lets a person (and the end-to-end tests) see that
 * the vault really unlocked, and compare it with what other devices show.
 */
import { fingerprint } from "@/crypto/safety-number";
import type { IdentityKey } from "@/crypto/identity";

export function keyFingerprintGroups(identity: IdentityKey): string[] {
  const fp = fingerprint(identity.public());
  const groups: string[] = [];
  for (let i = 0; i < fp.length; i += 5) {
    let n = 0;
    for (const b of fp.subarray(i, i + 5)) n = n * 256 + b;
    groups.push(String(n % 100000).padStart(5, "0"));
  }
  return groups;
}
