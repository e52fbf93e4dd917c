/**
 * The session: tokens in memory only (the refresh token is the HttpOnly cookie), silent refresh
 * before expiry and on 401, login, registration, logout (here or everywhere).
 */
import { createContext, use, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";

import { ApiClient } from "@/api/client";
import type { Tokens } from "@/api/types";
import type { Argon2Phase } from "@/lib/argon2-protocol";

/** The crypto (Argon2id worker, HKDF, KDF parameters) loads on first sign-in, not at start-up. */
const accountCrypto = () => import("@/session/account-crypto");

export type SessionState =
  | { readonly status: "loading" }
  | { readonly status: "anonymous"; readonly expired: boolean }
  | {
      readonly status: "authenticated";
      readonly userId: string;
      readonly deviceId: string;
    };

export type Progress = (phase: Argon2Phase | "sending") => void;

interface SessionApi {
  readonly state: SessionState;
  readonly api: ApiClient;
  readonly login: (email: string, password: string, onProgress?: Progress) => Promise<void>;
  /** Registers and signs in; resolves to `enter()`, which switches to the app (so the page can
   * show its success message first). */
  readonly register: (
    displayName: string,
    email: string,
    password: string,
    onProgress?: Progress,
  ) => Promise<() => void>;
  readonly logout: (everywhere?: boolean) => Promise<void>;
  /** The server refused our session (revoked or expired): back to login. */
  readonly lost: () => void;
}

const SessionContext = createContext<SessionApi | null>(null);

export function useSession(): SessionApi {
  const value = use(SessionContext);
  if (value === null) throw new Error("useSession outside <SessionProvider>");
  return value;
}

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrom/.test(ua) ? "Chromium" : /Safari\//.test(ua) ? "Safari" : "Browser";
  return `${browser} on ${navigator.platform || "this device"}`.slice(0, 100);
}

export function SessionProvider({ children, api: given }: { children: ReactNode; api?: ApiClient }) {
  const api = useMemo(() => given ?? new ApiClient(), [given]);
  const [state, setState] = useState<SessionState>({ status: "loading" });
  const refreshTimer = useRef<number | null>(null);

  const schedule = useCallback(
    (tokens: Tokens) => {
      if (refreshTimer.current !== null) window.clearTimeout(refreshTimer.current);
      const inMs = Math.max(10, tokens.expires_in - 60) * 1000;
      refreshTimer.current = window.setTimeout(() => {
        void api.refresh().catch(() => undefined);
      }, inMs);
    },
    [api],
  );

  const authenticated = useCallback(
    (tokens: Tokens) => {
      schedule(tokens);
      setState((prev) =>
        prev.status === "authenticated" && prev.userId === tokens.user_id
          ? prev
          : { status: "authenticated", userId: tokens.user_id, deviceId: tokens.device_id },
      );
    },
    [schedule],
  );

  useEffect(() => {
    api.setTokenListener((tokens) => {
      if (tokens === null) {
        setState({ status: "anonymous", expired: true });
      } else {
        authenticated(tokens);
      }
    });
    let cancelled = false;
    api
      .refresh()
      .then((tokens) => {
        if (!cancelled && tokens === null) setState({ status: "anonymous", expired: false });
      })
      .catch(() => {
        if (!cancelled) setState({ status: "anonymous", expired: false });
      });
    return () => {
      cancelled = true;
      api.setTokenListener(null);
      if (refreshTimer.current !== null) window.clearTimeout(refreshTimer.current);
    };
  }, [api, authenticated]);

  const login = useCallback(
    async (email: string, password: string, onProgress?: Progress) => {
      const [pre, { kdfFromWire, derive }] = await Promise.all([
        api.prelogin(email),
        accountCrypto(),
      ]);
      const params = kdfFromWire(pre.kdf_salt, pre.kdf_params);
      const { authSecret } = await derive(password, params, onProgress);
      onProgress?.("sending");
      const out = await api.login(email, authSecret, deviceName());
      authenticated(out);
    },
    [api, authenticated],
  );

  const register = useCallback(
    async (displayName: string, email: string, password: string, onProgress?: Progress) => {
      const { newKdfParams, derive, kdfToWire, createAccountKeys } = await accountCrypto();
      const params = newKdfParams();
      const { authSecret } = await derive(password, params, onProgress);
      onProgress?.("sending");
      const wire = kdfToWire(params);
      const account = createAccountKeys();
      await api.register({
        display_name: displayName,
        email,
        kdf_salt: wire.salt,
        kdf_params: wire.params,
        auth_secret: authSecret,
        key_bundle: account.keyBundle,
        vault: account.vault,
      });
      const out = await api.login(email, authSecret, deviceName());
      return () => {
        authenticated(out);
      };
    },
    [api, authenticated],
  );

  const logout = useCallback(
    async (everywhere = false) => {
      try {
        await api.logout(everywhere);
      } finally {
        if (refreshTimer.current !== null) window.clearTimeout(refreshTimer.current);
        setState({ status: "anonymous", expired: false });
      }
    },
    [api],
  );

  const lost = useCallback(() => {
    api.setAccessToken(null);
    setState({ status: "anonymous", expired: true });
  }, [api]);

  const value = useMemo(
    () => ({ state, api, login, register, logout, lost }),
    [state, api, login, register, logout, lost],
  );
  return <SessionContext value={value}>{children}</SessionContext>;
}
