/** Server state for requests and blocking: the block list and the actions that change them. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";

import { useSession } from "@/session/session";

export function useBlocks() {
  const { api } = useSession();
  return useQuery({ queryKey: ["blocks"], queryFn: () => api.blocks() });
}

export interface ConsentActions {
  readonly accept: () => Promise<void>;
  readonly decline: () => Promise<void>;
  readonly hide: () => Promise<void>;
  readonly leave: () => Promise<void>;
  readonly setBlocked: (userId: string, blocked: boolean) => Promise<void>;
}

/** The actions on conversation `id`; each refreshes what it changes once the server answered. */
export function useConsentActions(id: string): ConsentActions {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const refresh = useCallback(
    async (...keys: string[][]) => {
      await Promise.all(keys.map((queryKey) => queryClient.invalidateQueries({ queryKey })));
    },
    [queryClient],
  );
  return {
    accept: async () => {
      await api.acceptConversation(id);
      // Read positions of the others show once we accepted (receipts flow both ways now).
      await refresh(["conversations"], ["members", id]);
    },
    decline: async () => {
      await api.declineConversation(id);
      await refresh(["conversations"]);
    },
    hide: async () => {
      await api.setConversationHidden(id, true);
      await refresh(["conversations"]);
    },
    leave: async () => {
      await api.leaveDm(id);
      await refresh(["conversations"]);
    },
    setBlocked: async (userId, blocked) => {
      await api.setBlocked(userId, blocked);
      // Blocking hides the DM with them; unblocking brings it back as a request.
      await refresh(["blocks"], ["conversations"]);
    },
  };
}
