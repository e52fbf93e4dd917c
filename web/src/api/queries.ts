/** TanStack Query hooks over the API client (server state). */
import { useQueries, useQuery } from "@tanstack/react-query";

import type { ConversationSummary } from "@/api/types";
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

/** The sign-in providers this server offers (an empty list when none is configured). */
export function useProviders() {
  const { api } = useSession();
  return useQuery({
    queryKey: ["providers"],
    queryFn: async () => (await api.providers()).providers,
    staleTime: 10 * 60_000,
  });
}

/** Whether the account has a password, and the providers linked to it. */
export function useSignInMethods() {
  const { api } = useSession();
  return useQuery({ queryKey: ["sign-in-methods"], queryFn: () => api.signInMethods() });
}

/** Which secret unlocks the vault: "password", or a provider account's "passphrase". */
export function useSecretKind() {
  const { api } = useSession();
  return useQuery({
    queryKey: ["vault-kdf"],
    queryFn: () => api.vaultKdf(),
    select: (kdf) => kdf.secret,
    staleTime: 5 * 60_000,
  });
}

/** People by display name or exact email (nothing is asked for an empty query). */
export function useUserSearch(q: string) {
  const { api } = useSession();
  const query = q.trim();
  return useQuery({
    queryKey: ["user-search", query],
    queryFn: () => api.searchUsers(query),
    enabled: query !== "",
    staleTime: 30_000,
  });
}

// --- conversation names: a DM is named after its partner ------------------------------------

/** `useMembers` / `useUser` (same query keys, so the cache is shared) that can wait. */
function useMembersIf(id: string, enabled: boolean) {
  const { api } = useSession();
  return useQuery({ queryKey: ["members", id], queryFn: () => api.members(id), enabled });
}

function useUserIf(id: string, enabled: boolean) {
  const { api } = useSession();
  return useQuery({ queryKey: ["user", id], queryFn: () => api.user(id), enabled, staleTime: 5 * 60_000 });
}

/** The other user of a DM, for `me` (undefined while the members load, or for other kinds). */
export function useDmPartner(
  id: string,
  kind: ConversationSummary["kind"] | undefined,
  me: string,
): string | undefined {
  const members = useMembersIf(id, kind === "dm");
  if (kind !== "dm" || members.data === undefined) return undefined;
  const others = members.data.members.filter((m) => m.user_id !== me);
  return others[0]?.user_id ?? me;
}

function useUserMaybe(userId: string | undefined): string | undefined {
  const user = useUserIf(userId ?? "", userId !== undefined);
  return userId === undefined ? undefined : user.data?.display_name;
}

/** A conversation's name: the partner's for a DM, otherwise its own ("Unnamed group" if none). */
export function useConversationName(
  id: string,
  kind: ConversationSummary["kind"] | undefined,
  name: string | null | undefined,
  me: string,
): string {
  const partner = useDmPartner(id, kind, me);
  const partnerName = useUserMaybe(partner);
  if (kind === "dm") return partnerName ?? "…";
  if (name != null && name !== "") return name;
  return kind === "group" ? "Unnamed group" : "…";
}

export interface DmPartner {
  readonly userId: string;
  /** Undefined while the name loads. */
  readonly name: string | undefined;
}

/** The partner of each DM among `conversations` (conversation id → partner), as they load. */
export function useDmPartners(
  conversations: readonly Pick<ConversationSummary, "id" | "kind">[] | undefined,
  me: string,
): ReadonlyMap<string, DmPartner> {
  const { api } = useSession();
  const dmIds = (conversations ?? []).filter((c) => c.kind === "dm").map((c) => c.id);
  const members = useQueries({
    queries: dmIds.map((id) => ({ queryKey: ["members", id], queryFn: () => api.members(id) })),
  });
  const partnerOf = new Map<string, string>();
  dmIds.forEach((id, i) => {
    const list = members[i]?.data?.members;
    if (list === undefined) return;
    partnerOf.set(id, list.find((m) => m.user_id !== me)?.user_id ?? me);
  });
  const partnerIds = [...new Set(partnerOf.values())];
  const users = useQueries({
    queries: partnerIds.map((id) => ({
      queryKey: ["user", id],
      queryFn: () => api.user(id),
      staleTime: 5 * 60_000,
    })),
  });
  const names = new Map(partnerIds.map((id, i) => [id, users[i]?.data?.display_name]));
  return new Map([...partnerOf].map(([conv, userId]) => [conv, { userId, name: names.get(userId) }]));
}
