/** React bindings: the engine of the signed-in user, and selectors over its store. */
import { useQueryClient } from "@tanstack/react-query";
import { createContext, use, useEffect, useMemo, useSyncExternalStore, type ReactNode } from "react";

import { ChatEngine } from "@/store/chat-engine";
import type { ChatState } from "@/store/chat-store";
import { useSession } from "@/session/session";

const EngineContext = createContext<ChatEngine | null>(null);

export function EngineProvider({ userId, children }: { userId: string; children: ReactNode }) {
  const { api, lost } = useSession();
  const queryClient = useQueryClient();
  const engine = useMemo(
    () =>
      new ChatEngine(api, userId, {
      conversationsChanged: () => {
        void queryClient.invalidateQueries({ queryKey: ["conversations"] });
      },
      membersChanged: (id) => {
        void queryClient.invalidateQueries({ queryKey: ["members", id] });
      },
        authLost: lost,
      }),
    [api, userId, queryClient, lost],
  );

  useEffect(() => {
    engine.start();
    return () => {
      engine.stop();
    };
  }, [engine]);
  return <EngineContext value={engine}>{children}</EngineContext>;
}

export function useEngine(): ChatEngine {
  const engine = use(EngineContext);
  if (engine === null) throw new Error("useEngine outside <EngineProvider>");
  return engine;
}

export function useChat<T>(selector: (state: ChatState) => T): T {
  const engine = useEngine();
  return useSyncExternalStore(engine.store.subscribe, () => selector(engine.store.getState()));
}
