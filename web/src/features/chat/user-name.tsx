/**
 * A user's display name. A long message list names the same few people hundreds of times (the
 * sender at each group start, "Seen by", notices): it looks each of them up once for every name
 * inside it (`UserNames`), instead of one query observer per name, which cost more to mount and
 * subscribe than the rows themselves.
 */
import { useQueries } from "@tanstack/react-query";
import { createContext, use, useMemo, type ReactNode } from "react";

import { useUser } from "@/api/queries";
import { useSession } from "@/session/session";

/** user id → display name (undefined while it loads), for the ids an enclosing list looks up. */
const KnownNames = createContext<ReadonlyMap<string, string | undefined> | null>(null);

export function UserName({ userId }: { userId: string }) {
  const names = use(KnownNames);
  if (names?.has(userId) === true) return <>{names.get(userId) ?? "…"}</>;
  return <QueriedUserName userId={userId} />;
}

function QueriedUserName({ userId }: { userId: string }) {
  const user = useUser(userId);
  return <>{user.data?.display_name ?? "…"}</>;
}

const displayNames = (results: readonly { readonly data?: { readonly display_name: string } | undefined }[]) =>
  results.map((r) => r.data?.display_name);

/**
 * Looks up `userIds` (the same queries as `useUser`) for every `UserName` inside. Keep the array
 * the same while the ids are: a new map re-renders every name.
 */
export function UserNames({ userIds, children }: { userIds: readonly string[]; children: ReactNode }) {
  const { api } = useSession();
  // Structurally shared by the query library: the same array until a name changes.
  const loaded = useQueries({
    queries: userIds.map((id) => ({
      queryKey: ["user", id],
      queryFn: () => api.user(id),
      staleTime: 5 * 60_000,
    })),
    combine: displayNames,
  });
  const names = useMemo(() => new Map(userIds.map((id, i) => [id, loaded[i]])), [userIds, loaded]);
  return <KnownNames value={names}>{children}</KnownNames>;
}
