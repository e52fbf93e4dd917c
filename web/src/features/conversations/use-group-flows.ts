/**
 * The group flows for components: signed membership changes with this browser's unlocked device
 * key (`@/session/group-membership`, loaded on first use with the crypto core), then the member
 * and conversation lists refetched.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useMemo } from "react";

import { useSession } from "@/session/session";
import { useUnlockedKeys, type UnlockedKeys } from "@/session/unlocked-keys";

const flows = () => import("@/session/group-membership");

export interface GroupFlows {
  createGroup(name: string, memberIds: readonly string[]): Promise<string>;
  addMembers(groupId: string, userIds: readonly string[]): Promise<void>;
  removeMember(groupId: string, userId: string): Promise<void>;
  setRole(groupId: string, userId: string, role: "admin" | "member"): Promise<void>;
  leaveGroup(groupId: string): Promise<void>;
  renameGroup(groupId: string, name: string): Promise<void>;
}

class KeysLocked extends Error {
  override readonly name = "DeviceNotCertifiedHere";
}

export function useGroupFlows(): GroupFlows {
  const { api, state } = useSession();
  const unlocked = useUnlockedKeys();
  const queryClient = useQueryClient();
  const keys: UnlockedKeys | null = unlocked ?? (state.status === "authenticated" ? state.keys : null);

  return useMemo(() => {
    const need = (): UnlockedKeys => {
      if (keys === null) throw new KeysLocked("the keys are locked");
      return keys;
    };
    const refresh = async (groupId: string) => {
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ["members", groupId] }),
        queryClient.invalidateQueries({ queryKey: ["conversations"] }),
        queryClient.invalidateQueries({ queryKey: ["conversation", groupId] }),
        queryClient.invalidateQueries({ queryKey: ["membership", groupId] }),
      ]);
    };
    return {
      async createGroup(name, memberIds) {
        const id = await (await flows()).createGroup(api, need(), name, memberIds);
        await queryClient.invalidateQueries({ queryKey: ["conversations"] });
        return id;
      },
      async addMembers(groupId, userIds) {
        await (await flows()).addMembers(api, need(), groupId, userIds);
        await refresh(groupId);
      },
      async removeMember(groupId, userId) {
        await (await flows()).removeMember(api, need(), groupId, userId);
        await refresh(groupId);
      },
      async setRole(groupId, userId, role) {
        await (await flows()).setRole(api, need(), groupId, userId, role);
        await refresh(groupId);
      },
      async leaveGroup(groupId) {
        await (await flows()).leaveGroup(api, need(), groupId);
        // Not a member any more: nothing of the group is readable; forget what was cached.
        for (const key of ["members", "conversation", "membership"]) {
          queryClient.removeQueries({ queryKey: [key, groupId] });
        }
        await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      },
      async renameGroup(groupId, name) {
        await api.renameGroup(groupId, name);
        await refresh(groupId);
      },
    };
  }, [api, keys, queryClient]);
}
