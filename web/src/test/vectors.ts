/**
 * Test-only helpers: read frozen vectors from `spec/vectors/` and assert typed crypto errors.
 * Node APIs are fine here (tests run in Node); production code never imports this file.
 */

import { readFileSync } from "node:fs";

import { expect } from "vitest";

import { fromHex } from "@/crypto/encoding";
import { CryptoError, ERROR_TYPES, type ErrorName } from "@/crypto/errors";

const VECTORS = new URL("../../../spec/vectors/", import.meta.url);

/** Parsed JSON of `spec/vectors/<path>`. */
export type Vectors = Record<string, any>;

export function loadVectors(path: string): Vectors {
  return JSON.parse(readFileSync(new URL(path, VECTORS), "utf8")) as Vectors;
}

export function hex(text: string): Uint8Array {
  return fromHex(text);
}

function isErrorName(name: string): name is ErrorName {
  return name in ERROR_TYPES;
}

/** Runs `fn` and checks it throws exactly the crypto error class named `name`. */
export async function expectCryptoError(
  fn: () => unknown,
  name: string,
): Promise<void> {
  if (!isErrorName(name)) throw new Error(`unknown error name in vector: ${name}`);
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${name}`).toBeInstanceOf(CryptoError);
  expect((caught as Error).constructor.name).toBe(name);
}

/** A deterministic RandomSource for tests that do not compare against vectors. */
export function counterRandom(): (n: number) => Uint8Array {
  let next = 1;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (next++ * 167) & 0xff;
    return out;
  };
}
