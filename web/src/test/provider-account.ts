/**
 * Test-only: an account with real keys behind a fake server, for the provider sign-in flows
 * (decision 0007). Mock `derive` with `@/test/fast-derive` in the test file first.
 */
import type { NewAccountKeysWire, SecretKind, SignInMethods, VaultOut } from "@/api/types";
import { createAccount } from "@/session/unlock";
import type { Route } from "@/test/render";

export const PASSPHRASE = "copper meadow 48 violin";

export interface FakeAccount {
  readonly userId: string;
  /** The device the account was created with (registration's). */
  readonly firstDeviceId: string;
  readonly email: string;
  readonly upload: NewAccountKeysWire;
  /** Formatted, as the person saved it. */
  readonly recoveryCode: string;
}

export async function makeAccount(secret = PASSPHRASE): Promise<FakeAccount> {
  const userId = crypto.randomUUID();
  const created = await createAccount(userId, secret);
  return {
    userId,
    firstDeviceId: created.deviceId,
    email: "ana@example.com",
    upload: created.upload,
    recoveryCode: created.account.recoveryCode.formatted(),
  };
}

export interface FakeServerOptions {
  /** Which secret the account has: a provider-created account's is the chat passphrase. */
  readonly secret?: SecretKind;
  /** The session's device; a provider sign-in makes a new one (not the account's first). */
  readonly deviceId?: string;
  /** A session signed in through a provider gets no password wrapping from `GET /keys/vault`. */
  readonly provider?: boolean;
  readonly methods?: SignInMethods;
  /** Anything else (asked first; null: not its route). */
  readonly extra?: (url: string, init?: RequestInit) => ReturnType<Route> | null;
}

/** What the fake server saw. */
export interface Seen {
  readonly calls: string[];
  readonly bodies: Map<string, unknown>;
  certificate: string | null;
}

export function fakeServer(account: FakeAccount, options: FakeServerOptions = {}) {
  const deviceId = options.deviceId ?? crypto.randomUUID();
  const seen: Seen = { calls: [], bodies: new Map(), certificate: null };
  const vault = (wrapping: boolean): VaultOut => ({
    user_id: account.userId,
    sealed_vault: account.upload.vault.sealed,
    ...(wrapping ? { password_wrapping: account.upload.vault.password_wrapping } : {}),
    recovery_wrapping: account.upload.vault.recovery_wrapping,
    vault_version: 1,
  });
  const route: Route = (url, init) => {
    const method = init?.method ?? "GET";
    const path = url.replace(/^\/api\/v1/, "");
    seen.calls.push(`${method} ${path}`);
    if (typeof init?.body === "string") seen.bodies.set(`${method} ${path}`, JSON.parse(init.body));
    const extra = options.extra?.(url, init) ?? null;
    if (extra !== null) return extra;
    switch (`${method} ${path}`) {
      case "POST /auth/refresh":
        return {
          status: 200,
          body: {
            access_token: "access",
            token_type: "bearer",
            expires_in: 900,
            user_id: account.userId,
            device_id: deviceId,
            session_id: "session",
          },
        };
      case "POST /auth/logout":
        return { status: 204 };
      case "GET /keys/vault":
        return { status: 200, body: vault(options.provider !== true) };
      case "GET /keys/vault/kdf":
        return { status: 200, body: { kdf: account.upload.kdf, secret: options.secret ?? "passphrase" } };
      case "POST /keys/vault/unlock": {
        const body = JSON.parse(init?.body as string) as { auth_secret: string };
        return body.auth_secret === account.upload.auth_secret
          ? { status: 200, body: vault(true) }
          : { status: 401, body: { code: "invalid_credentials", title: "invalid credentials" } };
      }
      case `PUT /devices/${deviceId}/certificate`: {
        const body = JSON.parse(init?.body as string) as { certificate: string };
        seen.certificate = body.certificate;
        return { status: 204 };
      }
      case "POST /auth/recovery/vault": {
        const body = JSON.parse(init?.body as string) as { recovery_auth: string };
        return body.recovery_auth === account.upload.recovery_auth
          ? {
              status: 200,
              body: {
                user_id: account.userId,
                sealed_vault: account.upload.vault.sealed,
                recovery_wrapping: account.upload.vault.recovery_wrapping,
                vault_version: 1,
              },
            }
          : { status: 401, body: { code: "invalid_credentials", title: "invalid credentials" } };
      }
      case "POST /auth/recovery/reset-password":
        return { status: 204 };
      case "GET /me":
        return {
          status: 200,
          body: { user_id: account.userId, display_name: "Ana", keys_version: 1, email: account.email, is_admin: false },
        };
      case "GET /auth/providers":
        return { status: 200, body: { providers: [{ id: "google", name: "Google", kind: "oidc" }] } };
      case "GET /account/sign-in-methods":
        return {
          status: 200,
          body: options.methods ?? {
            password: options.secret === "password",
            identities: [
              { provider: "google", provider_name: "Google", email: account.email, linked_at: 1, last_used_at: 2 },
            ],
          },
        };
      default:
        return { status: 404, body: { code: "not_found", title: "not found" } };
    }
  };
  return { route, seen, deviceId };
}
