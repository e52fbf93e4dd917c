/** Messages between `argon2-client.ts` (main thread) and `argon2-worker.ts` (Web Worker). */

import type { Argon2idRequest } from "@/crypto/password";

export interface Argon2WorkerRequest {
  readonly id: number;
  readonly request: Argon2idRequest;
}

export type Argon2Phase = "queued" | "hashing" | "done";

export type Argon2WorkerResponse =
  | { readonly id: number; readonly type: "progress"; readonly phase: Argon2Phase }
  | { readonly id: number; readonly type: "result"; readonly hash: Uint8Array }
  | { readonly id: number; readonly type: "error"; readonly message: string };
