/**
 * The identity providers of the "Sign in with …" scenarios, as real processes on loopback:
 *   - an OpenID Connect provider: the `oidc-provider` package (e2e/oidc/provider.ts), with a
 *     login page the browser fills in (selectors at the top of that file);
 *   - a Facebook-shaped OAuth server: tests/support/fake_idp.py, whose dialog redirects straight
 *     back (no page), signing in the user set with `nextFacebookUser` (default "Fb User").
 * Each prints `READY <url>` when listening; the helpers wait for it (bounded) and kill the
 * process group if it never comes.
 *
 * Ports derive from the Hushroom port (`idpPorts`) so that workers find the providers without
 * a state file, and so that the providers' config is known before the server starts:
 *
 *   const idps = await startIdentityProviders(port);       // in globalSetup, before startServer
 *   process.env.HUSHROOM_SIGN_IN_PROVIDERS = idps.config;  // serverEnv() passes process.env on
 *   return idps.stop;                                      // globalSetup's return = teardown
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { Socket } from "node:net";
import { join, resolve } from "node:path";

import { e2ePort, stopServer } from "./server";

const WEB = resolve(import.meta.dirname, "..");
const REPO = resolve(WEB, "..");

export const OIDC_CLIENT = { id: "hushroom-e2e", secret: "e2e-secret" } as const;
export const FACEBOOK_APP = { id: "fb-app", secret: "fb-secret" } as const;
const GRAPH_VERSION = "v23.0";

export interface RunningProvider {
  /** http://127.0.0.1:PORT — for the OIDC provider, its issuer. */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Below Linux's ephemeral range like the Hushroom port (playwright.config.ts picks < 32000). */
export function idpPorts(hushroomPort = e2ePort()): { oidc: number; facebook: number } {
  return { oidc: hushroomPort + 1, facebook: hushroomPort + 2 };
}

/** Hushroom's redirect URI for provider `id`. */
export function callbackUrl(hushroomPort: number, id: string): string {
  return `http://127.0.0.1:${hushroomPort}/api/v1/auth/providers/${id}/callback`;
}

function uvBinary(): string {
  const local = join(REPO, ".tools", "bin", "uv");
  return existsSync(local) ? local : "uv";
}

/**
 * Spawns `command` in its own process group and resolves once it prints `READY <url>`. Its
 * output is drained for good (a full pipe would stall it), the last few KiB kept for errors.
 */
function spawnUntilReady(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
): Promise<RunningProvider> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const name = args.join(" ");
    let tail = "";
    let stdoutLine = "";
    let settled = false;
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
    };
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.pid !== undefined) void stopServer(child.pid, 5_000);
      reject(new Error(`${name}: ${why}\n${tail}`));
    };
    const timer = setTimeout(() => {
      fail(`no READY line in ${String(timeoutMs)} ms`);
    }, timeoutMs);

    child.stderr.on("data", keep);
    child.stdout.on("data", (chunk: Buffer) => {
      keep(chunk);
      if (settled) return;
      stdoutLine += chunk.toString();
      const ready = /^READY (\S+)$/m.exec(stdoutLine);
      const pid = child.pid;
      if (ready === null || pid === undefined) return;
      settled = true;
      clearTimeout(timer);
      // The providers live until stop() (or teardown): they must not hold the runner open.
      child.unref();
      for (const pipe of [child.stdout, child.stderr]) if (pipe instanceof Socket) pipe.unref();
      resolvePromise({ url: ready[1]!, pid, stop: () => stopServer(pid, 10_000) });
    });
    child.on("error", (error) => {
      fail(error.message);
    });
    child.on("exit", (code, signal) => {
      fail(`exited early (${String(code ?? signal)})`);
    });
  });
}

/** The `oidc-provider` package on 127.0.0.1:`port`, client OIDC_CLIENT with these redirect URIs. */
export function startOidcProvider(
  port: number,
  redirectUris: readonly string[],
  timeoutMs = 30_000,
): Promise<RunningProvider> {
  const args = ["--import", "tsx", join(WEB, "e2e", "oidc", "provider.ts"), "--port", String(port)];
  for (const uri of redirectUris) args.push("--redirect-uri", uri);
  return spawnUntilReady(process.execPath, args, WEB, timeoutMs);
}

/** The fake Facebook (dialog + Graph API v23.0) on 127.0.0.1:`port`, app FACEBOOK_APP. */
export function startFakeFacebook(
  port: number,
  redirectUris: readonly string[] = [],
  timeoutMs = 90_000,
): Promise<RunningProvider> {
  const args = ["run", "--frozen", "python", "-m", "tests.support.fake_idp", "facebook"];
  args.push("--port", String(port));
  for (const uri of redirectUris) args.push("--redirect-uri", uri);
  return spawnUntilReady(uvBinary(), args, REPO, timeoutMs);
}

/** The value of HUSHROOM_SIGN_IN_PROVIDERS for these two providers. */
export function signInProvidersConfig(oidcIssuer: string, facebookUrl: string): string {
  return JSON.stringify([
    {
      id: "test-oidc",
      kind: "oidc",
      name: "Test ID",
      issuer: oidcIssuer,
      client_id: OIDC_CLIENT.id,
      client_secret: OIDC_CLIENT.secret,
    },
    {
      id: "facebook",
      kind: "facebook",
      name: "Facebook",
      client_id: FACEBOOK_APP.id,
      client_secret: FACEBOOK_APP.secret,
      dialog_url: `${facebookUrl}/${GRAPH_VERSION}/dialog/oauth`,
      graph_url: `${facebookUrl}/${GRAPH_VERSION}`,
    },
  ]);
}

/** Both providers on `idpPorts(hushroomPort)`; `config` is HUSHROOM_SIGN_IN_PROVIDERS. */
export async function startIdentityProviders(
  hushroomPort: number,
): Promise<{ config: string; stop: () => Promise<void> }> {
  const ports = idpPorts(hushroomPort);
  const started = await Promise.allSettled([
    startOidcProvider(ports.oidc, [callbackUrl(hushroomPort, "test-oidc")]),
    startFakeFacebook(ports.facebook, [callbackUrl(hushroomPort, "facebook")]),
  ]);
  const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    await Promise.all(running.map((p) => p.stop()));
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  const [oidc, facebook] = running;
  return { config: signInProvidersConfig(oidc!.url, facebook!.url), stop };
}

export interface FacebookUser {
  readonly id: string;
  readonly name: string;
  /** null: an account without an email address (Graph then omits the field). */
  readonly email: string | null;
}

function facebookUrl(): string {
  return `http://127.0.0.1:${idpPorts().facebook}`;
}

async function controlFacebook(body: object, url: string): Promise<void> {
  const r = await fetch(`${url}/__fake/next`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (r.status !== 204) throw new Error(`fake Facebook control: HTTP ${String(r.status)}`);
}

/** The next Facebook dialog signs in `user` (then the default "Fb User" again). */
export function nextFacebookUser(user: FacebookUser, url = facebookUrl()): Promise<void> {
  return controlFacebook({ user: { sub: user.id, name: user.name, email: user.email } }, url);
}

/** The next Facebook dialog comes back as the user declining (error=access_denied). */
export function denyNextFacebook(url = facebookUrl()): Promise<void> {
  return controlFacebook({ deny: true }, url);
}
