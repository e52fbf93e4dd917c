/**
 * A real `hushroom serve` process for the end-to-end run: temp SQLite database, the built
 * web/dist, allowed origin = its own. Its pid and settings live in a state file so that a test
 * can restart it and the teardown can stop it.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface ServerState {
  readonly port: number;
  readonly dir: string;
  pid: number;
}

const REPO = resolve(import.meta.dirname, "..", "..");

export function e2ePort(): number {
  return Number(process.env.HUSHROOM_E2E_PORT);
}

function stateFile(port: number): string {
  return join(tmpdir(), `hushroom-e2e-${String(port)}.json`);
}

export function readState(port = e2ePort()): ServerState {
  return JSON.parse(readFileSync(stateFile(port), "utf8")) as ServerState;
}

function uvBinary(): string {
  const local = join(REPO, ".tools", "bin", "uv");
  return existsSync(local) ? local : "uv";
}

/** The server's settings; the operator commands (`runCli`) get the same ones. */
function serverEnv(port: number, dir: string): NodeJS.ProcessEnv {
  const origin = `http://127.0.0.1:${String(port)}`;
  return {
    ...process.env,
    HUSHROOM_DATA_DIR: dir,
    HUSHROOM_DATABASE_URL: `sqlite+aiosqlite:///${join(dir, "hushroom.db")}`,
    HUSHROOM_ALLOWED_ORIGINS: JSON.stringify([origin]),
    HUSHROOM_WEB_DIST: join(REPO, "web", "dist"),
    HUSHROOM_HOST: "127.0.0.1",
    // Every scenario signs up and in from 127.0.0.1: raise the abuse limits (the server's own
    // tests run them at their defaults).
    HUSHROOM_RATE_LIMIT_SCALE: "1000",
  };
}

export function spawnServer(port: number, dir: string): number {
  mkdirSync(dir, { recursive: true });
  const log = openSync(join(dir, "server.log"), "a");
  const child = spawn(uvBinary(), ["run", "--frozen", "hushroom", "serve", "--port", String(port)], {
    cwd: REPO,
    detached: true,
    stdio: ["ignore", log, log],
    env: serverEnv(port, dir),
  });
  child.unref();
  if (child.pid === undefined) throw new Error("could not start hushroom serve");
  return child.pid;
}

export async function waitReady(port: number, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${String(port)}/readyz`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`server on port ${String(port)} not ready`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the process group (uv and its python child), wait until it is gone. */
export async function stopServer(pid: number, timeoutMs = 20_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) signal("SIGKILL");
}

export async function startServer(port: number): Promise<ServerState> {
  const dir = join(tmpdir(), `hushroom-e2e-${String(port)}`);
  const state: ServerState = { port, dir, pid: spawnServer(port, dir) };
  writeFileSync(stateFile(port), JSON.stringify(state));
  await waitReady(port);
  return state;
}

/** Stop, run `during` while the server is down, start again on the same port and database. */
export async function restartServer(during: () => Promise<void>): Promise<void> {
  const state = readState();
  await stopServer(state.pid);
  await during();
  state.pid = spawnServer(state.port, state.dir);
  writeFileSync(stateFile(state.port), JSON.stringify(state));
  await waitReady(state.port);
}

/**
 * An operator command (`hushroom <args>`) against the running e2e server's database and data
 * directory, as its operator would run it on the host; resolves with its stdout.
 */
export function runCli(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const state = readState();
  return new Promise((resolvePromise, reject) => {
    execFile(
      uvBinary(),
      ["run", "--frozen", "hushroom", ...args],
      { cwd: REPO, env: serverEnv(state.port, state.dir), timeout: timeoutMs },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`hushroom ${args.join(" ")} failed: ${error.message}\n${stderr}`));
        } else {
          resolvePromise(stdout);
        }
      },
    );
  });
}
