/** TanStack Query hooks over the API client (server state). */
import { useQuery } from "@tanstack/react-query";

import { useSession } from "@/session/session";

export function useConversations() {
  const { api } = useSession();
  return useQuery({ queryKey: ["conversations"], queryFn: () => api.conversations() });
}

export function useConversation(id: string) {
  const { api } = useSession();
  return useQuery({ queryKey: ["conversation", id], queryFn: () => api.conversation(id) });
}

export function useMembers(id: string) {
  const { api } = useSession();
  return useQuery({ queryKey: ["members", id], queryFn: () => api.members(id) });
}

export function useUser(id: string) {
  const { api } = useSession();
  return useQuery({
    queryKey: ["user", id],
    queryFn: () => api.user(id),
    staleTime: 5 * 60_000,
  });
}

export function useMe() {
  const { api } = useSession();
  return useQuery({ queryKey: ["me"], queryFn: () => api.me(), staleTime: 5 * 60_000 });
}

export function useRoomSearch(q: string) {
  const { api } = useSession();
  return useQuery({ queryKey: ["rooms", q], queryFn: () => api.searchRooms(q) });
}

/** The caller's devices; polled so a device certified or revoked elsewhere shows up. */
export function useDevices() {
  const { api } = useSession();
  return useQuery({ queryKey: ["devices"], queryFn: () => api.devices(), refetchInterval: 15_000 });
}
