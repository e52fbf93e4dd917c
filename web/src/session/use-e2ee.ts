/** The signed-in user's end-to-end encryption for components (loaded on first use). */
import { useEffect, useState, useSyncExternalStore } from "react";

import type { TrustSnapshot } from "@/session/contact-trust";
import type { E2ee } from "@/session/e2ee";
import { useSession } from "@/session/session";
import { useEngine } from "@/store/react";

export function useE2ee(enabled = true): E2ee | null {
  const { api } = useSession();
  const engine = useEngine();
  const [e2ee, setE2ee] = useState<E2ee | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    void import("@/session/e2ee").then((m) => {
      if (live) setE2ee(m.privateMessagingFor(api, engine.userId));
    });
    return () => {
      live = false;
    };
  }, [api, engine.userId, enabled]);
  return enabled ? e2ee : null;
}

const EMPTY: TrustSnapshot = { verified: {}, notices: [], blocked: {} };
const noop = () => () => undefined;

export function useTrust(e2ee: E2ee | null): TrustSnapshot {
  return useSyncExternalStore(
    e2ee?.trust.subscribe ?? noop,
    () => e2ee?.trust.getSnapshot() ?? EMPTY,
    () => EMPTY,
  );
}
