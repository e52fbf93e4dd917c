/**
 * Argon2id via hash-wasm (WebAssembly), in whatever thread calls it: the Web Worker script in
 * the browser (`argon2-worker.ts`), or directly in Node (tests, CLI, benchmark).
 */

import { argon2id } from "hash-wasm";

import type { Argon2id, Argon2idRequest } from "@/crypto/password";

export const hashWasmArgon2id: Argon2id = async (request: Argon2idRequest) => {
  return argon2id({
    password: request.password,
    salt: request.salt,
    parallelism: request.parallelism,
    iterations: request.iterations,
    memorySize: request.memoryKib,
    hashLength: request.hashLength,
    outputType: "binary",
  });
};
