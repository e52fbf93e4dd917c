import { describe, expect, it } from "vitest";

import { toHex } from "@/crypto/encoding";
import { derivePasswordKeys, KdfParams } from "@/crypto/password";
import { Argon2Client, Argon2Error, type WorkerLike } from "@/lib/argon2-client";
import type { Argon2WorkerRequest, Argon2WorkerResponse } from "@/lib/argon2-protocol";
import { handleArgon2Request } from "@/lib/argon2-worker";

const request = {
  password: new TextEncoder().encode("pw"),
  salt: new Uint8Array(16),
  memoryKib: 1024,
  iterations: 1,
  parallelism: 1,
  hashLength: 32,
};

/** A fake Worker whose messages are answered by the test (a fake message channel). */
class FakeWorker implements WorkerLike {
  onmessage: ((event: MessageEvent<Argon2WorkerResponse>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  readonly received: Argon2WorkerRequest[] = [];
  terminated = false;

  postMessage(message: Argon2WorkerRequest): void {
    this.received.push(message);
  }

  terminate(): void {
    this.terminated = true;
  }

  reply(message: Argon2WorkerResponse): void {
    this.onmessage?.({ data: message } as MessageEvent<Argon2WorkerResponse>);
  }

  crash(message: string): void {
    this.onerror?.({ message, preventDefault: () => undefined } as ErrorEvent);
  }
}

function harness() {
  const workers: FakeWorker[] = [];
  const client = new Argon2Client(() => {
    const worker = new FakeWorker();
    workers.push(worker);
    return worker;
  });
  return { client, workers };
}

describe("Argon2Client (fake worker)", () => {
  it("resolves with the worker's hash and reports progress", async () => {
    const { client, workers } = harness();
    const phases: string[] = [];
    const promise = client.derive(request, { onProgress: (p) => phases.push(p) });
    const worker = workers[0]!;
    const { id } = worker.received[0]!;
    worker.reply({ id, type: "progress", phase: "hashing" });
    worker.reply({ id, type: "progress", phase: "done" });
    worker.reply({ id, type: "result", hash: new Uint8Array([1, 2, 3]) });
    expect([...(await promise)]).toEqual([1, 2, 3]);
    expect(phases).toEqual(["queued", "hashing", "done"]);
    expect(client.pendingCount).toBe(0);
  });

  it("routes concurrent answers by request id, in one worker", async () => {
    const { client, workers } = harness();
    const a = client.derive(request);
    const b = client.derive(request);
    expect(workers).toHaveLength(1);
    const [ra, rb] = workers[0]!.received;
    workers[0]!.reply({ id: rb!.id, type: "result", hash: new Uint8Array([2]) });
    workers[0]!.reply({ id: ra!.id, type: "result", hash: new Uint8Array([1]) });
    expect([...(await a), ...(await b)]).toEqual([1, 2]);
  });

  it("rejects with Argon2Error when the worker reports an error", async () => {
    const { client, workers } = harness();
    const promise = client.derive(request);
    workers[0]!.reply({ id: workers[0]!.received[0]!.id, type: "error", message: "out of memory" });
    await expect(promise).rejects.toThrow(Argon2Error);
  });

  it("cancel terminates the worker and re-sends the other requests to a fresh one", async () => {
    const { client, workers } = harness();
    const controller = new AbortController();
    const cancelled = client.derive(request, { signal: controller.signal });
    const other = client.derive(request);
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ name: "AbortError" });
    expect(workers[0]!.terminated).toBe(true);
    expect(workers).toHaveLength(2);
    const resent = workers[1]!.received;
    expect(resent).toHaveLength(1);
    // A late answer from the dead worker for the cancelled id is ignored.
    workers[0]!.reply({ id: workers[0]!.received[0]!.id, type: "result", hash: new Uint8Array(1) });
    workers[1]!.reply({ id: resent[0]!.id, type: "result", hash: new Uint8Array([7]) });
    expect([...(await other)]).toEqual([7]);
  });

  it("rejects at once for an already aborted signal, without a worker", async () => {
    const { client, workers } = harness();
    const controller = new AbortController();
    controller.abort(new Error("user left"));
    await expect(client.derive(request, { signal: controller.signal })).rejects.toThrow("user left");
    expect(workers).toHaveLength(0);
  });

  it("a crashed worker fails every pending request; the next call starts a new worker", async () => {
    const { client, workers } = harness();
    const a = client.derive(request);
    const b = client.derive(request);
    workers[0]!.crash("wasm trap");
    await expect(a).rejects.toThrow("wasm trap");
    await expect(b).rejects.toThrow(Argon2Error);
    const c = client.derive(request);
    expect(workers).toHaveLength(2);
    client.dispose();
    await expect(c).rejects.toMatchObject({ name: "AbortError" });
  });

  it("dispose rejects pending work and terminates the worker", async () => {
    const { client, workers } = harness();
    const promise = client.derive(request);
    client.dispose();
    await expect(promise).rejects.toMatchObject({ name: "AbortError" });
    expect(workers[0]!.terminated).toBe(true);
  });
});

describe("argon2 worker script with the client over an in-process channel", () => {
  it("derives the same keys as the password.json vector path (small parameters)", async () => {
    const client = new Argon2Client(() => {
      const worker: WorkerLike = {
        onmessage: null,
        onerror: null,
        postMessage(message) {
          void handleArgon2Request(message, (response) => {
            queueMicrotask(() => worker.onmessage?.({ data: response } as MessageEvent<Argon2WorkerResponse>));
          });
        },
        terminate() {},
      };
      return worker;
    });
    const hash = await client.derive(request);
    expect(hash).toHaveLength(32);
    // Known answer from hash-wasm / argon2-cffi for these tiny parameters is not frozen; the
    // 64 MiB derivation is checked against spec/vectors/password.json in password.test.ts.
    expect(toHex(await client.derive(request))).toBe(toHex(hash));
  });

  it("plugs into derivePasswordKeys as the injected Argon2id", async () => {
    const v = { v: 1, alg: "argon2id", m: 65536, t: 3, p: 1, salt: "AAAAAAAAAAAAAAAAAAAAAA" };
    const seen: number[] = [];
    const client = new Argon2Client(() => {
      const worker: WorkerLike = {
        onmessage: null,
        onerror: null,
        postMessage(message) {
          seen.push(message.request.memoryKib);
          queueMicrotask(() =>
            worker.onmessage?.({
              data: { id: message.id, type: "result", hash: new Uint8Array(32) },
            } as MessageEvent<Argon2WorkerResponse>),
          );
        },
        terminate() {},
      };
      return worker;
    });
    const keys = await derivePasswordKeys("pw", KdfParams.fromJSON(v), client.argon2id());
    expect(keys.authSecret.length).toBe(32);
    expect(seen).toEqual([65536]);
  });
});
