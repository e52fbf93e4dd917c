/**
 * Promise wrapper around the Argon2id Web Worker, with progress and cancellation.
 *
 *   const argon2 = new Argon2Client();
 *   const keys = await derivePasswordKeys(password, params, argon2.argon2id());
 *   // or, with progress and a cancel button:
 *   await argon2.derive(request, { signal: controller.signal, onProgress: (p) => … });
 *
 * Requests run one after another in one worker. Cancelling a running request terminates the
 * worker (hash-wasm cannot be interrupted otherwise); the other requests are re-sent to a fresh
 * worker.
 */

import type { Argon2id, Argon2idRequest } from "@/crypto/password";
import type {
  Argon2Phase,
  Argon2WorkerRequest,
  Argon2WorkerResponse,
} from "@/lib/argon2-protocol";

/** The part of `Worker` the client uses (a fake in tests). */
export interface WorkerLike {
  onmessage: ((event: MessageEvent<Argon2WorkerResponse>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  postMessage(message: Argon2WorkerRequest): void;
  terminate(): void;
}

export type WorkerFactory = () => WorkerLike;

export interface DeriveOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (phase: Argon2Phase) => void;
}

export class Argon2Error extends Error {
  override readonly name = "Argon2Error";
}

export function createArgon2Worker(): WorkerLike {
  return new Worker(new URL("./argon2-worker.ts", import.meta.url), {
    type: "module",
    name: "argon2",
  });
}

interface Pending {
  readonly message: Argon2WorkerRequest;
  readonly options: DeriveOptions;
  readonly resolve: (hash: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly cleanup: () => void;
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error
    ? reason
    : new DOMException("Argon2id derivation cancelled", "AbortError");
}

export class Argon2Client {
  readonly #factory: WorkerFactory;
  #worker: WorkerLike | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();

  constructor(factory: WorkerFactory = createArgon2Worker) {
    this.#factory = factory;
  }

  /** The `Argon2id` function that `@/crypto/password` takes. */
  argon2id(options: DeriveOptions = {}): Argon2id {
    return (request) => this.derive(request, options);
  }

  derive(request: Argon2idRequest, options: DeriveOptions = {}): Promise<Uint8Array> {
    const { signal } = options;
    if (signal?.aborted === true) {
      return Promise.reject(abortError(signal));
    }
    const id = this.#nextId++;
    const message: Argon2WorkerRequest = { id, request };
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => {
        this.#cancel(id, abortError(signal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        message,
        options,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      });
      options.onProgress?.("queued");
      this.#ensureWorker().postMessage(message);
    });
  }

  /** Stops the worker and rejects everything still pending. */
  dispose(): void {
    this.#worker?.terminate();
    this.#worker = null;
    for (const [id, pending] of this.#pending) {
      this.#settle(id);
      pending.reject(new DOMException("Argon2 client disposed", "AbortError"));
    }
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  #ensureWorker(): WorkerLike {
    if (this.#worker !== null) return this.#worker;
    const worker = this.#factory();
    worker.onmessage = (event) => {
      this.#onMessage(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll(new Argon2Error(event.message || "Argon2 worker crashed"));
    };
    this.#worker = worker;
    return worker;
  }

  #onMessage(data: Argon2WorkerResponse): void {
    const pending = this.#pending.get(data.id);
    if (pending === undefined) return; // cancelled meanwhile
    switch (data.type) {
      case "progress":
        pending.options.onProgress?.(data.phase);
        break;
      case "result":
        this.#settle(data.id);
        pending.resolve(data.hash);
        break;
      case "error":
        this.#settle(data.id);
        pending.reject(new Argon2Error(data.message));
        break;
    }
  }

  #settle(id: number): void {
    this.#pending.get(id)?.cleanup();
    this.#pending.delete(id);
  }

  #cancel(id: number, reason: Error): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#settle(id);
    pending.reject(reason);
    // hash-wasm cannot be interrupted: replace the worker and re-send what is still waiting.
    this.#worker?.terminate();
    this.#worker = null;
    if (this.#pending.size > 0) {
      const worker = this.#ensureWorker();
      for (const other of this.#pending.values()) worker.postMessage(other.message);
    }
  }

  #failAll(error: Error): void {
    this.#worker?.terminate();
    this.#worker = null;
    for (const [id, pending] of this.#pending) {
      this.#settle(id);
      pending.reject(error);
    }
  }
}
