/**
 * The session: tokens in memory only (the refresh token is the HttpOnly cookie), silent refresh
 * before expiry and on 401, and the account keys that go with it: registration, login (on any
 * browser), a provider's first sign-in, restore after a reload (IndexedDB), unlock again,
 * recovery, logout (here or everywhere). The unlocked keys are published through
 * `@/session/unlocked-keys`.
 */
import { createContext, use, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";

import { ApiClient } from "@/api/client";
import type { SecretKind, Tokens } from "@/api/types";
import type { Progress } from "@/session/progress";
import type { LockReason } from "@/session/unlock";
import { keyring, type UnlockedKeys } from "@/session/unlocked-keys";
import { browserUnlockedState } from "@/storage/unlocked-state-store";

export type { Progress } from "@/session/progress";
export type { LockReason } from "@/session/unlock";

/** The crypto (Argon2id worker, the core, the key flows) loads on first use, not at start-up. */
const unlockFlows = () => import("@/session/unlock");
const recoveryFlows = () => import("@/session/account-recovery");
const resetFlows = () => import("@/session/account-reset");
const providerSignupFlows = () => import("@/session/provider-signup");

export type SessionState =
  | { readonly status: "loading" }
  | { readonly status: "anonymous"; readonly expired: boolean }
  /**
   * Signed in, but this browser's keys don't open the vault: the stored vault key is stale (a
   * re-key elsewhere), or a provider sign-in brought no keys. `secret` says what unlocks it: the
   * account's password, or the chat passphrase of an account a provider created.
   */
  | {
      readonly status: "locked";
      readonly userId: string;
      readonly deviceId: string;
      readonly secret: SecretKind;
      readonly reason: LockReason;
    }
  | {
      readonly status: "authenticated";
      readonly userId: string;
      readonly deviceId: string;
      readonly keys: UnlockedKeys;
    };

/**
 * Signed in and unlocked, but not in the app yet: a recovery code may have to be shown once
 * first (`recoveryCode`, formatted), then `enter()` switches to the app.
 */
export interface Entry {
  readonly recoveryCode: string | null;
  readonly enter: () => void;
}

/** Keys uploaded; the recovery code must be confirmed before `finish()` signs in. */
export interface PendingCode {
  readonly recoveryCode: string;
  readonly finish: (onProgress?: Progress) => Promise<void>;
}

interface SessionApi {
  readonly state: SessionState;
  readonly api: ApiClient;
  readonly login: (email: string, password: string, onProgress?: Progress) => Promise<Entry>;
  readonly register: (
    displayName: string,
    email: string,
    password: string,
    onProgress?: Progress,
  ) => Promise<PendingCode>;
  /** "Forgot password": a new password through the recovery code. */
  readonly recover: (
    email: string,
    code: string,
    newPassword: string,
    onProgress?: Progress,
  ) => Promise<PendingCode>;
  /**
   * Account reset (password and recovery code both lost): the operator's reset code, a new
   * identity and password; old private history can no longer be read.
   */
  readonly resetAccount: (
    email: string,
    resetCode: string,
    newPassword: string,
    onProgress?: Progress,
  ) => Promise<PendingCode>;
  /**
   * A provider's first sign-in (the sign-up cookie names the provider and the email): the
   * account's keys under a new chat passphrase; `finish` enters once the code was confirmed.
   */
  readonly signUp: (
    displayName: string,
    passphrase: string,
    onProgress?: Progress,
  ) => Promise<PendingCode>;
  /** The locked state: open the vault with the password or chat passphrase. */
  readonly unlock: (secret: string, onProgress?: Progress) => Promise<void>;
  /**
   * The locked state, secret forgotten: the recovery code sets a new password or passphrase.
   * That ends every session, this one too, so `finish` signs out here; the person then signs in
   * again (through the provider, or with the new password).
   */
  readonly recoverLocked: (
    code: string,
    newSecret: string,
    onProgress?: Progress,
  ) => Promise<PendingCode>;
  /** After a re-key or password change made here. */
  readonly updateKeys: (keys: UnlockedKeys) => void;
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

/** Forget this browser's keys: in memory now, in IndexedDB as soon as it answers. */
function wipeKeys(): void {
  keyring.publish(null);
  void browserUnlockedState.clear().catch(() => undefined);
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

  const unlocked = useCallback((keys: UnlockedKeys) => {
    keyring.publish(keys);
    setState({ status: "authenticated", userId: keys.userId, deviceId: keys.deviceId, keys });
  }, []);

  const signedOut = useCallback((expired: boolean) => {
    if (refreshTimer.current !== null) window.clearTimeout(refreshTimer.current);
    wipeKeys();
    setState({ status: "anonymous", expired });
  }, []);

  useEffect(() => {
    api.setTokenListener((tokens) => {
      if (tokens === null) {
        signedOut(true);
      } else {
        schedule(tokens);
      }
    });
    let cancelled = false;
    const start = async () => {
      const tokens = await api.refresh();
      if (tokens === null) return { status: "anonymous", expired: false } as const;
      const { restore } = await unlockFlows();
      const restored = await restore(api, tokens.user_id, tokens.device_id);
      if (restored.kind === "unlocked") return restored.keys;
      if (restored.kind === "locked") {
        return {
          status: "locked",
          userId: tokens.user_id,
          deviceId: tokens.device_id,
          secret: restored.secret,
          reason: restored.reason,
        } as const;
      }
      // A password session without this browser's device key can't sign anything: sign in again.
      await api.logout().catch(() => undefined);
      return null;
    };
    start()
      .then((next) => {
        if (cancelled) return;
        if (next === null) signedOut(false);
        else if ("status" in next) setState(next);
        else unlocked(next);
      })
      .catch(() => {
        // Unreachable server or IndexedDB trouble: nothing is wiped, a reload may work.
        if (!cancelled) setState({ status: "anonymous", expired: false });
      });
    return () => {
      cancelled = true;
      api.setTokenListener(null);
      if (refreshTimer.current !== null) window.clearTimeout(refreshTimer.current);
    };
  }, [api, schedule, unlocked, signedOut]);

  const login = useCallback(
    async (email: string, password: string, onProgress?: Progress): Promise<Entry> => {
      const { passwordKeysFor, signInWithKeys } = await unlockFlows();
      const keys = await passwordKeysFor(api, email, password, onProgress);
      const out = await signInWithKeys(api, email, keys, onProgress);
      return {
        recoveryCode: out.recoveryCode?.formatted() ?? null,
        enter: () => {
          schedule(out.tokens);
          unlocked(out.keys);
        },
      };
    },
    [api, schedule, unlocked],
  );

  const register = useCallback(
    async (displayName: string, email: string, password: string, onProgress?: Progress) => {
      const { registerAccount } = await unlockFlows();
      const registered = await registerAccount(api, displayName, email, password, onProgress);
      return {
        recoveryCode: registered.recoveryCode.formatted(),
        finish: async () => {
          const out = await registered.finish();
          schedule(out.tokens);
          unlocked(out.keys);
        },
      };
    },
    [api, schedule, unlocked],
  );

  const recover = useCallback(
    async (email: string, code: string, newPassword: string, onProgress?: Progress) => {
      const [{ resetPasswordWithCode }, { signInWithKeys }] = await Promise.all([
        recoveryFlows(),
        unlockFlows(),
      ]);
      const recovered = await resetPasswordWithCode(api, email, code, newPassword, onProgress);
      return {
        recoveryCode: recovered.recoveryCode.formatted(),
        finish: async (finishProgress?: Progress) => {
          const out = await signInWithKeys(api, email, recovered.passwordKeys, finishProgress);
          schedule(out.tokens);
          unlocked(out.keys);
        },
      };
    },
    [api, schedule, unlocked],
  );

  const resetAccount = useCallback(
    async (email: string, resetCode: string, newPassword: string, onProgress?: Progress) => {
      const flows = await resetFlows();
      const reset = await flows.resetAccount(api, email, resetCode, newPassword, onProgress);
      return {
        recoveryCode: reset.recoveryCode.formatted(),
        finish: async () => {
          const out = await reset.finish();
          schedule(out.tokens);
          unlocked(out.keys);
        },
      };
    },
    [api, schedule, unlocked],
  );

  const signUp = useCallback(
    async (displayName: string, passphrase: string, onProgress?: Progress) => {
      const { signUpWithProvider } = await providerSignupFlows();
      const out = await signUpWithProvider(api, displayName, passphrase, onProgress);
      return {
        recoveryCode: out.recoveryCode.formatted(),
        finish: () => {
          schedule(out.tokens);
          unlocked(out.keys);
          return Promise.resolve();
        },
      };
    },
    [api, schedule, unlocked],
  );

  const lockedAs = state.status === "locked" ? state : null;

  const unlock = useCallback(
    async (secret: string, onProgress?: Progress) => {
      if (lockedAs === null) throw new Error("unlock outside the locked state");
      const { unlockWithSecret } = await unlockFlows();
      unlocked(await unlockWithSecret(api, lockedAs.userId, lockedAs.deviceId, secret, onProgress));
    },
    [api, lockedAs, unlocked],
  );

  const recoverLocked = useCallback(
    async (code: string, newSecret: string, onProgress?: Progress) => {
      const [me, { resetPasswordWithCode }] = await Promise.all([api.me(), recoveryFlows()]);
      const recovered = await resetPasswordWithCode(api, me.email, code, newSecret, onProgress);
      // The reset ended this session on the server: no refresh may find that out and sign out
      // before the new recovery code was seen.
      if (refreshTimer.current !== null) window.clearTimeout(refreshTimer.current);
      api.setAccessToken(null);
      return {
        recoveryCode: recovered.recoveryCode.formatted(),
        finish: () => {
          signedOut(false);
          return Promise.resolve();
        },
      };
    },
    [api, signedOut],
  );

  const logout = useCallback(
    async (everywhere = false) => {
      try {
        await api.logout(everywhere);
      } finally {
        signedOut(false);
      }
    },
    [api, signedOut],
  );

  const lost = useCallback(() => {
    api.setAccessToken(null);
    signedOut(true);
  }, [api, signedOut]);

  const value = useMemo(
    () => ({
      state,
      api,
      login,
      register,
      recover,
      resetAccount,
      signUp,
      unlock,
      recoverLocked,
      updateKeys: unlocked,
      logout,
      lost,
    }),
    [
      state,
      api,
      login,
      register,
      recover,
      resetAccount,
      signUp,
      unlock,
      recoverLocked,
      unlocked,
      logout,
      lost,
    ],
  );
  return <SessionContext value={value}>{children}</SessionContext>;
}
