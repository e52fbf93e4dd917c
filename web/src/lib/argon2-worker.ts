/**
 * Web Worker script: runs Argon2id (hash-wasm) off the main thread so the UI stays responsive
 * during the ~0.5 s, 64 MiB derivation. Spawned by `argon2-client.ts`:
 *
 *   new Worker(new URL("./argon2-worker.ts", import.meta.url), { type: "module" })
 *
 * hash-wasm computes synchronously inside the worker, so cancelling means terminating it (the
 * client does that). Errors carry a message only — never the password or the salt.
 */

import { hashWasmArgon2id } from "@/lib/argon2-hash-wasm";
import type { Argon2WorkerRequest, Argon2WorkerResponse } from "@/lib/argon2-protocol";

type Post = (message: Argon2WorkerResponse, transfer?: Transferable[]) => void;

/** Handles one request; exported so tests can drive it without a real Worker. */
export async function handleArgon2Request(data: Argon2WorkerRequest, post: Post): Promise<void> {
  post({ id: data.id, type: "progress", phase: "hashing" });
  try {
    const hash = await hashWasmArgon2id(data.request);
    post({ id: data.id, type: "progress", phase: "done" });
    post({ id: data.id, type: "result", hash }, [hash.buffer as ArrayBuffer]);
  } catch (error) {
    const message = error instanceof Error ? error.message : "Argon2id failed";
    post({ id: data.id, type: "error", message });
  }
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<Argon2WorkerRequest>) => void) | null;
  postMessage(message: Argon2WorkerResponse, transfer?: Transferable[]): void;
}

// In a dedicated worker `globalThis` is the DedicatedWorkerGlobalScope.
const scope = globalThis as unknown as WorkerScope;
if (typeof scope.postMessage === "function" && !("document" in globalThis)) {
  // A worker's Content-Security-Policy violations (e.g. WebAssembly refused) reach no document:
  // name them on the console, where devtools and the e2e watch (e2e/fixtures.ts) see them.
  globalThis.addEventListener("securitypolicyviolation", (event) => {
    console.error(
      `Content Security Policy violation in the Argon2 worker: ${event.effectiveDirective} blocked ${event.blockedURI}`,
    );
  });
  scope.onmessage = (event) => {
    void handleArgon2Request(event.data, (message, transfer) => {
      scope.postMessage(message, transfer ?? []);
    });
  };
}
